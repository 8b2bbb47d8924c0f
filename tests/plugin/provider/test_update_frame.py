"""The clustering algorithm's PREVIOUS_CLUSTER_FIELD: a previous run's layer updated for new weights."""

import numpy as np
import pytest
from qgis.core import NULL, QgsProcessingException, QgsProcessingFeedback

from ..helpers import column, engine_params, run_algorithm
from ..layers import point_layer, sample_points


class Messages(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.infos = []

    def pushInfo(self, info):
        self.infos.append(info)
        super().pushInfo(info)


def _grown_previous_run(xy, weights):
    """The first run's output layer with its population grown by 30 % in the west and one feature new (NULL ID)."""
    layer = run_algorithm(point_layer(xy, weights))["OUTPUT"]
    grown = weights.copy()
    grown[xy[:, 0] < np.quantile(xy[:, 0], 0.3)] *= 1.3
    fields = layer.fields()
    assert layer.startEditing()
    for feature, value in zip(layer.getFeatures(), grown):
        layer.changeAttributeValue(feature.id(), fields.indexOf("population"), float(value))
    first = next(layer.getFeatures()).id()
    layer.changeAttributeValue(first, fields.indexOf("cluster_id"), NULL)
    assert layer.commitChanges()
    return layer, grown


def test_an_update_matches_the_engine_and_logs_what_changed(wrok_plugin):
    from core import cluster

    xy, weights = sample_points(n=1200, seed=4)
    layer, grown = _grown_previous_run(xy, weights)
    previous = [None if value == NULL else value for value in column(layer, "cluster_id")]
    assert previous[0] is None and all(previous[1:])
    feedback = Messages()
    results = run_algorithm(layer, feedback, PREVIOUS_CLUSTER_FIELD="cluster_id")
    expected = cluster(xy[:, 0], xy[:, 1], grown, engine_params(), previous_ids=previous)
    ids = column(results["OUTPUT"], "cluster_id")
    assert ids == list(expected.cluster_id)
    changed = np.mean([new != old for new, old in zip(ids[1:], previous[1:])])
    assert 0 < changed < 0.5  # the growth moved some, most stay
    assert results["CLUSTER_COUNT"] == len(set(ids)) == results["OUTLINES"].featureCount()
    line = next(info for info in feedback.infos if info.startswith("Updated the previous frame"))
    assert f"{changed:.1%} of features" in line and "1 new feature(s)" in line


def test_a_previous_field_with_h3_input_is_refused(wrok_plugin):
    xy, weights = sample_points()
    layer = point_layer(xy, weights)
    with pytest.raises(QgsProcessingException, match="previous cluster field does not combine with an H3"):
        run_algorithm(layer, PREVIOUS_CLUSTER_FIELD="name", H3_FIELD="name")
