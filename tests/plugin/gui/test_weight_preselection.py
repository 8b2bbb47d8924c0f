"""The weight field is preselected in the Processing dialog (GUI QgsApplication in a subprocess, offscreen)."""

import json
import subprocess
import sys

from ..conftest import REPO

DIALOG_CHECK = f"""
import json, sys
sys.path[:0] = [{str(REPO)!r}, "/usr/share/qgis/python/plugins"]
from qgis.core import QgsApplication, QgsProject, QgsVectorLayer
app = QgsApplication([], True)
app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
import wrok_plugin
plugin = wrok_plugin.classFactory(None)
plugin.initProcessing()
from processing.gui.AlgorithmDialog import AlgorithmDialog
from processing.gui.BatchAlgorithmDialog import BatchAlgorithmDialog
seen = {{}}
for fields in sys.argv[1:]:
    layer = QgsVectorLayer("Point?crs=EPSG:4326&field=" + fields, "layer", "memory")
    QgsProject.instance().addMapLayer(layer)
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("wrok:tunedclustering")
    seen[fields] = AlgorithmDialog(algorithm, False, None).createProcessingParameters().get("WEIGHT_FIELD")
    QgsProject.instance().removeMapLayer(layer.id())
BatchAlgorithmDialog(QgsApplication.processingRegistry().createAlgorithmById("wrok:tunedclustering"))
print("SEEN " + json.dumps(seen))
"""


def test_dialog_preselects_a_weight_like_numeric_field(qgis_process_env):
    layers = ["name:string&field=households:integer", "pop_2020:double&field=weight:double",
              "Population:double", "population:string", "name:string"]
    done = subprocess.run([sys.executable, "-c", DIALOG_CHECK, *layers], env=qgis_process_env,
                          capture_output=True, text=True, timeout=120)
    line = next((line for line in done.stdout.splitlines() if line.startswith("SEEN ")), None)
    assert line, done.stderr[-2000:]
    assert json.loads(line[5:]) == {
        layers[0]: "households",
        layers[1]: "weight",  # an exact name beats a prefix
        layers[2]: "Population",
        layers[3]: None,  # text, not a number: nothing preselected, so every feature weighs 1
        layers[4]: None,
    }
