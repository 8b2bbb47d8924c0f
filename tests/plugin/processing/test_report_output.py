"""wrok:tunedclustering's REPORT output: an HTML file the Results Viewer lists, matching the run."""

import base64
import re
import sys

import numpy as np
from qgis import processing
from qgis.core import QgsApplication

from ..conftest import ALGORITHM_ID, REPO
from ..helpers import QUICK, run_algorithm
from ..layers import point_layer, sample_points

sys.path.insert(0, str(REPO / "tests"))
from raster_data import CELL, NODATA, write_geotiff  # noqa: E402


def test_report_is_an_html_output_and_describes_the_run(wrok_plugin, tmp_path):
    algorithm = QgsApplication.processingRegistry().algorithmById(ALGORITHM_ID)
    assert algorithm.outputDefinition("REPORT").type() == "outputHtml"  # what the Results Viewer shows
    xy, weights = sample_points(n=300)
    report = tmp_path / "run.html"
    results = run_algorithm(point_layer(xy, weights), TARGET_WEIGHT=60, MAX_WEIGHT=80, REPORT=str(report))
    assert results["REPORT"] == str(report)
    text = report.read_text()
    hulls = list(results["CLUSTERS"].getFeatures())
    assert f"<td>all</td><td>{len(hulls)}</td>" in text and "EPSG:32633" in text
    pictures = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", text)
    assert len(pictures) == 3 and all(base64.b64decode(p).startswith(b"\x89PNG") for p in pictures)
    flagged = sum(abs(f["weight"] - 60) > 12 or f["weight"] > 80 for f in hulls)
    assert f"({flagged} of {len(hulls)})" in text


def test_no_report_unless_asked(wrok_plugin, tmp_path):
    xy, weights = sample_points(n=90)
    results = run_algorithm(point_layer(xy, weights), TARGET_WEIGHT=60, MAX_WEIGHT=80)
    assert not results.get("REPORT")


def test_raster_run_report_maps_the_dissolved_pixel_polygons(wrok_plugin, tmp_path):
    # Two blocks of 4 x 4 populated pixels: two clusters at target 16.
    values = np.full((6, 12), NODATA, dtype="float32")
    values[1:5, 1:5] = 1.0
    values[1:5, 7:11] = 1.0
    write_geotiff(tmp_path / "blocks.tif", values, (124.0, CELL, 0.0, 8.0, 0.0, -CELL))
    report = tmp_path / "raster.html"
    results = processing.run("wrok:clusterraster", {
        "INPUT": str(tmp_path / "blocks.tif"), "TARGET_WEIGHT": 16, "TARGET_RADIUS": 300, "MAX_WEIGHT": 20, **QUICK,
        "CLUSTERS": "TEMPORARY_OUTPUT", "CLUSTER_RASTER": str(tmp_path / "numbers.tif"), "REPORT": str(report)})
    assert results["REPORT"] == str(report) and results["CLUSTER_COUNT"] == 2
    text = report.read_text()
    assert "pixel squares dissolved per cluster" in text and "<td>all</td><td>2</td>" in text
    assert text.count("data:image/png;base64,") == 3 and "(0 of 2)" in text


def test_stratified_run_report_has_a_row_and_targets_per_stratum(wrok_plugin, tmp_path):
    xy, weights = sample_points(n=300)
    points = processing.run("native:fieldcalculator", {
        "INPUT": point_layer(xy, weights), "FIELD_NAME": "side", "FIELD_TYPE": 2, "FIELD_LENGTH": 10,
        "FORMULA": f"if($x < {float(np.median(xy[:, 0]))}, 'west', 'east')", "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    report = tmp_path / "strata.html"
    results = run_algorithm(points, TARGET_WEIGHT=60, MAX_WEIGHT=80, STRATUM_FIELDS=["side"], REPORT=str(report))
    text = report.read_text()
    hulls = list(results["CLUSTERS"].getFeatures())
    assert "Targets per stratum" in text
    for side in ("west", "east"):
        count = sum(1 for f in hulls if f["cluster_id"].startswith(f"{side}_"))
        assert count and f"<td>{side}</td><td>{count}</td>" in text
