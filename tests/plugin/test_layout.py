"""One engine module for plugin, CLI and Lambda, with no symlink a Windows checkout would break."""

import os
import sys

import pytest
from qgis.core import QgsProcessingException

from .conftest import REPO


def test_no_symlinks_in_the_checkout():
    linked = []
    for folder, subfolders, files in os.walk(REPO):
        subfolders[:] = [name for name in subfolders if not name.startswith(".") and name not in ("dist", "build")]
        linked += [os.path.join(folder, name) for name in subfolders + files if os.path.islink(os.path.join(folder, name))]
    assert linked == []


def test_the_plugin_uses_the_top_level_engine(wrok_plugin):
    import core
    import core.params
    from wrok_plugin.qgis_io import clustering

    assert "wrok_plugin.core" not in sys.modules
    assert os.path.dirname(core.__file__) == str(REPO / "core")
    assert clustering.STRATEGY_CHOICES is core.params.STRATEGIES  # the very module the CLI and Lambda import
    # core's ClusteringInputError, raised by the engine's validation, reaches Processing as a clear message
    with pytest.raises(QgsProcessingException, match="target weight must be > 0"):
        clustering.ClusterSettings(target_weight=-1).engine_params()


LOAD_ONLY = f"""
import json, sys
sys.path[:0] = [{str(REPO)!r}, "/usr/share/qgis/python/plugins"]
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
before = set(sys.modules)
import wrok_plugin
plugin = wrok_plugin.classFactory(None)
plugin.initProcessing()
for algorithm in QgsApplication.processingRegistry().providerById("wrok").algorithms():
    algorithm.canExecute()  # what the toolbox asks when it opens an algorithm
print("SEEN " + json.dumps(sorted({{name.split(".")[0] for name in set(sys.modules) - before}})))
"""


def test_loading_the_plugin_and_asking_can_execute_imports_nothing_heavy(qgis_process_env):
    import json
    import subprocess

    done = subprocess.run([sys.executable, "-c", LOAD_ONLY], env=qgis_process_env, capture_output=True, text=True,
                          timeout=120)
    line = next((line for line in done.stdout.splitlines() if line.startswith("SEEN ")), None)
    assert line, done.stderr[-2000:]
    loaded = set(json.loads(line[5:]))
    heavy = {"geopandas", "pyproj", "shapely", "pyogrio", "pandas", "pyarrow", "numpy", "scipy", "sklearn", "optuna",
             "boto3", "h3"}
    assert loaded & heavy == set(), loaded & heavy
    assert "core" in loaded  # the engine's parameters: light, and the same module the CLI uses
