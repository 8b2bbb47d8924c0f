"""An algorithm that fails keeps none of the layers it opened alive.

QGIS holds on to the exception an algorithm raised, and a traceback holds every frame it passed
through: without wrok_plugin.processing.errors, the layer opened for an in-place update stays open (its file
too) until QGIS exits, and freeing it then, after GDAL has shut down, crashes QGIS.
"""

import gc
import shutil

import pytest
from qgis.core import QgsProcessingException, QgsVectorLayer
from qgis.PyQt import sip

from ..helpers import run_algorithm
from ..writeback.test_data_safety import DEMO, CancelWhileChecking


def live_layers(name):
    gc.collect()
    return [obj for obj in gc.get_objects()
            if isinstance(obj, QgsVectorLayer) and not sip.isdeleted(obj) and obj.name() == name]


def test_a_failed_in_place_update_leaves_its_layer_closed(wrok_plugin, tmp_path):
    path = tmp_path / "copy.gpkg"
    shutil.copy(DEMO, path)
    assert live_layers("wrok update") == []
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        run_algorithm(str(path), UPDATE_INPUT=True, feedback=CancelWhileChecking())
    assert live_layers("wrok update") == []
