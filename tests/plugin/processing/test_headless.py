"""The graphical-modeler chain, the real qgis_process binary, the Plugin Manager zip, missing packages."""

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from qgis import processing
from qgis.core import QgsProcessingModelAlgorithm, QgsVectorLayer

from ..conftest import ALGORITHM_ID, REPO
from ..helpers import column, run_algorithm, without
from ..layers import UTM_33N, memory_layer, sample_points, squares

HERE = Path(__file__).resolve().parents[1]  # tests/plugin: the model file
DEMO = REPO / "resources" / "demo_population.gpkg"
QGIS_PROCESS = "qgis_process.bin"  # Debian's qgis_process wrapper passes an option 3.22 rejects


def test_model_chains_centroids_clustering_dissolve(wrok_plugin):
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(str(HERE / "centroids_cluster_dissolve.model3"))
    xy, weights = sample_points(n=150)
    buildings = memory_layer("Polygon", UTM_33N, squares(xy)[1], weights)
    results = processing.run(model, {"buildings": buildings, "target_weight": 200,
                                     "dissolve:clusters": "TEMPORARY_OUTPUT"})
    dissolved = results["dissolve:clusters"]
    centroids = processing.run("native:centroids", {"INPUT": buildings, "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    direct = run_algorithm(centroids, TARGET_WEIGHT=200)["OUTPUT"]
    assert sorted(column(dissolved, "cluster_id")) == sorted(set(column(direct, "cluster_id")))


def qgis_process(env, *args, stdin=None):
    done = subprocess.run([QGIS_PROCESS, *args], env=env, input=stdin, capture_output=True, text=True, timeout=300)
    return done


@pytest.fixture(scope="module")
def enabled_env(qgis_process_env):
    done = qgis_process(qgis_process_env, "plugins", "enable", "wrok_plugin")
    # The session's profile is shared: another module may have enabled the plugin already.
    assert done.returncode == 0 or "already enabled" in done.stdout + done.stderr, done.stderr
    listed = qgis_process(qgis_process_env, "plugins")
    assert "* wrok_plugin" in listed.stdout  # the star marks an enabled plugin
    return qgis_process_env


def test_qgis_process_lists_and_helps(enabled_env):
    listed = json.loads(qgis_process(enabled_env, "--json", "list").stdout)
    assert ALGORITHM_ID in listed["providers"]["wrok"]["algorithms"]
    shown = qgis_process(enabled_env, "help", ALGORITHM_ID)
    assert shown.returncode == 0
    for expected in ("Tuned Weight/Radius Clustering", "TARGET_RADIUS", "MEASURING_CRS", "UPDATE_INPUT",
                     "|r_target - median radius|"):
        assert expected in shown.stdout


def check_demo_outputs(results, out, hulls):
    assert results["CLUSTER_COUNT"] > 0 and results["MEASURING_CRS"] == "EPSG:32651"
    assert QgsVectorLayer(str(out), "out", "ogr").featureCount() == 6000
    assert QgsVectorLayer(str(hulls), "hulls", "ogr").featureCount() == results["CLUSTER_COUNT"]


def test_qgis_process_runs_with_key_value_parameters(enabled_env, tmp_path):
    out, hulls = tmp_path / "out.gpkg", tmp_path / "hulls.gpkg"
    done = qgis_process(enabled_env, "--json", "run", ALGORITHM_ID, "--", f"INPUT={DEMO}", "WEIGHT_FIELD=population",
                        "TARGET_WEIGHT=240", "TARGET_RADIUS=1000", "MAX_WEIGHT=300", "INITIAL_TRIALS=10",
                        "SUBSEQUENT_TRIALS=5", f"OUTPUT={out}", f"CLUSTERS={hulls}")
    assert done.returncode == 0, done.stderr[-2000:]
    check_demo_outputs(json.loads(done.stdout)["results"], out, hulls)


def test_qgis_process_reports_bad_input_and_fails(enabled_env, tmp_path):
    done = qgis_process(enabled_env, "run", ALGORITHM_ID, "--", f"INPUT={DEMO}", "WEIGHT_FIELD=people",
                        f"OUTPUT={tmp_path / 'out.gpkg'}")
    assert done.returncode != 0
    assert "'people' is not in the input layer" in done.stdout + done.stderr


def test_qgis_process_reads_json_parameters_from_stdin(enabled_env, tmp_path):
    out, hulls = tmp_path / "out.gpkg", tmp_path / "hulls.gpkg"
    inputs = {"INPUT": str(DEMO), "WEIGHT_FIELD": "population", "TARGET_WEIGHT": 240, "TARGET_RADIUS": 1000,
              "MAX_WEIGHT": 300, "INITIAL_TRIALS": 10, "SUBSEQUENT_TRIALS": 5, "OUTPUT": str(out),
              "CLUSTERS": str(hulls)}
    done = qgis_process(enabled_env, "--json", "run", ALGORITHM_ID, "-", stdin=json.dumps({"inputs": inputs}))
    if done.returncode != 0 and "Parameter values must be entered after" in done.stdout + done.stderr:
        pytest.skip("this qgis_process (QGIS < 3.24) cannot read parameters as JSON from stdin")
    assert done.returncode == 0, done.stderr[-2000:]
    check_demo_outputs(json.loads(done.stdout)["results"], out, hulls)


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory):
    subprocess.run(["make", "-s", "package"], cwd=REPO, check=True, capture_output=True, timeout=120)
    return REPO / "dist" / "wrok_plugin.zip"


def test_zip_holds_only_the_plugin(plugin_zip):
    names = zipfile.ZipFile(plugin_zip).namelist()
    assert all(name.startswith("wrok_plugin/") for name in names)
    for needed in ("wrok_plugin/metadata.txt", "wrok_plugin/__init__.py", "wrok_plugin/vendor/core/engine/run.py",
                   "wrok_plugin/resources/wrok.svg"):
        assert needed in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/tests/" in n
                or n.endswith((".gpkg", ".md"))]
    # the AWS submit algorithm's client, but none of the pipeline's infrastructure
    vendored = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("wrok_plugin/vendor/aws/") and n[-1] != "/")
    assert vendored == ["__init__.py", "client.py", "kickoff.py", "merge.py", "overrides.py", "split.py", "storage.py"]
    assert not [n for n in names if n.rsplit("/", 1)[-1] in (
        "template.yaml", "Dockerfile", "Dockerfile.dockerignore", "handler.py", "statemachine.asl.json", "validate.py",
        "samconfig.toml")]
    assert not [n for n in names if "aws" in n and not n.startswith(("wrok_plugin/vendor/", "wrok_plugin/aws_"))]


def walk_through_files(readme: str, section: str = "### In the desktop") -> set:
    """The file names (`name.ext` in backticks) a README section tells the user to open."""
    body = readme.split(section + "\n", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"`([\w.-]+\.(?:model3|tif|tiff|geojson|gpkg|csv|shp))`", body))


def test_zip_carries_the_licence_and_the_walk_through_files(plugin_zip):
    names = set(zipfile.ZipFile(plugin_zip).namelist())
    licence = zipfile.ZipFile(plugin_zip).read("wrok_plugin/LICENSE").decode()
    assert "GNU GENERAL PUBLIC LICENSE" in licence and "Version 2, June 1991" in licence
    assert "or (at your option) any later version" in licence
    opened = walk_through_files((REPO / "README.md").read_text(encoding="utf-8"))
    assert {"survey_frame.model3", "demo_population.tif", "demo_strata.csv"} <= opened  # the parse found them
    assert sorted(f"wrok_plugin/demo/{name}" for name in opened if f"wrok_plugin/demo/{name}" not in names) == []
    for name in opened:  # the shipped copies are the checkout's own
        shipped = zipfile.ZipFile(plugin_zip).read(f"wrok_plugin/demo/{name}")
        assert shipped == (REPO / "resources" / name).read_bytes()


def test_zip_installs_into_a_fresh_profile(plugin_zip, qgis_process_env, tmp_path):
    profile = tmp_path / "profile"
    plugins = profile / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    zipfile.ZipFile(plugin_zip).extractall(plugins)
    env = dict(qgis_process_env, QGIS_CUSTOM_CONFIG_PATH=str(profile))
    env.pop("QGIS_PLUGINPATH")  # only the unzipped copy may be found
    assert qgis_process(env, "plugins", "enable", "wrok_plugin").returncode == 0
    assert "* wrok_plugin" in qgis_process(env, "plugins").stdout  # found in the profile, the only place
    listed = json.loads(qgis_process(env, "--json", "list").stdout)
    assert ALGORITHM_ID in listed["providers"]["wrok"]["algorithms"]
    out, hulls = tmp_path / "out.gpkg", tmp_path / "hulls.gpkg"
    done = qgis_process(env, "--json", "run", ALGORITHM_ID, "--", f"INPUT={DEMO}", "WEIGHT_FIELD=population",
                        "INITIAL_TRIALS=10", "SUBSEQUENT_TRIALS=5", f"OUTPUT={out}", f"CLUSTERS={hulls}")
    assert done.returncode == 0, done.stderr[-2000:]
    check_demo_outputs(json.loads(done.stdout)["results"], out, hulls)


MISSING_PACKAGE = f"""
import sys
for name in sys.argv[1:]:
    sys.modules[name] = None  # what an install without it looks like to `import ...`
sys.path[:0] = [{str(REPO)!r}, "/usr/share/qgis/python/plugins"]
from qgis.core import QgsApplication, QgsProcessingException
app = QgsApplication([], False)
app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
import wrok_plugin
plugin = wrok_plugin.classFactory(None)
plugin.initProcessing()
algorithm = QgsApplication.processingRegistry().algorithmById("wrok:tunedclustering")
ok, message = algorithm.canExecute()
import processing
try:
    processing.run("wrok:tunedclustering", {{"INPUT": {str(DEMO)!r}, "OUTPUT": "TEMPORARY_OUTPUT"}})
    ran = "ran"
except QgsProcessingException:
    ran = "refused"
print("RESULT", ok, ran, repr(message))
"""


@pytest.mark.parametrize("module, named", [("optuna", "optuna"), ("numpy", "numpy")])
def test_missing_package_still_loads_and_says_what_to_install(qgis_process_env, module, named):
    done = subprocess.run([sys.executable, "-c", MISSING_PACKAGE, *without(module)], env=qgis_process_env,
                          capture_output=True, text=True, timeout=120)
    line = next((line for line in done.stdout.splitlines() if line.startswith("RESULT")), None)
    assert line, done.stderr[-2000:]
    assert line.startswith("RESULT False refused ")
    assert f"package(s) {named} in the Python that QGIS runs" in line
    assert f"-m pip install {named.replace(',', '')}" in line and "restart QGIS" in line
