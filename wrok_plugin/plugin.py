"""Plugin entry: the Processing provider always; the toolbar action only in the desktop."""

from qgis.core import QgsApplication


class WrokPlugin:
    def __init__(self, iface):
        from .dependencies import add_packages_folder, profile_packages_folder

        # Packages the install dialog put into this profile (appended: QGIS's own numpy always wins).
        add_packages_folder(profile_packages_folder(QgsApplication.qgisSettingsDirPath()))
        self.iface = iface
        self.provider = None
        self.gui = None

    def initProcessing(self):  # noqa: N802 - QGIS API name; qgis_process calls only this
        if self.provider is None:
            from .processing.provider import WrokProvider

            self.provider = WrokProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802 - QGIS API name
        self.initProcessing()
        from .gui.write_back_action import WrokGui  # imports qgis.gui: desktop only

        self.gui = WrokGui(self.iface)
        self.gui.install()

    def unload(self):
        if self.gui is not None:
            self.gui.remove()
            self.gui = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
