"""A maximum weight left out of a model or qgis_process run is the default cap, not "no cap"; 0 asks for no cap.

A model input that is left out reaches the child algorithm as an empty value, so the algorithm must read
empty as the documented default (core.params.DEFAULTS), or every model run silently loses its cap.
"""

import subprocess

import numpy as np
from qgis import processing
from qgis.core import (
    QgsProcessingFeedback,
    QgsProcessingModelAlgorithm,
    QgsProcessingModelChildAlgorithm,
    QgsProcessingModelOutput,
    QgsProcessingModelParameter,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorLayer,
    QgsVectorFileWriter,
    QgsVectorLayer,
)
from qgis.core import (
    QgsProcessingModelChildParameterSource as Source,
)

from core.params import DEFAULTS

from ..conftest import ALGORITHM_ID
from ..helpers import model_output_name
from ..layers import point_layer, sample_points
from .test_headless import enabled_env  # noqa: F401  (module fixture)

CAP = DEFAULTS["max_cluster_weight"]
STATIC = {"WEIGHT_FIELD": "population", "TARGET_WEIGHT": 240, "TARGET_RADIUS": 1000, "INITIAL_TRIALS": 5,
          "SUBSEQUENT_TRIALS": 3, "RANDOM_SEED": 42}
HEAVY = "1 feature(s) alone outweigh the maximum weight"  # said only when a cap is in force


def points_with_one_heavy_feature():
    """The blobs plus one feature heavier than the cap on its own, which only a cap makes worth a warning."""
    xy, weights = sample_points()
    return point_layer(np.vstack([xy, xy[:1] + 50]), np.append(weights, 2 * CAP))


def capped_model() -> QgsProcessingModelAlgorithm:
    """points + optional max_weight (no default, as a user leaves it) -> wrok:tunedclustering -> clusters."""
    model = QgsProcessingModelAlgorithm("cap check", "wrok tests")
    model.addModelParameter(QgsProcessingParameterVectorLayer("points", "Points"), QgsProcessingModelParameter("points"))
    max_weight = QgsProcessingParameterNumber("max_weight", "Max weight", QgsProcessingParameterNumber.Type.Double,
                                              optional=True)
    model.addModelParameter(max_weight, QgsProcessingModelParameter("max_weight"))
    child = QgsProcessingModelChildAlgorithm(ALGORITHM_ID)
    child.setChildId("cluster")
    child.addParameterSources("INPUT", [Source.fromModelParameter("points")])
    child.addParameterSources("MAX_WEIGHT", [Source.fromModelParameter("max_weight")])
    for name, value in STATIC.items():
        child.addParameterSources(name, [Source.fromStaticValue(value)])
    output = QgsProcessingModelOutput("clusters", "Clusters")
    output.setChildOutputName("CLUSTERS")
    output.setChildId("cluster")
    child.setModelOutputs({"clusters": output})
    model.addChildAlgorithm(child)
    return model


def cluster_weights(layer) -> list:
    return sorted(round(feature["weight"], 6) for feature in layer.getFeatures())


class Warnings(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.lines = []

    def pushWarning(self, warning):
        self.lines.append(warning)
        super().pushWarning(warning)


def run_model(layer, **inputs):
    feedback = Warnings()
    model = capped_model()
    output = model_output_name(model)
    results = processing.run(model, {"points": layer, output: "TEMPORARY_OUTPUT", **inputs}, feedback=feedback)
    return cluster_weights(results[output]), " ".join(feedback.lines)


def test_left_out_max_weight_in_a_model_is_the_default_cap(wrok_plugin):
    layer = points_with_one_heavy_feature()
    left_out, left_out_warnings = run_model(layer)
    explicit, explicit_warnings = run_model(layer, max_weight=CAP)
    no_cap, no_cap_warnings = run_model(layer, max_weight=0)
    assert HEAVY in explicit_warnings and HEAVY not in no_cap_warnings  # the check tells a cap from none
    assert HEAVY in left_out_warnings
    assert left_out == explicit


def test_left_out_max_weight_through_qgis_process(enabled_env, tmp_path):  # noqa: F811
    points = tmp_path / "points.gpkg"
    written = QgsVectorFileWriter.writeAsVectorFormat(points_with_one_heavy_feature(), str(points), "UTF-8")
    assert written[0] == QgsVectorFileWriter.WriterError.NoError
    model_file = tmp_path / "cap_check.model3"
    model = capped_model()
    assert model.toFile(str(model_file))
    clusters = tmp_path / "clusters.gpkg"
    done = subprocess.run(["qgis_process.bin", "--json", "run", str(model_file), "--", f"points={points}",
                           f"{model_output_name(model)}={clusters}"], env=enabled_env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert HEAVY in done.stdout + done.stderr
    assert cluster_weights(QgsVectorLayer(str(clusters), "clusters", "ogr")) == run_model(
        points_with_one_heavy_feature(), max_weight=CAP)[0]


def test_left_out_max_weight_follows_a_target_above_the_suggested_cap(wrok_plugin):
    """Target 500 with the cap left out: the default cap is 625 (1.25 x target), not 300 below the target."""
    from ..helpers import column, run_algorithm

    layer = point_layer(*sample_points(n=400, seed=5))
    results = run_algorithm(layer, TARGET_WEIGHT=500, MAX_WEIGHT=None)
    weights = column(results["CLUSTERS"], "weight")
    assert max(weights) <= 625 + 1e-6 and max(weights) > 300
