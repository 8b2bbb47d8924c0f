"""Loaded outputs get one colour per cluster and, for outlines, ID labels over each polygon."""

import numpy as np
from qgis.core import QgsPalLayerSettings

from wrok_plugin.qgis_io.styling import ClusterStyle

from ..layers import UTM_33N, memory_layer, squares


def test_outlines_get_a_colour_per_cluster_and_id_labels_over_the_polygon(qgis_app):
    _, polygons = squares(np.array([[500_000.0, 4_650_000.0], [501_000.0, 4_650_000.0], [502_000.0, 4_650_000.0]]))
    layer = memory_layer("Polygon", UTM_33N, polygons, [1.0, 2.0, 3.0])  # `name` is f0, f1, f2: the IDs here
    ClusterStyle.create("name", hulls=True).postProcessLayer(layer, None, None)
    assert layer.renderer().type() == "categorizedSymbol"
    assert [category.value() for category in layer.renderer().categories()] == ["f0", "f1", "f2"]
    assert layer.labelsEnabled()
    settings = layer.labeling().settings()
    assert settings.fieldName == "name"
    # QGIS 3.38+ also has a LabelPredefinedPointPosition.OverPoint, which `placement` refuses (a TypeError)
    assert settings.placement == QgsPalLayerSettings.Placement.OverPoint
