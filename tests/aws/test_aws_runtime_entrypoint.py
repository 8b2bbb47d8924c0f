"""The image's entry point: `python -m awslambdaric aws.handler.handler` answers invocations from a
Lambda Runtime API (a local stand-in) and reads/writes S3 (moto's HTTP server)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
from runtime_api import RuntimeApi
from synthetic import clumped_population_frame

from aws.storage import read_geoparquet, write_geoparquet

REPO = Path(__file__).resolve().parents[2]
IN, OUT = "wrok-ric-in", "wrok-ric-out"
PARAMS = {"desired_cluster_weight": 240, "desired_cluster_radius": 1000, "max_cluster_weight": 300}


def test_runtime_interface_client_runs_the_handler_for_a_good_and_a_bad_file(moto_endpoint):
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    for bucket in (IN, OUT):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    frame = clumped_population_frame(300, seed=7)
    write_geoparquet(s3, frame, IN, "good.parquet")
    s3.put_object(Bucket=IN, Key="bad.parquet", Body=b"garbage")
    events = [{"input_bucket": IN, "key": key, "output_bucket": OUT, "params": PARAMS, "run": "wrok-ric"}
              for key in ("good.parquet", "bad.parquet")]

    with RuntimeApi(events) as api:
        env = {**os.environ, "AWS_LAMBDA_RUNTIME_API": api.address, "AWS_ENDPOINT_URL": moto_endpoint,
               "PYTHONDONTWRITEBYTECODE": "1"}
        runtime = subprocess.Popen([sys.executable, "-m", "awslambdaric", "aws.handler.handler"], cwd=REPO, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            answered = api.finished.wait(timeout=120)
        finally:
            runtime.kill()
            output = runtime.communicate(timeout=30)[0].decode(errors="replace")
    assert answered, f"the runtime did not answer both invocations:\n{output[-3000:]}"
    assert "init" not in api.errors, api.errors
    summary = api.responses["request-0"]
    assert summary["key"] == "good.parquet" and summary["features"] == 300
    assert read_geoparquet(s3, OUT, "runs/wrok-ric/clustered/good.parquet")["cell_id"].tolist() == frame["cell_id"].tolist()
    error = api.errors["request-1"]
    assert error["errorType"] == "ItemFailed" and "s3://wrok-ric-in/bad.parquet" in error["errorMessage"]
