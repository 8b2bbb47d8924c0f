"""The HTML report: flagged clusters with reasons, per-stratum summary, embedded plots, CLI --report."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest
from core_helpers import REPO, run_cli
from synthetic import clumped_population_frame

from core import ClusteringParams
from core.engine.result import ClusteringResult, ClusterTable
from core.report.html import Targets, flag_clusters, write_report


def made_result(weights, radii, **params):
    """A result with known cluster figures (one feature per cluster is enough for the report)."""
    weights, radii = np.asarray(weights, float), np.asarray(radii, float)
    names = np.array([f"CLUSTER_{i + 1}" for i in range(len(weights))], dtype=object)
    table = ClusterTable({"cluster_id": names, "weight": weights, "n_features": np.ones(len(weights), int),
                          "radius_m": radii, "centroid_x": np.arange(len(weights)) * 1000.0,
                          "centroid_y": np.zeros(len(weights)), "cluster_pass": np.ones(len(weights), int)})
    values = dict(desired_cluster_weight=240.0, desired_cluster_radius=1000.0, max_cluster_weight=300.0)
    values.update(params)
    return ClusteringResult(cluster_id=names, cluster_weight=weights, cluster_pass=np.ones(len(weights), int),
                            clusters=table, params=ClusteringParams(**values))


def images(text):
    found = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", text)
    return [base64.b64decode(data) for data in found]


def test_flags_say_why_each_cluster_is_out():
    result = made_result([240, 100, 290, 350, 200], [500, 800, 900, 700, 1200])
    flagged = dict(flag_clusters(result.clusters, Targets(result)))
    assert sorted(flagged) == [1, 2, 3]
    assert flagged[1] == ["weight 100.0 is 58% below the target 240 (band 192 to 288)"]
    assert flagged[2] == ["weight 290.0 is 21% above the target 240 (band 192 to 288)"]
    assert flagged[3][1] == "weight 350.0 is over the max weight 300"


def test_report_holds_parameters_summary_per_stratum_plots_map_and_list(tmp_path):
    from matplotlib.image import imread

    result = made_result([240, 100, 290, 350, 200, 250], [500, 800, 900, 700, 1200, 300])
    square = np.array([[0, 0], [100, 0], [100, 100], [0, 100], [0, 0]], float)
    outlines = [square + [1000 * i, 0] for i in range(6)]
    strata = ["urban", "urban", "rural", "rural", "rural", "urban"]
    path = write_report(tmp_path / "report.html", result, outlines=outlines, cluster_strata=strata,
                        inputs={"input layer": "cells <test>"})
    text = path.read_text()
    assert "cells &lt;test&gt;" in text  # parameters, escaped
    assert "target weight (--target-weight)" in text and "desired_cluster_weight" not in text  # users' labels
    summary = text[text.index("<h2>Summary"):text.index("<h2>Cluster weights")]
    for stratum, count in (("all", 6), ("urban", 3), ("rural", 3)):
        assert f"<td>{stratum}</td><td>{count}</td>" in summary
    pictures = images(text)
    assert len(pictures) == 3  # histogram, scatter, map
    for picture in pictures:
        assert imread(io.BytesIO(picture), format="png").shape[1] > 300  # a real picture, pixels wide
    listed = text[text.index("Clusters out of band"):]
    assert "(3 of 6)" in listed and listed.count("<tr>") == 4  # header + 3 flagged
    assert "<td>CLUSTER_4</td><td>rural</td>" in listed and "over the max weight 300" in listed


def test_max_radius_is_reported_where_the_engine_has_one():
    result = made_result([240, 240], [500, 2500])
    object.__setattr__(result.params, "max_cluster_radius", 2000.0)  # the frame branch's hard cap
    assert dict(flag_clusters(result.clusters, Targets(result))) == {1: ["radius 2,500 m is over the max radius 2,000 m"]}


def test_report_module_loads_no_geopandas_shapely_or_pyproj():
    code = """
import sys
import numpy as np
from core import ClusteringParams
from core.engine.hulls import convex_hulls
from core.report.html import render_report
from core.engine.result import summarize
from core.engine.data import Features
x, y, w = np.array([0.0, 50, 900, 950]), np.array([0.0, 40, 0, 60]), np.array([100.0, 140, 120, 130])
result = summarize(Features(x, y, w), np.array(["A", "A", "B", "B"], dtype=object), np.ones(4, int),
                   ClusteringParams(desired_cluster_weight=240, desired_cluster_radius=100, max_cluster_weight=300))
render_report(result, outlines=convex_hulls(x, y, np.array([0, 0, 1, 1]), 2))
print(sorted(m for m in ("geopandas", "shapely", "pyproj", "pandas", "matplotlib.pyplot") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_cli_report_matches_the_summary_layer(tmp_path):
    source, out, hulls, report = (tmp_path / name for name in ("in.gpkg", "out.gpkg", "hulls.gpkg", "run.html"))
    clumped_population_frame(400, seed=2).to_file(source)
    done = run_cli("cluster", source, out, "--weight-field", "population", "--target-weight", 30,
                   "--target-radius", 1500, "--max-weight", 40, "--initial-trials", 5, "--subsequent-trials", 3,
                   "--summary", hulls, "--report", report, "--quiet")
    assert done.returncode == 0, done.stderr
    clusters = gpd.read_file(hulls, layer="hulls")
    text = report.read_text()
    assert f"<td>all</td><td>{len(clusters)}</td>" in text
    assert len(images(text)) == 3
    flagged = int(((np.abs(clusters["weight"] - 30) > 6) | (clusters["weight"] > 40)).sum())
    assert f"({flagged} of {len(clusters)})" in text


@pytest.mark.parametrize("name, message", [("run.txt", "ending in .html"), ("missing/run.html", "does not exist")])
def test_cli_refuses_a_bad_report_path_before_clustering(tmp_path, name, message):
    source = tmp_path / "in.gpkg"
    clumped_population_frame(50, seed=2).to_file(source)
    done = run_cli("cluster", source, tmp_path / "out.gpkg", "--target-weight", 10, "--target-radius", 500,
                   "--report", tmp_path / name, "--quiet")
    assert done.returncode == 2 and message in done.stderr
    assert not (tmp_path / "out.gpkg").exists()


def test_strata_with_their_own_targets_are_judged_against_them(tmp_path):
    result = made_result([100, 150, 300, 200], [400, 450, 1800, 1900])
    result.clusters["stratum"] = np.array(["urban", "urban", "rural", "rural"], dtype=object)
    urban = ClusteringParams(desired_cluster_weight=100, desired_cluster_radius=500, max_cluster_weight=130)
    rural = ClusteringParams(desired_cluster_weight=300, desired_cluster_radius=2000, max_cluster_weight=400)
    result.strata = {"urban": (urban, None), "rural": (rural, None)}  # as the strata engine returns them
    flagged = dict(flag_clusters(result.clusters, Targets(result)))
    assert flagged == {1: ["weight 150.0 is 50% above the target 100 (band 80 to 120)",
                           "weight 150.0 is over the max weight 130"],
                       3: ["weight 200.0 is 33% below the target 300 (band 240 to 360)"]}
    text = write_report(tmp_path / "strata.html", result).read_text()
    per_stratum = text[text.index("Targets per stratum"):text.index("<h2>Summary")]
    assert "<td>urban</td><td>100</td><td>500</td><td>130</td>" in per_stratum
    assert len(images(text)) == 2  # no outlines given: histogram and scatter only
