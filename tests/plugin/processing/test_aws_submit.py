"""wrok:submitaws against a real HTTP endpoint: moto's S3 and Step Functions interpreter (the state
machine from aws/statemachine.asl.json, Distributed Map with an S3 ItemReader), with Lambda invokes
dispatched in-process to the project's real clustering handler (tests/aws/conftest.py).

Real: HTTP, the uploads, the Map Run and its item counts, the handler reading and writing S3, the
fetch and merge, StopExecution. Not real: Lambda itself (an in-process call), retries, throttling,
ToleratedFailurePercentage (moto ignores it, so assertions are on item counts and S3 objects).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest
from heavy_modules import RECORD, unsafe
from qgis import processing
from qgis.core import QgsApplication, QgsProcessingException, QgsProcessingFeedback, QgsVectorLayer

from ..conftest import REPO
from ..layers import point_layer, sample_points

ALGORITHM_ID = "wrok:submitaws"
AWS_TESTS = REPO / "tests" / "aws"
IN, OUT = "wrok-qgis-in", "wrok-qgis-out"
QUICK = {"TARGET_WEIGHT": 240, "TARGET_RADIUS": 1000, "MAX_WEIGHT": 300, "INITIAL_TRIALS": 10,
         "SUBSEQUENT_TRIALS": 5}
QGIS_PROCESS = "qgis_process.bin"


def load_by_path(name, path):
    """tests/aws's fixtures and stack builder, without making tests/aws a package or a plugin."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


aws_fixtures = load_by_path("wrok_aws_test_fixtures", AWS_TESTS / "conftest.py")
pipeline_stack = load_by_path("wrok_aws_pipeline_stack", AWS_TESTS / "pipeline_stack.py")
moto_endpoint = aws_fixtures.moto_endpoint  # module-scoped ThreadedMotoServer running the real handlers


FAKE_AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": aws_fixtures.REGION, "AWS_REGION": aws_fixtures.REGION,
                "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}


@pytest.fixture(scope="module")
def stack(moto_endpoint):
    """Buckets, the clustering Lambda and the state machine on moto; fake keys so nothing reaches AWS.

    Only S3 gets its endpoint from the environment (the handler, run inside moto, needs it): Step
    Functions is reached only through the algorithm's ENDPOINT_URL parameter.
    """
    patch = pytest.MonkeyPatch()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        patch.delenv(name, raising=False)
    for name, value in FAKE_AWS_ENV.items():
        patch.setenv(name, value)
    patch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    try:
        yield dict(pipeline_stack.create_stack(moto_endpoint, IN, OUT), endpoint=moto_endpoint)
    finally:
        patch.undo()


class RecordingFeedback(QgsProcessingFeedback):
    def __init__(self, cancel_when=None):
        super().__init__()
        self.progress, self.infos, self.errors, self.cancel_when = [], [], [], cancel_when
        self.progressChanged.connect(self.progress.append)

    def pushInfo(self, text):  # noqa: N802 - QGIS API name
        self.infos.append(text)
        if self.cancel_when and self.cancel_when in text:
            self.cancel()
        super().pushInfo(text)

    def reportError(self, text, fatalError=False):  # noqa: N802,N803 - QGIS API names
        self.errors.append(text)
        super().reportError(text, fatalError)


def run_submit(stack, layers, prefix, feedback=None, **overrides):
    parameters = {"LAYERS": layers, "WEIGHT_FIELD": "population", **QUICK, "INPUT_BUCKET": IN, "OUTPUT_BUCKET": OUT,
                  "STATE_MACHINE_ARN": stack["state_machine_arn"], "PREFIX": prefix,
                  "ENDPOINT_URL": stack["endpoint"], "MAX_CONCURRENCY": 2, "TOLERATED_FAILURE_PERCENTAGE": 50,
                  "TIMEOUT": 300, "OUTPUT": "TEMPORARY_OUTPUT"}
    parameters.update(overrides)
    return processing.run(ALGORITHM_ID, parameters, feedback=feedback or RecordingFeedback())


def keys_under(s3, bucket, prefix=""):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def values(layer, field):
    return [feature[field] for feature in layer.getFeatures()]


@pytest.fixture(scope="module")
def country(tmp_path_factory):
    """2400 weighted cells in four provinces, as a GeoPackage layer; Atlantis has negative weights,
    which the engine refuses, so its Lambda fails on its own."""
    from synthetic import clumped_population_frame

    frame = clumped_population_frame(2400, seed=1)
    bands = np.digitize(frame.geometry.x, np.quantile(frame.geometry.x, [0.25, 0.5, 0.75]))
    frame["province"] = np.array(["North", "South-East", "West", "Atlantis"])[bands]
    frame.loc[frame["province"] == "Atlantis", "population"] *= -1
    path = tmp_path_factory.mktemp("country") / "country.gpkg"
    frame.to_file(path, driver="GPKG")
    return frame, str(path)


def test_region_split_run_reports_the_failed_region_and_merges_the_others(wrok_plugin, stack, country):
    frame, path = country
    layer = QgsVectorLayer(path, "country", "ogr")
    assert layer.isValid() and layer.featureCount() == len(frame)
    feedback = RecordingFeedback()
    results = run_submit(stack, [layer], "qgis", feedback, REGION_FIELD="province")

    # the failed region: reported as an output, in the log, with the Lambda's own error
    failed = json.loads(results["FAILED_REGIONS"])
    assert results["FAILED_COUNT"] == 1 and [f["key"] for f in failed] == ["qgis/country/Atlantis.parquet"]
    assert "negative weight" in failed[0]["error"] and "s3://wrok-qgis-in/qgis/country/Atlantis.parquet" in failed[0][
        "error"]
    assert any("qgis/country/Atlantis.parquet" in e and "negative weight" in e for e in feedback.errors)
    assert results["SUCCEEDED_COUNT"] == 3

    # every feature of the good regions exactly once, with its fields and the cluster fields
    out = results["OUTPUT"]
    good = frame[frame["province"] != "Atlantis"]
    cells = values(out, "cell_id")
    assert len(cells) == len(set(cells)) == len(good) and sorted(cells) == sorted(good["cell_id"])
    names = out.fields().names()
    assert {"cell_id", "population", "province", "cluster_id", "cluster_weight", "cluster_pass",
            "source_key"} <= set(names) and "fid" not in names
    by_cell = {f["cell_id"]: f for f in out.getFeatures()}
    for row in good.itertuples():
        feature = by_cell[row.cell_id]
        assert feature["province"] == row.province and feature["population"] == pytest.approx(row.population)
        assert feature["source_key"] == f"qgis/country/{row.province}.parquet"
        assert feature["cluster_id"].startswith(f"{row.province}:")  # region-prefixed: unique once merged
    sums = {}
    for feature in out.getFeatures():
        sums[feature["cluster_id"]] = sums.get(feature["cluster_id"], 0.0) + feature["population"]
    assert all(by_cell[c]["cluster_weight"] == pytest.approx(sums[by_cell[c]["cluster_id"]], rel=1e-6)
               for c in cells[:200])
    assert out.crs().authid() == "EPSG:4326" and out.geometryType() == 0  # points

    # the Map Run's own item counts, and the objects the Lambdas wrote
    arns = json.loads(results["EXECUTION_ARNS"])
    assert len(arns) == 1
    counts = load_client().status(arns[0], endpoint_url=stack["endpoint"])
    assert counts["source"] == "map_run"
    assert (counts["total"], counts["succeeded"], counts["failed"], counts["pending"], counts["running"]) == (
        4, 3, 1, 0, 0)
    assert keys_under(stack["s3"], IN, "qgis/") == {f"qgis/country/{p}.parquet"
                                                    for p in ("North", "South-East", "West", "Atlantis")}
    written = keys_under(stack["s3"], OUT)
    run = "runs/" + arns[0].rsplit(":", 1)[-1]  # every result lives under its run
    for province in ("North", "South-East", "West"):
        key = f"qgis/country/{province}.parquet"
        assert {f"{run}/clustered/{key}", f"{run}/clusters/{key}", f"{run}/summaries/{key}.json"} <= written
    assert f"{run}/errors/qgis/country/Atlantis.parquet.json" in written
    assert f"{run}/summaries/qgis/country/Atlantis.parquet.json" not in written

    # progress came from the item counts and ended at 100 %
    assert any("3 succeeded, 1 failed, 0 running, 0 pending of 4 file(s)" in text for text in feedback.infos)
    assert feedback.progress and max(feedback.progress) == pytest.approx(100)


def load_client():
    from wrok_plugin.cloud.client import load_client as load

    return load()


def test_several_layers_unit_weights_and_cluster_hulls(wrok_plugin, stack):
    north = point_layer(*sample_points(n=150, seed=2), name="north town")
    south = point_layer(*sample_points(n=90, seed=3), name="south")
    results = run_submit(stack, [north, south], "layers", WEIGHT_FIELD="", MAX_WEIGHT=0, TARGET_WEIGHT=30,
                         CLUSTERS="TEMPORARY_OUTPUT", MEASURING_CRS="EPSG:32633")
    assert results["FAILED_COUNT"] == 0 and json.loads(results["FAILED_REGIONS"]) == []
    assert results["SUCCEEDED_COUNT"] == 2
    out, hulls = results["OUTPUT"], results["CLUSTERS"]
    source = values(out, "source_key")
    assert source.count("layers/north_town.parquet") == 150 and source.count("layers/south.parquet") == 90
    assert sorted(zip(source, values(out, "name"))) == sorted(
        [("layers/north_town.parquet", f"f{i}") for i in range(150)] + [("layers/south.parquet", f"f{i}")
                                                                        for i in range(90)])
    members = {}
    for feature in out.getFeatures():  # empty weight field: every feature weighs 1
        members[feature["cluster_id"]] = members.get(feature["cluster_id"], 0) + 1
    assert all(f["cluster_weight"] == members[f["cluster_id"]] for f in out.getFeatures())
    assert out.crs().authid() == "EPSG:32633"
    assert sorted(values(hulls, "cluster_id")) == sorted(members)
    run = json.loads(results["EXECUTION_ARNS"])[0].rsplit(":", 1)[-1]
    summary = json.loads(stack["s3"].get_object(
        Bucket=OUT, Key=f"runs/{run}/summaries/layers/south.parquet.json")["Body"].read())
    assert summary["params"]["desired_cluster_weight"] == 30 and summary["params"]["max_cluster_weight"] is None
    assert summary["params"]["initial_max_trials"] == 10 and summary["params"]["max_passes"] == 1


def test_cancel_while_following_stops_the_execution(wrok_plugin, stack, monkeypatch):
    import aws.handler

    real_handler = aws.handler.handler
    release, calls = threading.Event(), []

    def held_handler(event, context=None):  # keeps the run going until the algorithm has cancelled
        calls.append(event)
        release.wait(600)
        return real_handler(event, context)

    monkeypatch.setattr(aws.handler, "handler", held_handler)
    feedback = RecordingFeedback(cancel_when="pending of")
    layers = [point_layer(*sample_points(n=60, seed=s), name=f"part{s}") for s in (4, 5, 6)]
    try:
        with pytest.raises(QgsProcessingException, match=r"Cancelled: stopped 1 execution\(s\)") as raised:
            run_submit(stack, layers, "cancelled", feedback)
    finally:
        release.set()  # the Lambdas in flight finish, as AWS lets them
    arn = str(raised.value).split("(", 2)[2].split(")")[0]
    assert arn.startswith("arn:aws:states:")
    # moto's interpreter reflects the stop once the Lambdas in flight return
    deadline = time.monotonic() + 600  # a hang guard only
    while (status := stack["sfn"].describe_execution(executionArn=arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, "the execution was not stopped"
        time.sleep(0.5)
    assert status == "ABORTED"
    time.sleep(4)  # long enough for the third file's Lambda to have run had the Map not stopped
    summaries = [key for key in keys_under(stack["s3"], OUT, "runs/") if "/summaries/cancelled/" in key]
    assert len(calls) == 2 and len(summaries) <= 2  # MAX_CONCURRENCY 2: the third file's Lambda never started
    assert keys_under(stack["s3"], IN, "cancelled/") == {f"cancelled/part{s}.parquet" for s in (4, 5, 6)}


def test_bad_parameters_fail_before_any_upload(wrok_plugin, stack):
    layer = point_layer(*sample_points(n=30), name="bad")
    cases = [({"WEIGHT_FIELD": "people"}, "'people' is not in layer 'bad'. Numeric fields there: population, code"),
             ({"REGION_FIELD": "province"}, "region field 'province' is not in layer 'bad'"),
             ({"MAX_WEIGHT": 100}, r"max cluster weight \(100.0\) is below the target weight"),
             ({"ENDPOINT_URL": "http://key:secret@127.0.0.1:1"}, "Do not put credentials in the endpoint URL"),
             ({"MEASURING_CRS": "ESRI:102003"}, "must have an EPSG code")]
    for overrides, message in cases:
        with pytest.raises(QgsProcessingException, match=message):
            run_submit(stack, [layer], "bad", **overrides)
    assert keys_under(stack["s3"], IN, "bad/") == set()


def test_parameters_hold_no_credentials_and_help_explains_each(wrok_plugin):
    algorithm = QgsApplication.processingRegistry().algorithmById(ALGORITHM_ID)
    assert algorithm.group() == "AWS pipeline" and algorithm.canExecute() == (True, "")
    assert algorithm.flags() & algorithm.FlagCanCancel
    names = [p.name() for p in algorithm.parameterDefinitions()]
    assert not [n for n in names if any(word in n for word in ("KEY", "SECRET", "TOKEN", "PASSWORD"))]
    local = QgsApplication.processingRegistry().algorithmById("wrok:tunedclustering")
    for name in ("TARGET_WEIGHT", "MAX_WEIGHT", "STRATEGY", "MEASURING_CRS"):  # cloned, not redefined
        mine, theirs = algorithm.parameterDefinition(name), local.parameterDefinition(name)
        assert (mine.description(), mine.defaultValue(), mine.flags()) == (
            theirs.description(), theirs.defaultValue(), theirs.flags())
    help_text = algorithm.shortHelpString().lower()
    for parameter in algorithm.parameterDefinitions():
        label = parameter.description().split(" (")[0].lower()
        assert label in help_text, f"help does not explain {label!r}"


# -- outside this process: qgis_process, a QGIS without boto3, the desktop menu, the zip ---------------


def qgis_process(env, *args):
    return subprocess.run([QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=300)


def test_qgis_process_lists_and_helps(qgis_process_env, tmp_path):
    env = dict(qgis_process_env, QGIS_CUSTOM_CONFIG_PATH=str(tmp_path))  # a profile of its own
    assert qgis_process(env, "plugins", "enable", "wrok_plugin").returncode == 0
    listed = json.loads(qgis_process(env, "--json", "list").stdout)
    assert ALGORITHM_ID in listed["providers"]["wrok"]["algorithms"]
    shown = qgis_process(env, "help", ALGORITHM_ID)
    assert shown.returncode == 0, shown.stderr[-2000:]
    for expected in ("Submit layers to the AWS clustering pipeline", "LAYERS", "REGION_FIELD", "WEIGHT_FIELD",
                     "TARGET_WEIGHT", "MAX_WEIGHT", "INPUT_BUCKET", "OUTPUT_BUCKET", "STATE_MACHINE_ARN", "PREFIX",
                     "AWS_PROFILE", "AWS_REGION", "ENDPOINT_URL", "TIMEOUT", "OUTPUT", "FAILED_COUNT",
                     "FAILED_REGIONS"):
        assert expected in shown.stdout, expected


MISSING_BOTO3 = f"""
import sys
sys.modules["boto3"] = None  # what a QGIS without boto3 looks like to `import boto3`
sys.path[:0] = [{str(REPO)!r}, "/usr/share/qgis/python/plugins"]
from qgis.core import QgsApplication, QgsProcessingException
app = QgsApplication([], False)
app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
import wrok_plugin
plugin = wrok_plugin.classFactory(None)  # kept: the provider lives as long as the plugin
plugin.initProcessing()
algorithm = QgsApplication.processingRegistry().algorithmById("wrok:submitaws")
ok, message = algorithm.canExecute()
local_ok = QgsApplication.processingRegistry().algorithmById("wrok:tunedclustering").canExecute()[0]
import processing
try:
    processing.run("wrok:submitaws", {{"LAYERS": [{str(REPO / "resources" / "demo_population.gpkg")!r}],
                   "INPUT_BUCKET": "a", "OUTPUT_BUCKET": "b", "STATE_MACHINE_ARN": "c", "OUTPUT": "TEMPORARY_OUTPUT"}})
    ran = "ran"
except QgsProcessingException as error:
    ran = "refused" if "boto3" in str(error) else "other: " + str(error)
print("RESULT", ok, local_ok, ran, repr(message))
"""


def test_without_boto3_the_plugin_loads_and_says_what_to_install(qgis_process_env):
    done = subprocess.run([sys.executable, "-c", MISSING_BOTO3], env=qgis_process_env, capture_output=True,
                          text=True, timeout=120)
    line = next((line for line in done.stdout.splitlines() if line.startswith("RESULT")), None)
    assert line, done.stderr[-2000:]
    assert line.startswith("RESULT False True refused ")  # the local algorithm still runs
    assert "package(s) boto3 in the Python that QGIS runs" in line
    assert "-m pip install boto3\\n" in line and "restart QGIS" in line


MENU_CHECK = f"""
import json, sys
sys.path[:0] = [{str(REPO / "tests" / "plugin")!r}]
from gui_check import QgsApplication, RecordingIface  # gui_check puts the checkout on sys.path
app = QgsApplication([], True)
app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
from qgis import processing
opened = []
processing.execAlgorithmDialog = lambda algorithm_id, *args: opened.append(algorithm_id)
import wrok_plugin
iface = RecordingIface()
plugin = wrok_plugin.classFactory(iface)
plugin.initGui()
menu = [(m, a.text()) for m, a in iface.vector_menu]
toolbar = [a.text() for a in iface.toolbar_actions]
next(a for m, a in iface.vector_menu if a.text().startswith("Submit layers")).trigger()
plugin.unload()
print("SEEN " + json.dumps({{"menu": menu, "toolbar": toolbar, "opened": opened, "left": len(iface.vector_menu)}}))
"""


def test_menu_entry_opens_the_algorithm_dialog(qgis_process_env):
    done = subprocess.run([sys.executable, "-c", MENU_CHECK], env=qgis_process_env, capture_output=True, text=True,
                          timeout=120)
    line = next((line for line in done.stdout.splitlines() if line.startswith("SEEN ")), None)
    assert line, done.stderr[-2000:]
    seen = json.loads(line[5:])
    assert ["&wrok", "Submit layers to the AWS clustering pipeline…"] in seen["menu"]
    assert seen["toolbar"] == ["Cluster layer and write cluster fields…"]  # the menu only, not the toolbar
    assert seen["opened"] == [ALGORITHM_ID] and seen["left"] == 0


FROM_ZIP = """
import json, sys
plugins = sys.argv[1]
sys.path[:0] = [plugins, "/usr/share/qgis/python/plugins"]
from qgis.core import QgsApplication, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
import processing
import wrok_plugin
plugin = wrok_plugin.classFactory(None)  # kept: the provider lives as long as the plugin
plugin.initProcessing()
from wrok_plugin.cloud.client import load_client
client = load_client()
layer = QgsVectorLayer(sys.argv[2], "zipped", "ogr")
results = processing.run("wrok:submitaws", {"LAYERS": [layer], "INPUT_BUCKET": sys.argv[3], "OUTPUT_BUCKET": sys.argv[4],
    "STATE_MACHINE_ARN": sys.argv[5], "ENDPOINT_URL": sys.argv[6], "PREFIX": "zip", "INITIAL_TRIALS": 10,
    "SUBSEQUENT_TRIALS": 5, "TIMEOUT": 300, "OUTPUT": "TEMPORARY_OUTPUT"})
heavy = {RECORD}
print("SEEN " + json.dumps({"client": client.__file__, "top_level": [m for m in ("aws", "core") if m in sys.modules],
    "heavy": heavy,
    "features": results["OUTPUT"].featureCount(), "failed": results["FAILED_COUNT"]}))
"""
FROM_ZIP = FROM_ZIP.replace("{RECORD}", RECORD)  # what the QGIS process holds, judged by heavy_modules.unsafe


def test_zip_ships_the_client_and_runs_the_pipeline_from_it(wrok_plugin, stack, country, qgis_process_env, tmp_path):
    subprocess.run(["make", "-s", "package"], cwd=REPO, check=True, capture_output=True, timeout=120)
    names = zipfile.ZipFile(REPO / "dist" / "wrok_plugin.zip").namelist()
    plugins = tmp_path / "plugins"
    zipfile.ZipFile(REPO / "dist" / "wrok_plugin.zip").extractall(plugins)
    frame, _ = country
    small = frame[frame["province"] == "North"].iloc[:300]
    path = tmp_path / "north.gpkg"
    small.to_file(path, driver="GPKG")
    env = dict(qgis_process_env, **FAKE_AWS_ENV)
    env.pop("PYTHONPATH", None)  # the venv's interpreter has the packages; nothing may lead to the checkout
    env.pop("QGIS_PLUGINPATH", None)
    done = subprocess.run([sys.executable, "-c", FROM_ZIP, str(plugins), str(path), IN, OUT,
                           stack["state_machine_arn"], stack["endpoint"]],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    line = next((line for line in done.stdout.splitlines() if line.startswith("SEEN ")), None)
    assert line, done.stderr[-3000:]
    seen = json.loads(line[5:])
    assert seen["client"] == str(plugins / "wrok_plugin" / "vendor" / "aws" / "client.py")
    assert seen["top_level"] == ["aws", "core"]  # the zip's vendor/ copies, under the names the checkout uses
    assert seen["features"] == 300 and seen["failed"] == 0
    assert unsafe(seen["heavy"], env) == []  # geopandas & co. ran in the worker process, never in QGIS's
    assert "wrok_plugin/vendor/aws/client.py" in names
    assert os.path.basename(seen["client"]) == "client.py"


def test_timeout_leaves_the_run_going_and_reports_unfinished_files(wrok_plugin, stack, monkeypatch):
    import aws.handler

    real_handler = aws.handler.handler
    # The Lambda holds until the test has looked (a fixed sleep raced the algorithm's own clean-up on a busy machine).
    release = threading.Event()
    monkeypatch.setattr(aws.handler, "handler", lambda event, context=None: release.wait(600) and real_handler(event))
    feedback = RecordingFeedback()
    try:
        results = run_submit(stack, [point_layer(*sample_points(n=60, seed=7), name="slow")], "timeout", feedback,
                             TIMEOUT=1)
        failed = json.loads(results["FAILED_REGIONS"])
        assert results["FAILED_COUNT"] == 1 and failed[0]["key"] == "timeout/slow.parquet"
        assert "still going" in failed[0]["error"] and results["OUTPUT"].featureCount() == 0
        arn = json.loads(results["EXECUTION_ARNS"])[0]
        assert stack["sfn"].describe_execution(executionArn=arn)["status"] == "RUNNING"  # not cancelled
    finally:
        release.set()
    assert any("Region file timeout/slow.parquet failed" in e for e in feedback.errors)
