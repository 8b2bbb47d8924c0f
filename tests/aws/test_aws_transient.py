"""S3 throttling (503 SlowDown) between the clustering Lambda and S3, over HTTP: moto's server behind
a proxy that refuses chosen requests. A passing SlowDown is absorbed by botocore's retries; one that
outlasts them is a TransientError that records nothing and removes nothing, and the state machine
retries the item; only data errors are recorded as the region's failure."""

from __future__ import annotations

import time

import boto3
import pytest
from fault_proxy import FaultProxy
from pipeline_stack import create_stack
from synthetic import clumped_population_frame

from aws import client
from aws.handler import ItemFailed, TransientError, handler
from aws.kickoff import start_runs
from aws.storage import (
    clustered_key,
    clusters_key,
    error_key,
    list_keys,
    object_exists,
    read_geoparquet,
    summary_key,
    write_geoparquet,
)

PARAMS = {"desired_cluster_weight": 240, "desired_cluster_radius": 1000, "max_cluster_weight": 300}


@pytest.fixture(scope="module")
def proxy(moto_endpoint):
    with FaultProxy(moto_endpoint) as running:
        yield running


@pytest.fixture
def buckets(moto_endpoint, proxy, monkeypatch, request):
    """Fresh buckets; the Lambda code reaches S3 through the proxy with 2 tries per call."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    proxy.clear()
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    names = [f"wrok-{request.node.name[5:25].replace('_', '-')}-{side}" for side in ("in", "out")]
    for bucket in names:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    write_geoparquet(s3, clumped_population_frame(400, seed=5), names[0], "r/North.parquet")
    yield s3, *names
    proxy.clear()


def item(bucket_in, bucket_out, run="wrok-run-a", **extra):
    return {"input_bucket": bucket_in, "key": "r/North.parquet", "output_bucket": bucket_out, "params": PARAMS,
            "run": run, **extra}


def outputs(run):
    return [clustered_key(run, "r/North.parquet"), clusters_key(run, "r/North.parquet"),
            summary_key(run, "r/North.parquet")]


def test_slowdown_on_read_that_outlasts_retries_is_transient_and_keeps_earlier_results(buckets, proxy):
    s3, bucket_in, bucket_out = buckets
    handler(item(bucket_in, bucket_out))
    before = sorted(list_keys(s3, bucket_out))
    proxy.slow_down("GET", f"/{bucket_in}/r/North.parquet")
    with pytest.raises(TransientError, match="SlowDown"):
        handler(item(bucket_in, bucket_out))  # e.g. the Map retrying the same item
    assert sorted(list_keys(s3, bucket_out)) == before  # nothing removed, no error recorded
    assert not object_exists(s3, bucket_out, error_key("wrok-run-a", "r/North.parquet"))
    assert len(proxy.refused) >= 2  # botocore tried twice before giving up


def test_slowdown_on_write_is_transient_and_the_retry_succeeds(buckets, proxy):
    s3, bucket_in, bucket_out = buckets
    proxy.slow_down("PUT", "/runs/wrok-run-b/clustered/")
    with pytest.raises(TransientError, match="SlowDown"):
        handler(item(bucket_in, bucket_out, run="wrok-run-b"))
    assert not any(key.startswith("runs/wrok-run-b/") for key in list_keys(s3, bucket_out))
    assert len(proxy.refused) >= 2
    proxy.clear()
    summary = handler(item(bucket_in, bucket_out, run="wrok-run-b"))
    assert all(object_exists(s3, bucket_out, key) for key in outputs("wrok-run-b"))
    assert summary["features"] == 400


def test_a_passing_slowdown_is_absorbed_by_botocore_retries(buckets, proxy):
    s3, bucket_in, bucket_out = buckets
    proxy.slow_down("GET", f"/{bucket_in}/r/North.parquet", times=1)
    proxy.slow_down("PUT", "/runs/wrok-run-c/summaries/", times=1)
    handler(item(bucket_in, bucket_out, run="wrok-run-c"))
    assert [method for method, _ in proxy.refused[-2:]] == ["GET", "PUT"]
    assert len(read_geoparquet(s3, bucket_out, clustered_key("wrok-run-c", "r/North.parquet"))) == 400


def test_data_errors_are_still_recorded_while_s3_slows_down(buckets, proxy):
    s3, bucket_in, bucket_out = buckets
    proxy.slow_down("PUT", "/errors/", times=1)  # recording the error is itself retried
    with pytest.raises(ItemFailed, match="max cluster weight"):
        handler(item(bucket_in, bucket_out, run="wrok-run-d", params={**PARAMS, "max_cluster_weight": 100}))
    assert object_exists(s3, bucket_out, error_key("wrok-run-d", "r/North.parquet"))


def test_state_machine_retries_a_transient_error_until_the_region_succeeds(buckets, proxy, moto_endpoint):
    s3, bucket_in, bucket_out = buckets
    stack = create_stack(moto_endpoint, f"{bucket_in}-x", f"{bucket_out}-x", name="wrok-retry")
    s3.copy_object(Bucket=f"{bucket_in}-x", Key="r/North.parquet",
                   CopySource={"Bucket": bucket_in, "Key": "r/North.parquet"})
    # 3 refusals: the first invocation's 2 tries fail (TransientError), the retried invocation gets through
    proxy.slow_down("GET", f"/{bucket_in}-x/r/North.parquet", times=3)
    run = start_runs(s3, stack["sfn"], stack["state_machine_arn"], f"{bucket_in}-x", f"{bucket_out}-x",
                     ["r/North.parquet"], PARAMS, max_concurrency=1)[0]
    deadline = time.monotonic() + 120
    while stack["sfn"].describe_execution(executionArn=run["execution_arn"])["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution still running"
        time.sleep(0.5)
    assert len(proxy.refused) == 3
    counts = client.status(run["execution_arn"], endpoint_url=moto_endpoint)
    assert (counts["succeeded"], counts["failed"]) == (1, 0)
    merged, failed = client.fetch(run["execution_arn"], endpoint_url=moto_endpoint)
    assert len(merged) == 400 and failed == []
