"""Desktop side of the plugin in a GUI-enabled QgsApplication (run by test_gui.py in a subprocess).

Prints one JSON line of observations; module names as arguments are made unimportable.
"""

import json
import sys
from pathlib import Path

for missing in sys.argv[1:]:  # e.g. 'optuna': simulate a QGIS without it
    sys.modules[missing] = None
REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), "/usr/share/qgis/python/plugins"]

from qgis.core import QgsApplication, QgsProject, QgsVectorLayer  # noqa: E402
from qgis.gui import QgsMessageBar  # noqa: E402
from qgis.PyQt.QtWidgets import QMainWindow, QPushButton  # noqa: E402


class RecordingIface:
    """The few QgisInterface calls the plugin makes, recorded."""

    def __init__(self):
        self.window = QMainWindow()
        self.bar = QgsMessageBar()
        self.toolbar_actions, self.vector_menu = [], []
        self.layer = None

    def mainWindow(self):  # noqa: N802
        return self.window

    def messageBar(self):  # noqa: N802
        return self.bar

    def activeLayer(self):  # noqa: N802
        return self.layer

    def addToolBarIcon(self, action):  # noqa: N802
        self.toolbar_actions.append(action)

    def removeToolBarIcon(self, action):  # noqa: N802
        self.toolbar_actions.remove(action)

    def addPluginToVectorMenu(self, menu, action):  # noqa: N802
        self.vector_menu.append((menu, action))

    def removePluginVectorMenu(self, menu, action):  # noqa: N802
        self.vector_menu.remove((menu, action))


def main():
    app = QgsApplication([], True)
    app.initQgis()
    from processing.core.Processing import Processing

    Processing.initialize()
    import wrok_plugin
    from wrok_plugin.gui.write_back_action import ClusterLayerDialog

    iface = RecordingIface()
    plugin = wrok_plugin.classFactory(iface)
    plugin.initGui()
    seen = {
        "provider": QgsApplication.processingRegistry().providerById("wrok") is not None,
        "toolbar": [a.text() for a in iface.toolbar_actions],
        "vector_menu": [(m, a.text()) for m, a in iface.vector_menu],
        "install_buttons": [b.text() for b in iface.bar.findChildren(QPushButton) if b.text() == "Install…"],
        "install_tooltip": next((b.toolTip() for b in iface.bar.findChildren(QPushButton)
                                 if b.text() == "Install…"), ""),
    }
    if len(sys.argv) > 1:  # a missing package: the action says so in the bar instead of clustering
        plugin.gui.cluster_active_layer()
        seen["bar_texts"] = [item.text() for item in iface.bar.items()]
    layer = QgsVectorLayer(str(REPO / "resources" / "demo_population.gpkg"), "demo", "ogr")
    QgsProject.instance().addMapLayer(layer)
    dialog = ClusterLayerDialog(layer)
    dialog.weight_box.setField("population")
    dialog.target_weight.setValue(150)
    dialog.max_weight.setValue(0)  # shown as 'no cap'
    dialog.selected_only.setChecked(True)
    settings = dialog.settings()
    seen["dialog"] = [settings.weight_field, settings.target_weight, settings.max_weight, settings.selected_only]
    plugin.unload()
    seen["after_unload"] = [len(iface.toolbar_actions), len(iface.vector_menu),
                            QgsApplication.processingRegistry().providerById("wrok") is None]
    print("SEEN " + json.dumps(seen))


if __name__ == "__main__":
    main()
