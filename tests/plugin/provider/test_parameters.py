"""Every algorithm's parameters come from core.registry: the same ids, labels, defaults, ranges and flags."""

from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingParameterNumber

from core.registry import ENGINE_PARAMETERS, PARAMETERS, REQUIRED
from wrok_plugin.compat import PARAMETER_ADVANCED, PARAMETER_HIDDEN
from wrok_plugin.processing.parameters import read_values

from ..layers import point_layer, sample_points

CLUSTERING = ("wrok:tunedclustering", "wrok:clusterraster", "wrok:submitaws")
REGISTRY_PARAMETERS = {**{algorithm: [entry.name for entry in ENGINE_PARAMETERS] for algorithm in CLUSTERING},
                       "wrok:tunedclustering": [entry.name for entry in ENGINE_PARAMETERS] + ["previous_field"],
                       "wrok:ppssample": ["n", "replacements", "sample_seed"], "wrok:classifyraster": ["classes", "seed"]}


def algorithm(algorithm_id):
    return QgsApplication.processingRegistry().algorithmById(algorithm_id)


def test_every_algorithm_declares_the_registry_parameters_as_the_registry_says(wrok_plugin):
    for algorithm_id, names in REGISTRY_PARAMETERS.items():
        for name in names:
            entry = PARAMETERS[name]
            definition = algorithm(algorithm_id).parameterDefinition(entry.qgis)
            assert definition is not None, (algorithm_id, entry.qgis)
            assert definition.description().startswith(entry.label), (algorithm_id, entry.qgis)
            assert bool(definition.flags() & PARAMETER_ADVANCED) == entry.advanced, (algorithm_id, entry.qgis)
            if entry.kind == "choice":
                assert definition.options() == list(entry.choices)
                continue
            if entry.kind == "field":
                assert definition.parentLayerParameterName() == "INPUT"
                continue
            expected = entry.suggested if entry.default is REQUIRED else entry.default
            assert definition.defaultValue() == expected, (algorithm_id, entry.qgis)
            assert definition.dataType() == (QgsProcessingParameterNumber.Type.Integer if entry.kind == "whole"
                                             else QgsProcessingParameterNumber.Type.Double)
            empty_allowed = entry.default is None and entry.default is not REQUIRED
            assert definition.flags() & definition.Flag.FlagOptional if empty_allowed else True
            for alias in entry.qgis_aliases:
                hidden = algorithm(algorithm_id).parameterDefinition(alias)
                assert hidden is not None and hidden.flags() & PARAMETER_HIDDEN, (algorithm_id, alias)


def test_every_clustering_algorithm_has_jobs_and_sentence_case_names(wrok_plugin):
    for algorithm_id in CLUSTERING:
        assert algorithm(algorithm_id).parameterDefinition("JOBS") is not None, algorithm_id
    for listed in QgsApplication.processingRegistry().providerById("wrok").algorithms():
        words = listed.displayName().split()
        assert all(word == word.lower() or word.isupper() or word.startswith("(") for word in words[1:]), words


def test_an_old_id_is_read_when_the_new_one_is_not_given(wrok_plugin):
    local = algorithm("wrok:tunedclustering")
    context = QgsProcessingContext()
    base = {"INPUT": point_layer(*sample_points(n=20)), "TARGET_WEIGHT": 240, "TARGET_RADIUS": 1000}
    assert read_values(local, {**base, "RANDOM_SEED": 7}, context, ["seed"]) == {"seed": 7}
    assert read_values(local, {**base, "SEED": 8, "RANDOM_SEED": 7}, context, ["seed"]) == {"seed": 8}
    assert read_values(local, base, context, ["seed", "max_weight"]) == {"seed": 42, "max_weight": None}
    assert read_values(local, {**base, "TARGET_WEIGHT": None}, context, ["target_weight"]) == {"target_weight": 240}
    assert read_values(local, {**base, "MAX_WEIGHT": None}, context, ["max_weight"]) == {"max_weight": None}
