"""Kickoff against moto (state machines are created but not executed here)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from aws import kickoff
from aws.storage import read_json, write_json

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


def test_lists_region_files_and_skips_those_already_summarized(aws):
    s3, _, _ = aws
    put(s3, "c/a.parquet", "c/b.parquet", "c/c.geoparquet", "c/notes.txt", "other/d.parquet")
    write_json(s3, {"done": True}, OUT, "summaries/c/b.parquet.json")
    todo, done = kickoff.keys_to_process(s3, IN, "c/", OUT)
    assert (todo, done) == (["c/a.parquet", "c/c.geoparquet"], ["c/b.parquet"])
    assert kickoff.keys_to_process(s3, IN, "c/", OUT, force=True)[0] == ["c/a.parquet", "c/b.parquet",
                                                                         "c/c.geoparquet"]


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
                   and (item["input_bucket"], item["output_bucket"]) == (IN, OUT) for item in items)
        listed += [item["key"] for item in items]
    assert listed == keys  # every key once


def test_lambda_handler_uses_its_environment(aws, monkeypatch):
    s3, sfn, arn = aws
    put(s3, "p/a.parquet", "p/b.parquet")
    write_json(s3, {}, OUT, "summaries/p/a.parquet.json")
    for name, value in {"INPUT_BUCKET": IN, "OUTPUT_BUCKET": OUT, "STATE_MACHINE_ARN": arn,
                        "MAX_CONCURRENCY": "3", "TOLERATED_FAILURE_PERCENTAGE": "20"}.items():
        monkeypatch.setenv(name, value)
    result = kickoff.handler({"prefix": "p/", "params": PARAMS})
    assert result["submitted"] == ["p/b.parquet"] and result["skipped_already_done"] == ["p/a.parquet"]
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
