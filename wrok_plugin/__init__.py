"""wrok QGIS plugin: the Processing provider and the write-back action for the wrok clustering engine."""


def classFactory(iface):  # noqa: N802 - the name QGIS looks for
    from .plugin import WrokPlugin

    return WrokPlugin(iface)
