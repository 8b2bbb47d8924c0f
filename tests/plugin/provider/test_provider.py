"""The provider loads like under qgis_process and describes the algorithm fully."""

from pathlib import Path

from qgis.core import QgsApplication, QgsProcessingAlgorithm

from core.params import DEFAULT_STRATEGY
from wrok_plugin.compat import PARAMETER_ADVANCED, PARAMETER_HIDDEN

from ..conftest import ALGORITHM_ID, REPO

ADVANCED = {"MIN_WEIGHT", "JOBS", "INVALID_GEOMETRIES", "INITIAL_TRIALS", "SUBSEQUENT_TRIALS", "REASSIGNMENT_RATIO",
            "STRATEGY", "SEED", "MEASURING_CRS", "CLUSTER_ID_FIELD", "TARGET_WEIGHT_FIELD", "TARGET_RADIUS_FIELD",
            "MAX_WEIGHT_FIELD", "MAX_RADIUS_FIELD", "CLUSTERS_FIELD", "PREVIOUS_CLUSTER_FIELD"}


def test_provider_and_algorithm_are_registered(wrok_plugin):
    provider = QgsApplication.processingRegistry().providerById("wrok")
    assert provider is wrok_plugin.provider
    assert Path(provider.svgIconPath()).is_file()
    algorithm = QgsApplication.processingRegistry().algorithmById(ALGORITHM_ID)
    assert algorithm.displayName() == "Tuned weight/radius clustering"
    assert algorithm.canExecute() == (True, "")
    assert not algorithm.flags() & QgsProcessingAlgorithm.Flag.FlagNoThreading  # runs in the background
    assert algorithm.flags() & QgsProcessingAlgorithm.Flag.FlagCanCancel


def test_advanced_parameters_are_flagged(wrok_plugin):
    algorithm = QgsApplication.processingRegistry().algorithmById(ALGORITHM_ID)
    advanced = {p.name() for p in algorithm.parameterDefinitions()
                if p.flags() & PARAMETER_ADVANCED and not p.flags() & PARAMETER_HIDDEN}
    assert advanced == ADVANCED
    hidden = {p.name() for p in algorithm.parameterDefinitions() if p.flags() & PARAMETER_HIDDEN}
    assert hidden == {"RANDOM_SEED", "CLUSTERS"}  # ids before 0.2, for saved models and scripts
    strategy = algorithm.parameterDefinition("STRATEGY")
    assert strategy.options()[strategy.defaultValue()] == DEFAULT_STRATEGY == "compact"


def test_help_explains_every_parameter_and_the_score(wrok_plugin):
    algorithm = QgsApplication.processingRegistry().algorithmById(ALGORITHM_ID)
    help_text = algorithm.shortHelpString()
    for parameter in algorithm.parameterDefinitions():
        label = parameter.description().split(" (")[0]
        assert label.lower() in help_text.lower(), f"help does not explain {label!r}"
    assert "wif * (r_target / w_target) * |w_target - median weight| + |r_target - median radius|" in help_text
    metadata = (REPO / "wrok_plugin" / "metadata.txt").read_text()
    assert algorithm.helpUrl().startswith("file://")  # its page of the shipped docs (test_headless), no web address
    assert not any(f"\n{field}=" in metadata for field in ("email", "tracker", "repository", "homepage"))
    assert "supportsQt6=True" in metadata and "qgisMaximumVersion=4.99" in metadata
    assert "hasProcessingProvider=yes" in metadata and "qgisMinimumVersion=3.22" in metadata
