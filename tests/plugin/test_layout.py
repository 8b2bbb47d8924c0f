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
    from wrok_plugin import clustering

    assert "wrok_plugin.core" not in sys.modules
    assert os.path.dirname(core.__file__) == str(REPO / "core")
    assert clustering.STRATEGY_CHOICES is core.params.STRATEGIES  # the very module the CLI and Lambda import
    # core's ClusteringInputError, raised by the engine's validation, reaches Processing as a clear message
    with pytest.raises(QgsProcessingException, match="target weight must be > 0"):
        clustering.ClusterSettings(target_weight=-1).engine_params()
