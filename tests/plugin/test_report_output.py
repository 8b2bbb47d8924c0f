"""wrok:tunedclustering's REPORT output: an HTML file the Results Viewer lists, matching the run."""

import base64
import re

from qgis.core import QgsApplication

from .conftest import ALGORITHM_ID
from .helpers import run_algorithm
from .layers import point_layer, sample_points


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
