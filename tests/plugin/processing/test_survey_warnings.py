"""The survey walk-through in Processing: the log judges each cluster by its own stratum's targets (issue 20)."""

from qgis import processing
from qgis.core import QgsProcessingFeedback, QgsVectorLayer

from ..conftest import REPO

RESOURCES = REPO / "resources"
CAPS = {"North": 300.0, "South": 360.0}  # resources/demo_strata.csv


class Log(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.warnings, self.infos = [], []

    def pushWarning(self, text):  # noqa: N802 - QGIS API name
        self.warnings.append(text)
        super().pushWarning(text)

    def pushInfo(self, text):  # noqa: N802 - QGIS API name
        self.infos.append(text)
        super().pushInfo(text)


def test_cluster_raster_log_warns_only_about_clusters_over_their_own_cap(wrok_plugin, tmp_path):
    log = Log()
    results = processing.run("wrok:clusterraster", {
        "INPUT": str(RESOURCES / "demo_population.tif"), "STRATA_LAYER": str(RESOURCES / "demo_districts.geojson"),
        "STRATUM_FIELDS": ["district"], "STRATA_TABLE": str(RESOURCES / "demo_strata.csv"), "TARGET_WEIGHT": 240,
        "TARGET_RADIUS": 1000, "MAX_WEIGHT": 300, "CLUSTERS": str(tmp_path / "clusters.gpkg"),
        "CLUSTER_RASTER": str(tmp_path / "numbers.tif")}, feedback=log)
    clusters = QgsVectorLayer(results["CLUSTERS"], "clusters", "ogr")
    over = [f["cluster_id"] for f in clusters.getFeatures() if f["weight"] > CAPS[f["stratum"]]]
    south_over_300 = [f for f in clusters.getFeatures() if f["stratum"] == "South" and f["weight"] > 300]
    assert south_over_300  # the case the global cap of 300 used to warn about
    warned = [text for text in log.warnings if "over the max weight" in text]
    assert len(warned) == len(over) and all(any(name in text for text in warned) for name in over)
    stratum_lines = [text for text in log.infos if text.startswith("stratum South:")]
    assert stratum_lines and "of the stratum's target" in stratum_lines[0]


def test_max_passes_without_a_cap_is_warned(wrok_plugin):
    from ..helpers import run_algorithm
    from ..layers import point_layer, sample_points

    log = Log()
    run_algorithm(point_layer(*sample_points(n=120)), feedback=log, TARGET_WEIGHT=60, MAX_WEIGHT=0, MAX_PASSES=5)
    assert any("Maximum passes (5) has no effect without a maximum weight" in text for text in log.warnings)
