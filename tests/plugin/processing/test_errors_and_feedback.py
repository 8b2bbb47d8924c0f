"""Bad inputs give an actionable QgsProcessingException; progress is reported; cancel stops fast."""

import hashlib
import shutil

import numpy as np
import pytest
from qgis.core import QgsGeometry, QgsPointXY, QgsProcessingException, QgsProcessingFeedback

from ..conftest import REPO
from ..helpers import run_algorithm
from ..layers import UTM_33N, memory_layer, point_layer, sample_points


def layer_with_nulls(null_weights=0, null_geometries=0):
    xy, weights = sample_points(n=60)
    weights[:null_weights] = np.nan
    geometries = [QgsGeometry.fromPointXY(QgsPointXY(x, y)) for x, y in xy]
    for i in range(null_geometries):
        geometries[i] = QgsGeometry()
    return memory_layer("Point", UTM_33N, geometries, weights)


def line_layer():
    return memory_layer("LineString", UTM_33N, [QgsGeometry.fromWkt("LineString (0 0, 10 10)")], [1.0])


BAD_INPUTS = {
    "empty layer": (lambda: point_layer(np.zeros((0, 2)), []), {}, "no features to cluster"),
    "missing weight field": (lambda: point_layer(*sample_points(n=30)), {"WEIGHT_FIELD": "people"},
                             "'people' is not in the input layer. Numeric fields there: population, code"),
    "text weight field": (lambda: point_layer(*sample_points(n=30)), {"WEIGHT_FIELD": "name"},
                          "'name' holds string values, not numbers"),
    "null weights": (lambda: layer_with_nulls(null_weights=4), {}, "4 of 60 feature.s. have a NULL weight"),
    "null geometries": (lambda: layer_with_nulls(null_geometries=3), {}, "3 of 60 feature.s. have no geometry"),
    "table": (lambda: memory_layer("None", UTM_33N, [QgsGeometry()], [1.0]), {}, "no geometry column .it is a table."),
    "all weights zero": (lambda: point_layer(sample_points(n=30)[0], np.zeros(30)), {},
                         "every one of the 30 feature.s. weighs 0"),
    "measuring CRS in degrees": (lambda: point_layer(*sample_points(n=30)), {"MEASURING_CRS": "EPSG:4326"},
                                 "EPSG:4326 is geographic .degrees."),
    "unknown measuring CRS": (lambda: point_layer(*sample_points(n=30)), {"MEASURING_CRS": "EPSG:999999"},
                              "Measuring CRS 'EPSG:999999' is not a known coordinate reference system"),
    "huge trial count": (lambda: point_layer(*sample_points(n=30)), {"INITIAL_TRIALS": 99999999999},
                         "'Trials in the first pass' is 99999999999; it must be at most 2147483647"),
    "id field named like the weight field": (lambda: point_layer(*sample_points(n=30)),
                                             {"CLUSTER_ID_FIELD": "cluster_weight"},
                                             "cannot be named 'cluster_weight'"),
    "id field on a number field": (lambda: point_layer(*sample_points(n=30)), {"CLUSTER_ID_FIELD": "population"},
                                   "already has a field 'population' holding real values"),
    "parquet": (lambda: "../shared/data/grids.parquet", {},
                r"QGIS 3.22 cannot read Parquet \(no GDAL driver\)"),
    "layer CRS in feet": (lambda: point_layer(*sample_points(n=30), crs="EPSG:2227"), {},
                          r"EPSG:2227 measures in feet"),
    "max below target": (lambda: point_layer(*sample_points(n=30)), {"MAX_WEIGHT": 100},
                         r"max cluster weight \(100.0\) is below the target weight"),
    "negative weights": (lambda: point_layer(sample_points(n=30)[0], -np.ones(30)), {}, "negative weight"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_gives_clear_error(wrok_plugin, case, monkeypatch):
    monkeypatch.chdir(REPO)
    make_layer, overrides, message = BAD_INPUTS[case]
    with pytest.raises(QgsProcessingException, match=message):
        run_algorithm(make_layer(), **overrides)


class RecordingFeedback(QgsProcessingFeedback):
    def __init__(self, cancel_on=None):
        super().__init__()
        self.progress, self.texts, self.cancel_on, self.cancelled_at = [], [], cancel_on, None
        self.progressChanged.connect(self.progress.append)

    def setProgressText(self, text):  # noqa: N802 - Qt API
        self.texts.append(text)
        if self.cancel_on and self.cancel_on in text and self.cancelled_at is None:
            self.cancelled_at = len(self.progress)  # progress reports so far: counted, not timed
            self.cancel()
        super().setProgressText(text)


def test_progress_goes_through_read_cluster_write(wrok_plugin):
    feedback = RecordingFeedback()
    run_algorithm(point_layer(*sample_points()), feedback=feedback)
    assert feedback.texts[0] == "Reading features" and "Writing outputs" in feedback.texts
    # The engine's own stages come through, one line each, in plain words (not "pass 1: trials of 6").
    assert any(text.startswith("pass 1: tuning the number of clusters (") and text.endswith(" trials)")
               for text in feedback.texts)
    assert not any("trials of" in text for text in feedback.texts)
    thirds = {min(int(value // (100 / 3)), 2) for value in feedback.progress if value < 100}
    assert thirds == {0, 1, 2} and feedback.progress[-1] == pytest.approx(100)  # every step reports
    assert all(b >= a - 1e-9 for a, b in zip(feedback.progress, feedback.progress[1:]))


def file_digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cancel_mid_run_stops_fast_and_writes_nothing(wrok_plugin, tmp_path):
    from wrok_plugin.qgis_io.clustering import STRATEGY_CHOICES

    source = tmp_path / "population.gpkg"
    shutil.copy(REPO / "resources" / "demo_population.gpkg", source)
    before = file_digest(source)
    out, hulls = tmp_path / "out.gpkg", tmp_path / "hulls.gpkg"
    feedback = RecordingFeedback(cancel_on="trials")
    with pytest.raises(QgsProcessingException, match="Cancelled; nothing was written"):
        # Many slow trials: without the cancel this would run for minutes.
        run_algorithm(str(source), feedback=feedback, INITIAL_TRIALS=500, STRATEGY=STRATEGY_CHOICES.index("seed"),
                      UPDATE_INPUT=True, OUTPUT=str(out), CLUSTERS=str(hulls))
    # The run stops at its next poll: at most the trial in flight reports progress after the cancel.
    assert feedback.cancelled_at is not None and len(feedback.progress) - feedback.cancelled_at <= 2
    assert not out.exists() and not hulls.exists()
    assert file_digest(source) == before
