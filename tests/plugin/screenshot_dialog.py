"""Save the algorithm's parameter dialog as a PNG (run under xvfb-run; used in the docs).

usage: xvfb-run -a .venv/bin/python tests/plugin/screenshot_dialog.py docs/images/screenshots/dialog.png
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), "/usr/share/qgis/python/plugins"]

from qgis.core import QgsApplication, QgsProject, QgsVectorLayer  # noqa: E402


def main(png_path):
    app = QgsApplication([], True)
    app.initQgis()
    from processing.core.Processing import Processing
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from qgis.gui import QgsCollapsibleGroupBox
    from qgis.PyQt import sip
    from qgis.PyQt.QtWidgets import QGroupBox

    import wrok_plugin

    Processing.initialize()
    plugin = wrok_plugin.classFactory(None)
    plugin.initProcessing()
    layer = QgsVectorLayer(str(REPO / "resources" / "demo_population.gpkg"), "demo_population", "ogr")
    QgsProject.instance().addMapLayer(layer)
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("wrok:tunedclustering")
    dialog = AlgorithmDialog(algorithm)
    dialog.mainWidget().setParameters({"INPUT": layer.id(), "WEIGHT_FIELD": "population"})
    dialog.resize(1000, 1150)
    dialog.show()
    app.processEvents()
    for box in dialog.findChildren(QGroupBox, "grpAdvanced"):  # show the advanced parameters too
        sip.cast(box, QgsCollapsibleGroupBox).setCollapsed(False)
    for _ in range(20):
        app.processEvents()
    dialog.grab().save(png_path, "PNG")
    os._exit(0)  # QGIS 3.22 can crash tearing down a Processing dialog at exit; the PNG is saved


if __name__ == "__main__":
    main(sys.argv[1])
