"""Load the plugin the way qgis_process does: classFactory(iface).initProcessing()."""

import gc
import os
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # `import wrok_plugin` from the checkout

ALGORITHM_ID = "wrok:tunedclustering"


@pytest.fixture(scope="session")
def wrok_plugin(qgis_app, qgis_processing):
    from wrok_plugin import classFactory

    plugin = classFactory(None)  # no iface: the qgis_process path
    plugin.initProcessing()
    yield plugin
    plugin.unload()


@pytest.fixture(autouse=True)
def free_layers_while_qgis_runs():
    """After each test, empty the finished frames of ours that something still holds.

    QGIS keeps the last exception an algorithm raised through processing.run, and its traceback
    keeps the test's frames with their layers. Freed only at interpreter exit, after QGIS has
    shut GDAL down, those layers segfault the run (exit 139) although every test passed.
    """
    yield
    ours = (str(REPO / "tests"), str(REPO / "wrok_plugin"), str(REPO / "core"))
    for frame in [obj for obj in gc.get_objects() if isinstance(obj, types.FrameType)]:
        if frame.f_code.co_filename.startswith(ours):
            try:
                frame.clear()
            except RuntimeError:  # still running (this fixture's own caller chain)
                pass
    gc.collect()


@pytest.fixture(scope="module")  # a profile per test module: each enables the plugin in its own
def qgis_process_env(tmp_path_factory):
    """Environment for qgis_process.bin: throwaway profile, this checkout as plugin path, venv packages."""
    profile = tmp_path_factory.mktemp("qgis_profile")
    site_packages = next((REPO / ".venv" / "lib").glob("python3*/site-packages"), None)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(profile),
               QGIS_PLUGINPATH=str(REPO))
    if site_packages is not None:  # qgis_process embeds the system Python; the engine's packages live here
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site_packages), os.environ.get("PYTHONPATH")]))
    return env
