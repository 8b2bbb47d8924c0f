"""Running the algorithm and the engine on the same data."""

import numpy as np
from qgis import processing
from qgis.core import QgsProcessingFeedback

from .conftest import ALGORITHM_ID

QUICK = {"INITIAL_TRIALS": 10, "SUBSEQUENT_TRIALS": 5}  # keep runs to a second or two


def run_algorithm(input_, feedback=None, left_out=(), **overrides):
    """wrok:tunedclustering with quick settings, these overrides, and the parameters in left_out not given at all."""
    parameters = {"INPUT": input_, "WEIGHT_FIELD": "population", "TARGET_WEIGHT": 240, "TARGET_RADIUS": 1000,
                  "MAX_WEIGHT": 300, **QUICK, "OUTPUT": "TEMPORARY_OUTPUT", "OUTLINES": "TEMPORARY_OUTPUT"}
    parameters.update(overrides)
    for name in left_out:
        del parameters[name]
    return processing.run(ALGORITHM_ID, parameters, feedback=feedback or QgsProcessingFeedback())


def engine_params(**overrides):
    from core import ClusteringParams

    values = dict(desired_cluster_weight=240, desired_cluster_radius=1000, max_cluster_weight=300,
                  initial_max_trials=QUICK["INITIAL_TRIALS"], subsequent_max_trials=QUICK["SUBSEQUENT_TRIALS"])
    values.update(overrides)
    return ClusteringParams(**values)


# A Python without numpy has no shapely either (Debian's python3-shapely depends on python3-numpy), and QGIS 3.40's
# qgis.core imports shapely when it is there: simulating "numpy missing" must take shapely away too.
NEEDS = {"numpy": ("shapely",)}


def without(module: str) -> list:
    """The modules to make unimportable so that a Python looks as if `module` was never installed."""
    return [module, *NEEDS.get(module, ())]


def model_output_name(model) -> str:
    """A model's one output as QGIS names it: "child:output" on 3.22, from the output's description on 3.40."""
    (output,) = model.destinationParameterDefinitions()
    return output.name()


def column(layer, name):
    return [feature[name] for feature in layer.getFeatures()]


def radii_by_id(layer, id_field="cluster_id"):
    return {feature[id_field]: feature["radius_m"] for feature in layer.getFeatures()}


def engine_radii(result):
    table = result.clusters
    return {str(name): float(radius) for name, radius in zip(table["cluster_id"], table["radius_m"])}


def assert_same_radii(layer, result, tolerance_m=1e-6):
    got, expected = radii_by_id(layer), engine_radii(result)
    assert got.keys() == expected.keys()
    assert np.allclose([got[k] for k in expected], list(expected.values()), atol=tolerance_m, rtol=0)
