"""Client calls that the end-to-end test does not reach: uploads, status before the Map Run, cancel, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import geopandas as gpd
import pytest
from moto import mock_aws
from synthetic import clumped_population_frame

from aws import client
from aws.cli import main
from aws.handler import handler
from aws.storage import error_key, list_keys, read_json, summary_key, write_json

REPO = Path(__file__).resolve().parents[2]
IN, OUT = "wrok-client-in", "wrok-client-out"
PARAMS = {"desired_cluster_weight": 240, "desired_cluster_radius": 1000, "max_cluster_weight": 300}
ASL = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


@pytest.fixture
def stack():
    with mock_aws(config={"stepfunctions": {"execute_state_machine": False}}):
        s3 = boto3.client("s3")
        for bucket in (IN, OUT):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        arn = boto3.client("stepfunctions").create_state_machine(
            name="wrok", definition=ASL, roleArn="arn:aws:iam::123456789012:role/wrok")["stateMachineArn"]
        yield s3, arn


def test_submit_converts_other_formats_and_names_frames(stack, tmp_path):
    s3, arn = stack
    frame = clumped_population_frame(40, seed=1)
    gpkg = tmp_path / "luzon.gpkg"
    frame.to_file(gpkg, driver="GPKG")
    messages = []
    started = client.submit({"visayas": frame, "luzon": gpkg}, PARAMS, IN, OUT, arn, prefix="/ph/",
                            progress=lambda fraction, text: messages.append((fraction, text)))
    assert started["keys"] == ["ph/visayas.parquet", "ph/luzon.parquet"]
    assert sorted(list_keys(s3, IN)) == ["ph/luzon.parquet", "ph/visayas.parquet"]
    assert messages[-1][0] == 1.0 and "2 file(s)" in messages[-1][1]


def test_layers_with_the_same_name_are_refused_before_any_upload(stack, tmp_path):
    s3, arn = stack
    with pytest.raises(ValueError, match="several layers are named x"):
        client.submit([tmp_path / "a" / "x.parquet", tmp_path / "b" / "x.gpkg"], PARAMS, IN, OUT, arn)
    assert list(list_keys(s3, IN)) == []


def test_status_before_the_map_run_counts_s3_results_and_cancel_stops(stack):
    s3, arn = stack
    frame = clumped_population_frame(30, seed=2)
    started = client.submit([frame, frame, frame], PARAMS, IN, OUT, arn, prefix="p")
    execution_arn, run = started["executions"][0]["execution_arn"], started["executions"][0]["run"]
    write_json(s3, {"key": "p/layer_0.parquet"}, OUT, summary_key(run, "p/layer_0.parquet"))
    write_json(s3, {"key": "p/layer_1.parquet", "error": "boom"}, OUT, error_key(run, "p/layer_1.parquet"))
    write_json(s3, {"key": "p/layer_2.parquet"}, OUT, summary_key("wrok-another-run", "p/layer_2.parquet"))
    counts = client.status(execution_arn)
    assert counts == {"execution_status": "RUNNING", "run": run, "reused": 0, "source": "s3", "total": 3,
                      "succeeded": 1, "failed": 1, "running": 0, "pending": 1}
    client.cancel(execution_arn)
    assert client.status(execution_arn)["execution_status"] == "ABORTED"
    merged, failed = client.fetch(execution_arn)
    assert len(merged) == 0  # the fake summary above has no clustered layer behind it: reported, not hidden
    assert [f["key"] for f in failed] == ["p/layer_1.parquet", "p/layer_2.parquet", "p/layer_0.parquet"]
    assert failed[0]["error"] == "boom" and "aborted" in failed[1]["error"] and "missing" in failed[2]["error"]


def test_cli_help_and_one_line_errors(capsys):
    done = subprocess.run([sys.executable, "-m", "aws", "--help"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "submit" in done.stdout and "fetch" in done.stdout
    assert main(["split", str(REPO / "no-such-layer.parquet"), "region", "/tmp/x"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "no-such-layer.parquet" in error and "\n" not in error
    with pytest.raises(SystemExit):
        main(["submit", "a.parquet"])  # argparse: required options missing


def test_cli_split_writes_files(tmp_path, capsys):
    frame = clumped_population_frame(20, seed=3)
    frame["island"] = ["a", "b"] * 10
    frame.to_parquet(tmp_path / "c.parquet")
    assert main(["split", str(tmp_path / "c.parquet"), "island", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.parquet", "b.parquet"]
    assert "10 " in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".parquet", ".gpkg"])
def test_fetch_to_file_streams_each_region_into_one_layer_and_dataset_leaves_it_in_s3(stack, tmp_path, suffix):
    s3, arn = stack
    north, south = clumped_population_frame(300, seed=8), clumped_population_frame(200, seed=9)
    south = south.to_crs(3857)  # regions in another CRS are reprojected to the first's
    south["note"] = "only in the south"  # and columns only some regions have stay
    started = client.submit({"North": north, "South": south}, PARAMS, IN, OUT, arn, prefix="p")
    execution_arn = started["executions"][0]["execution_arn"]
    for item in read_json(s3, OUT, started["executions"][0]["manifest"].split(f"{OUT}/", 1)[1]):
        handler(item)  # what the Map would do
    output = tmp_path / f"merged{suffix}"
    output.write_bytes(b"old")
    rows, failed = client.fetch_to_file(execution_arn, output, workers=2)
    merged = gpd.read_parquet(output) if suffix == ".parquet" else gpd.read_file(output)
    assert rows == len(merged) == 500 and failed == []
    assert merged.crs == north.crs and sorted(merged["source_key"].unique()) == ["p/North.parquet", "p/South.parquet"]
    assert merged["cluster_id"].str.startswith(("North:", "South:")).all()
    assert (merged["note"].fillna("") == "").sum() == 300
    in_memory, _ = client.fetch(execution_arn)
    assert sorted(in_memory["cluster_id"]) == sorted(merged["cluster_id"])
    where, failed = client.dataset(execution_arn)
    run = started["executions"][0]["run"]
    assert where["uri"] == f"s3://{OUT}/runs/{run}/clustered/" and len(where["files"]) == 2
    assert list(tmp_path.iterdir()) == [output]  # no scratch left behind


def test_submit_refuses_a_concurrency_below_one_before_uploading(stack):
    s3, arn = stack
    with pytest.raises(ValueError, match="at least 1"):
        client.submit(clumped_population_frame(10, seed=1), PARAMS, IN, OUT, arn, max_concurrency=0)
    assert main(["submit", "x.parquet", "--input-bucket", IN, "--output-bucket", OUT, "--state-machine-arn", arn,
                 "--target-weight", "240", "--target-radius", "1000", "--max-concurrency", "0"]) == 2
