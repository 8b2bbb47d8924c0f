"""The survey-frame model (population raster -> clusters per stratum -> PPS sample -> reports), run by
processing.run and by the real qgis_process on the walk-through's demo data in resources/."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from qgis import processing
from qgis.core import QgsProcessingModelAlgorithm, QgsVectorLayer

from ..conftest import REPO
from .test_headless import enabled_env  # noqa: F401  (module fixture)

RESOURCES = REPO / "resources"
MODEL = RESOURCES / "survey_frame.model3"
INPUTS = {"population": RESOURCES / "demo_population.tif", "strata": RESOURCES / "demo_districts.geojson",
          "stratum_field": "district", "strata_table": RESOURCES / "demo_strata.csv",
          "sample_sizes": RESOURCES / "demo_sample_sizes.csv", "seed": 7}


def planned():
    with open(RESOURCES / "demo_sample_sizes.csv") as table:
        return {row["stratum"]: (int(row["n"]), int(row["replacements"])) for row in csv.DictReader(table)}


def check_chain(clusters, sample, report, sample_report):
    """Clusters per district with their own targets; n PSUs and r replacements per district drawn from them."""
    hulls = {f["cluster_id"]: f for f in clusters.getFeatures()}
    assert {f["stratum"] for f in hulls.values()} == {"North", "South"}
    chosen = list(sample.getFeatures())
    for stratum, (n, r) in planned().items():
        mine = [f for f in chosen if f["stratum"] == stratum]
        assert [f["replacement"] for f in mine if f["selection_order"] <= n] == [False] * n
        assert sum(f["replacement"] for f in mine) == r and len(mine) == n + r
        total = sum(f["weight"] for f in hulls.values() if f["stratum"] == stratum)
        for feature in mine:
            assert feature["cluster_id"] in hulls
            if not feature["certainty"]:
                assert feature["inclusion_prob"] == pytest.approx(n * feature["weight"] / total)
    text = Path(report).read_text()
    assert "Targets per stratum" in text and "<td>South</td><td>300.0</td><td>1,500.0</td>" in text
    assert f"<td>all</td><td>{len(hulls)}</td>" in text and text.count("data:image/png;base64,") == 3
    text = Path(sample_report).read_text()
    assert f"PSUs ({sum(n for n, _ in planned().values())} selected, 2 replacements)" in text
    assert all(f"<td>{f['cluster_id']}</td>" in text for f in chosen)


def test_model_runs_through_processing(wrok_plugin, tmp_path):
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(MODEL))
    report, sample_report = tmp_path / "report.html", tmp_path / "sample.html"
    results = processing.run(model, {
        **{name: str(value) for name, value in INPUTS.items()},
        "cluster:clusters": "TEMPORARY_OUTPUT", "cluster:cluster_numbers": str(tmp_path / "numbers.tif"),
        "cluster:report": str(report), "sample:sample": "TEMPORARY_OUTPUT", "sample:sample_report": str(sample_report)})
    check_chain(results["cluster:clusters"], results["sample:sample"], results["cluster:report"],
                results["sample:sample_report"])


def test_model_runs_through_qgis_process(enabled_env, tmp_path):  # noqa: F811
    out = {name: tmp_path / name for name in ("clusters.gpkg", "numbers.tif", "report.html", "sample.gpkg",
                                              "sample.html")}
    done = subprocess.run(
        ["qgis_process.bin", "--json", "run", str(MODEL), "--", *(f"{k}={v}" for k, v in INPUTS.items()),
         f"cluster:clusters={out['clusters.gpkg']}", f"cluster:cluster_numbers={out['numbers.tif']}",
         f"cluster:report={out['report.html']}", f"sample:sample={out['sample.gpkg']}",
         f"sample:sample_report={out['sample.html']}"],
        env=enabled_env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)["results"]
    assert results["cluster:report"] == str(out["report.html"]) and out["numbers.tif"].exists()
    check_chain(QgsVectorLayer(str(out["clusters.gpkg"]), "clusters", "ogr"),
                QgsVectorLayer(str(out["sample.gpkg"]), "sample", "ogr"), out["report.html"], out["sample.html"])


WITHOUT_GEOPANDAS = """
import sys
for name in ("geopandas", "pyproj", "shapely", "pyogrio"):  # must never load in the QGIS desktop process
    sys.modules[name] = None
repo, folder, inputs = sys.argv[1], sys.argv[2], dict(arg.split("=", 1) for arg in sys.argv[3:])
sys.path[:0] = [repo, "/usr/share/qgis/python/plugins"]
from qgis.core import QgsApplication, QgsProcessingModelAlgorithm
app = QgsApplication([], False)
app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
import wrok_plugin
plugin = wrok_plugin.classFactory(None)  # held: the provider goes with it
plugin.initProcessing()
import processing
model = QgsProcessingModelAlgorithm()
model.fromFile(repo + "/resources/survey_frame.model3")
results = processing.run(model, {**inputs, "cluster:clusters": "TEMPORARY_OUTPUT",
                                 "cluster:cluster_numbers": folder + "/numbers.tif",
                                 "cluster:report": folder + "/report.html", "sample:sample": "TEMPORARY_OUTPUT",
                                 "sample:sample_report": folder + "/sample.html"})
vector = processing.run("wrok:tunedclustering", {"INPUT": repo + "/resources/demo_population.gpkg",
                        "WEIGHT_FIELD": "population", "INITIAL_TRIALS": 5, "OUTPUT": "TEMPORARY_OUTPUT",
                        "REPORT": folder + "/vector.html"})
print("RESULT", results["sample:sample"].featureCount(), vector["CLUSTER_COUNT"])
"""


def test_model_and_reports_run_without_geopandas_pyproj_or_shapely(qgis_process_env, tmp_path):
    """The desktop rule: the PPS draw and both reports work in a QGIS that cannot import those packages."""
    done = subprocess.run([sys.executable, "-c", WITHOUT_GEOPANDAS, str(REPO), str(tmp_path),
                           *(f"{k}={v}" for k, v in INPUTS.items())],
                          env=qgis_process_env, capture_output=True, text=True, timeout=600)
    line = next((line for line in done.stdout.splitlines() if line.startswith("RESULT")), None)
    assert line, done.stderr[-3000:]
    psus, vector_clusters = map(int, line.split()[1:])
    assert psus == sum(n + r for n, r in planned().values()) and vector_clusters > 0
    for report in ("report.html", "sample.html", "vector.html"):
        assert (tmp_path / report).read_text().count("data:image/png;base64,") >= 1
