"""An empty maximum weight means no cap and a single pass, as in the CLI and on AWS (core.registry); 0 the same.

A model input that is left out reaches the child algorithm as an empty value, and QGIS reads an empty or left-out
parameter as the definition's default: the registry's, empty. The dialog starts empty; 300 is a typical cap.
"""

import subprocess

import numpy as np
import pytest
from qgis import processing
from qgis.core import (
    QgsProcessingException,
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

from core.registry import PARAMETERS

from ..conftest import ALGORITHM_ID
from ..helpers import column, model_output_name
from ..layers import point_layer, sample_points
from .test_headless import enabled_env  # noqa: F401  (module fixture)

CAP = PARAMETERS["max_weight"].suggested
STATIC = {"WEIGHT_FIELD": "population", "TARGET_WEIGHT": 240, "TARGET_RADIUS": 1000, "INITIAL_TRIALS": 5,
          "SUBSEQUENT_TRIALS": 3, "SEED": 42}
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
    output.setChildOutputName("OUTLINES")
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


def test_left_out_max_weight_in_a_model_is_no_cap(wrok_plugin):
    layer = points_with_one_heavy_feature()
    left_out, left_out_warnings = run_model(layer)
    explicit, explicit_warnings = run_model(layer, max_weight=CAP)
    no_cap, no_cap_warnings = run_model(layer, max_weight=0)
    assert HEAVY in explicit_warnings and HEAVY not in no_cap_warnings  # the check tells a cap from none
    assert HEAVY not in left_out_warnings
    assert left_out == no_cap


def test_left_out_max_weight_through_qgis_process_is_no_cap(enabled_env, tmp_path):  # noqa: F811
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
    assert HEAVY not in done.stdout + done.stderr
    assert cluster_weights(QgsVectorLayer(str(clusters), "clusters", "ogr")) == run_model(
        points_with_one_heavy_feature(), max_weight=0)[0]


def test_max_weight_left_out_of_a_call_is_no_cap_and_one_pass(wrok_plugin):
    from ..helpers import run_algorithm

    layer = point_layer(*sample_points(n=400, seed=5))
    feedback = Warnings()
    results = run_algorithm(layer, feedback=feedback, TARGET_WEIGHT=500, left_out=("MAX_WEIGHT",))
    assert results["CLUSTERS_OVER_MAX"] == 0 and "over the maximum" not in " ".join(feedback.lines)
    assert set(column(results["OUTPUT"], "cluster_pass")) == {1}


def test_max_passes_without_a_cap_is_refused_before_the_run(wrok_plugin):
    from ..helpers import run_algorithm

    layer = point_layer(*sample_points(n=200, seed=5))
    with pytest.raises(QgsProcessingException, match="maximum passes \\(5\\) applies only with a maximum weight"):
        run_algorithm(layer, MAX_WEIGHT=0, MAX_PASSES=5)
