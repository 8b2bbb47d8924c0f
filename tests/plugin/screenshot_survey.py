"""The survey tutorial's pictures of the QGIS GUI: the survey model in the graphical modeler and the
PPS sample of clusters dialog (run under xvfb-run).

usage: xvfb-run -a .venv/bin/python tests/plugin/screenshot_survey.py docs/images/screenshots
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), "/usr/share/qgis/python/plugins"]

from qgis.core import QgsApplication, QgsProcessingModelAlgorithm  # noqa: E402


def settle(app):
    for _ in range(30):
        app.processEvents()


def main(folder):
    folder = Path(folder)
    app = QgsApplication([], True)
    app.initQgis()
    from processing.core.Processing import Processing
    from processing.gui.AlgorithmDialog import AlgorithmDialog
    from processing.modeler.ModelerDialog import ModelerDialog

    import wrok_plugin

    Processing.initialize()
    plugin = wrok_plugin.classFactory(None)  # held: the provider goes with the plugin object
    plugin.initProcessing()
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(REPO / "resources" / "survey_frame.model3"))
    modeler = ModelerDialog.create(model)
    modeler.resize(1400, 800)
    modeler.show()
    settle(app)
    modeler.view().fitInView(modeler.view().scene().itemsBoundingRect().adjusted(-40, -40, 40, 40), 1)
    settle(app)
    modeler.view().grab().save(str(folder / "survey_model.png"), "PNG")

    algorithm = QgsApplication.processingRegistry().createAlgorithmById("wrok:ppssample")
    dialog = AlgorithmDialog(algorithm)
    dialog.resize(900, 1000)
    dialog.show()
    settle(app)
    dialog.grab().save(str(folder / "survey_pps_dialog.png"), "PNG")
    os._exit(0)  # QGIS 3.22 can crash tearing down Processing dialogs at exit; the PNGs are saved


if __name__ == "__main__":
    main(sys.argv[1])
