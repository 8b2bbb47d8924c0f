"""Features are streamed into arrays and read again for the outputs: every output feature is its own input
feature (geometry, attributes) with its own cluster, also for a selection read back in several chunks."""

import pytest
from qgis.core import QgsFeatureRequest, QgsProcessingException, QgsProcessingFeatureSourceDefinition, QgsProject

from wrok_plugin.qgis_io import layer_arrays as streaming

from ..helpers import column, run_algorithm
from ..layers import point_layer, sample_points
from ..writeback.test_data_safety import bowtie_layer


def rows(layer, names):
    return {f["name"]: (f.geometry().asWkt(), [f[n] for n in names]) for f in layer.getFeatures()}


def test_selection_read_back_in_chunks_gives_each_feature_its_own_cluster(wrok_plugin, monkeypatch):
    layer = bowtie_layer()  # polygons, some invalid: repaired for measuring, written as they were
    QgsProject.instance().addMapLayer(layer)
    try:
        chosen = [f.id() for f in layer.getFeatures()][::2]
        layer.selectByIds(chosen)
        monkeypatch.setattr(streaming, "READ_BACK_CHUNK", 7)  # several chunks, each fetched by ID
        chunks = []
        fetch = streaming._chunk_in_order
        monkeypatch.setattr(streaming, "_chunk_in_order", lambda source, ids: chunks.append(ids) or fetch(source, ids))
        selected = run_algorithm(QgsProcessingFeatureSourceDefinition(layer.id(), selectedFeaturesOnly=True),
                                 TARGET_WEIGHT=60, MAX_WEIGHT=80)["OUTPUT"]
        # The same features as a layer of their own, read in one pass in layer order.
        alone = layer.materialize(QgsFeatureRequest().setFilterFids(chosen))
        reference = run_algorithm(alone, TARGET_WEIGHT=60, MAX_WEIGHT=80)["OUTPUT"]
        originals = {f["name"]: f.geometry().asWkt() for f in layer.getFeatures() if f.id() in set(chosen)}
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
    assert len(chunks) == 7  # 45 selected: a selection comes in hash order, so it is fetched back by ID
    assert column(selected, "name") == sorted(originals, key=lambda name: int(name[1:]))  # ID order
    assert {name: wkt for name, (wkt, _) in rows(selected, []).items()} == originals  # not the repaired shapes
    assert rows(selected, ["population", "code", "cluster_id", "cluster_pass"]) == \
        rows(reference, ["population", "code", "cluster_id", "cluster_pass"])


def test_an_input_changed_before_writing_is_refused(wrok_plugin):
    xy, weights = sample_points(n=30)
    layer = point_layer(xy, weights)
    arrays = streaming.layer_arrays(layer.getFeatures(), layer.featureCount(), layer.fields(), layer.wkbType(),
                                    layer.crs(), "population", None, QgsProject.instance().transformContext())
    assert arrays.count == 30 and arrays.feature_ids == sorted(f.id() for f in layer.getFeatures())
    layer.dataProvider().deleteFeatures([arrays.feature_ids[4]])
    with pytest.raises(QgsProcessingException, match="The input changed while clustering"):
        list(streaming.features_in_order(layer, arrays))
