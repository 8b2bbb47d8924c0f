"""Kickoff against moto (state machines are created but not executed here)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from aws import kickoff
from aws.storage import clustered_key, clusters_key, done_key, params_hash, read_json, summary_key, write_json

IN, OUT = "wrok-kick-in", "wrok-kick-out"
PARAMS = {"desired_cluster_weight": 240, "desired_cluster_radius": 1000, "max_cluster_weight": 300}
ASL = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


@pytest.fixture
def aws():
    with mock_aws(config={"stepfunctions": {"execute_state_machine": False}}):
        s3 = boto3.client("s3")
        for bucket in (IN, OUT):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        sfn = boto3.client("stepfunctions")
        arn = sfn.create_state_machine(name="wrok", definition=ASL,
                                       roleArn="arn:aws:iam::123456789012:role/wrok")["stateMachineArn"]
        yield s3, sfn, arn


def put(s3, *keys):
    for key in keys:
        s3.put_object(Bucket=IN, Key=key, Body=b"x")


def done(s3, key, params=PARAMS, run="wrok-old", etag=None, options=None):
    """What the clustering Lambda leaves after clustering key: a summary in its run and a done marker."""
    etag = etag or s3.head_object(Bucket=IN, Key=key)["ETag"].strip('"')
    for name in (clustered_key, clusters_key):
        s3.put_object(Bucket=OUT, Key=name(run, key), Body=f"{name.__name__} of {key}".encode())
    write_json(s3, {"key": key}, OUT, summary_key(run, key))
    write_json(s3, {"run": run, "key": key, "input_etag": etag}, OUT,
               done_key(params_hash({"params": params, **(options or {})}), key))


def test_lists_region_files_and_skips_only_those_done_with_the_same_parameters_and_bytes(aws):
    s3, _, _ = aws
    put(s3, "c/a.parquet", "c/b.parquet", "c/c.geoparquet", "c/d.parquet", "c/notes.txt", "other/e.parquet")
    done(s3, "c/b.parquet")
    done(s3, "c/c.geoparquet", params={**PARAMS, "desired_cluster_weight": 120})  # other parameters
    done(s3, "c/d.parquet", etag="0123")  # the file changed since
    todo, reused = kickoff.keys_to_process(s3, IN, "c/", OUT, PARAMS)
    assert todo == ["c/a.parquet", "c/c.geoparquet", "c/d.parquet"]
    assert reused == [{"key": "c/b.parquet", "run": "wrok-old"}]
    assert kickoff.keys_to_process(s3, IN, "c/", OUT, {**PARAMS, "desired_cluster_weight": 120})[1] == \
        [{"key": "c/c.geoparquet", "run": "wrok-old"}]
    assert kickoff.keys_to_process(s3, IN, "c/", OUT, PARAMS, {"epsg": 32651})[1] == []  # options count too
    assert kickoff.keys_to_process(s3, IN, "c/", OUT, PARAMS, force=True) == (
        ["c/a.parquet", "c/b.parquet", "c/c.geoparquet", "c/d.parquet"], [])
    s3.delete_object(Bucket=OUT, Key=summary_key("wrok-old", "c/b.parquet"))  # e.g. expired by the lifecycle rule
    assert kickoff.keys_to_process(s3, IN, "c/", OUT, PARAMS)[1] == []


def test_batches_items_into_manifests_with_one_uniquely_named_execution_each(aws):
    s3, sfn, arn = aws
    keys = [f"r/{i}.parquet" for i in range(5)]
    started = kickoff.start_runs(s3, sfn, arn, IN, OUT, keys, PARAMS, {"weight_field": "pop", "bogus": 1},
                                 max_concurrency=7, tolerated_failure_percentage=5, max_items_per_run=2)
    assert [run["items"] for run in started] == [2, 2, 1]
    assert len({run["run"] for run in started}) == 3
    listed = []
    for run in started:
        execution = sfn.describe_execution(executionArn=run["execution_arn"])
        run_input = json.loads(execution["input"])
        assert run_input["max_concurrency"] == 7 and run_input["tolerated_failure_percentage"] == 5.0
        assert isinstance(run_input["tolerated_failure_percentage"], float)
        items = read_json(s3, run_input["manifest_bucket"], run_input["manifest_key"])
        assert all(item["weight_field"] == "pop" and "bogus" not in item and item["params"] == PARAMS
                   and item["run"] == run["run"] and item["region"] == item["key"][2:-8]
                   and (item["input_bucket"], item["output_bucket"]) == (IN, OUT) for item in items)
        listed += [item["key"] for item in items]
    assert listed == keys  # every key once


def test_lambda_handler_uses_its_environment(aws, monkeypatch):
    s3, sfn, arn = aws
    put(s3, "p/a.parquet", "p/b.parquet")
    done(s3, "p/a.parquet")
    for name, value in {"INPUT_BUCKET": IN, "OUTPUT_BUCKET": OUT, "STATE_MACHINE_ARN": arn,
                        "MAX_CONCURRENCY": "3", "TOLERATED_FAILURE_PERCENTAGE": "20"}.items():
        monkeypatch.setenv(name, value)
    result = kickoff.handler({"prefix": "p/", "params": PARAMS})
    assert result["submitted"] == ["p/b.parquet"] and result["skipped_already_done"] == ["p/a.parquet"]
    # the new run holds the reused result too, so fetching it returns the whole prefix
    run = result["executions"][0]["run"]
    assert s3.get_object(Bucket=OUT, Key=clustered_key(run, "p/a.parquet"))["Body"].read() == \
        b"clustered_key of p/a.parquet"
    assert read_json(s3, OUT, summary_key(run, "p/a.parquet"))["reused_from"] == "wrok-old"
    assert read_json(s3, OUT, f"runs/{run}/run.json")["reused"] == [{"key": "p/a.parquet", "run": "wrok-old"}]
    run_input = json.loads(sfn.describe_execution(executionArn=result["executions"][0]["execution_arn"])["input"])
    assert (run_input["max_concurrency"], run_input["tolerated_failure_percentage"]) == (3, 20.0)
    assert kickoff.handler({"prefix": "p/", "params": PARAMS, "force": False})["submitted"] == ["p/b.parquet"]


def test_nothing_to_do_starts_nothing(aws):
    s3, sfn, arn = aws
    assert kickoff.kickoff(s3, sfn, arn, IN, "empty/", OUT, PARAMS)["executions"] == []
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_kickoff_without_params_is_refused(aws, monkeypatch):
    monkeypatch.setenv("INPUT_BUCKET", IN)
    monkeypatch.setenv("OUTPUT_BUCKET", OUT)
    with pytest.raises(ValueError, match="params"):
        kickoff.handler({"prefix": "p/"})


def test_run_settings_come_from_the_deployed_machine_and_values_below_one_are_refused(aws):
    s3, sfn, _ = aws
    tagged = sfn.create_state_machine(
        name="wrok-tagged", definition=ASL, roleArn="arn:aws:iam::123456789012:role/wrok",
        tags=[{"key": "wrok:max-concurrency", "value": "5"},
              {"key": "wrok:tolerated-failure-percentage", "value": "2.5"}])["stateMachineArn"]
    assert kickoff.run_settings(sfn, tagged) == {"max_concurrency": 5, "tolerated_failure_percentage": 2.5}
    assert kickoff.run_settings(sfn, tagged, 9) == {"max_concurrency": 9, "tolerated_failure_percentage": 2.5}
    put(s3, "t/a.parquet")
    run = kickoff.start_runs(s3, sfn, tagged, IN, OUT, ["t/a.parquet"], PARAMS)[0]
    run_input = json.loads(sfn.describe_execution(executionArn=run["execution_arn"])["input"])
    assert (run_input["max_concurrency"], run_input["tolerated_failure_percentage"]) == (5, 2.5)
    for bad in (0, -3, 1.5, "0", True):
        with pytest.raises(ValueError, match="at least 1"):
            kickoff.start_runs(s3, sfn, tagged, IN, OUT, ["t/a.parquet"], PARAMS, max_concurrency=bad)
    with pytest.raises(ValueError, match="between 0 and 100"):
        kickoff.run_settings(sfn, tagged, 3, 140)
    assert len(sfn.list_executions(stateMachineArn=tagged)["executions"]) == 1  # the refused runs never started


def test_region_prefixes_are_unique_for_any_file_name(aws):
    keys = ["c/St. Louis.parquet", "c/St. Paul.parquet", "c/Île-de-France.parquet", "c/São Tomé.geoparquet",
            "a/North.parquet", "b/North.parquet", "a/x.parquet", "a/x.geoparquet", "c/v1.2.parquet"]
    names = kickoff.region_names(keys)
    assert len(set(names.values())) == len(keys)
    assert names["c/St. Louis.parquet"] == "St. Louis" and names["c/St. Paul.parquet"] == "St. Paul"
    assert names["c/Île-de-France.parquet"] == "Île-de-France" and names["c/v1.2.parquet"] == "v1.2"
    assert (names["a/North.parquet"], names["b/North.parquet"]) == ("a/North", "b/North")
