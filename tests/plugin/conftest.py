"""Load the plugin the way qgis_process does: classFactory(iface).initProcessing()."""

import os
import sys
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
