"""The survey-frame model (population -> clusters -> PPS sample -> report) by processing.run and qgis_process."""

import json
import subprocess
from pathlib import Path

import pytest
from qgis import processing
from qgis.core import QgsProcessingModelAlgorithm, QgsVectorLayer

from .conftest import REPO
from .layers import point_layer, sample_points

MODEL = Path(__file__).resolve().parent / "survey_frame.model3"
DEMO = REPO / "resources" / "demo_population.gpkg"


def check_chain(clusters, sample, members, report, sample_report, psus, replacements):
    """The sample comes from these clusters, the members from the sample, the reports describe both."""
    hulls = {f["cluster_id"]: f for f in clusters.getFeatures()}
    chosen = list(sample.getFeatures())
    assert sum(not f["replacement"] for f in chosen) == psus and sum(f["replacement"] for f in chosen) == replacements
    assert {f["cluster_id"] for f in chosen} <= set(hulls)
    total = sum(f["weight"] for f in hulls.values())
    for feature in chosen:
        if not feature["certainty"]:
            assert feature["inclusion_prob"] == pytest.approx(psus * feature["weight"] / total)
    assert members.featureCount() == sum(hulls[f["cluster_id"]]["n_features"] for f in chosen)
    text = Path(report).read_text()
    assert f"<td>all</td><td>{len(hulls)}</td>" in text and text.count("data:image/png;base64,") == 3
    text = Path(sample_report).read_text()
    assert f"PSUs ({psus} selected, {replacements} replacements)" in text
    assert all(f"<td>{f['cluster_id']}</td>" in text for f in chosen)


def test_model_runs_through_processing(wrok_plugin, tmp_path):
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(MODEL))
    xy, weights = sample_points(n=300)
    report, sample_report = tmp_path / "report.html", tmp_path / "sample.html"
    results = processing.run(model, {
        "population": point_layer(xy, weights), "weight_field": "population", "target_weight": 60,
        "target_radius": 1000, "max_weight": 80, "psus": 4, "replacements": 1, "seed": 3,
        "cluster:clusters": "TEMPORARY_OUTPUT", "cluster:report": str(report),
        "sample:sample": "TEMPORARY_OUTPUT", "sample:sample_members": "TEMPORARY_OUTPUT",
        "sample:sample_report": str(sample_report)})
    check_chain(results["cluster:clusters"], results["sample:sample"], results["sample:sample_members"],
                results["cluster:report"], results["sample:sample_report"], psus=4, replacements=1)


def test_model_runs_through_qgis_process(qgis_process_env, tmp_path):
    enable = subprocess.run(["qgis_process.bin", "plugins", "enable", "wrok_plugin"], env=qgis_process_env,
                            capture_output=True, text=True, timeout=300)
    assert enable.returncode == 0 or "already enabled" in enable.stdout + enable.stderr, enable.stderr  # shared profile
    out = {name: tmp_path / name for name in ("clusters.gpkg", "report.html", "sample.gpkg", "members.gpkg",
                                                  "sample.html")}
    done = subprocess.run(
        ["qgis_process.bin", "--json", "run", str(MODEL), "--", f"population={DEMO}", "weight_field=population",
         "target_weight=240", "target_radius=1000", "max_weight=300", "psus=8", "replacements=2", "seed=7",
         f"cluster:clusters={out['clusters.gpkg']}", f"cluster:report={out['report.html']}",
         f"sample:sample={out['sample.gpkg']}", f"sample:sample_members={out['members.gpkg']}",
         f"sample:sample_report={out['sample.html']}"],
        env=qgis_process_env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)["results"]
    assert results["cluster:report"] == str(out["report.html"])
    layers = {name: QgsVectorLayer(str(out[name]), name, "ogr") for name in ("clusters.gpkg", "sample.gpkg",
                                                                              "members.gpkg")}
    check_chain(layers["clusters.gpkg"], layers["sample.gpkg"], layers["members.gpkg"], out["report.html"],
                out["sample.html"], psus=8, replacements=2)
