"""The whole pipeline over HTTP: moto's S3 and Step Functions interpreter (Distributed Map with an
S3 ItemReader and ResultWriter), the real clustering Lambda code, and the client.

Real here: HTTP to moto, S3 reads/writes by the handler, the ASL from aws/ interpreted by moto,
the Map Run and its item counts. Not real: moto's Lambda invoke is replaced by an in-process
call of the function's configured handler (conftest.call_real_handler); retries, throttling and
ToleratedFailurePercentage are not enforced by moto, so nothing here asserts on them.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from pipeline_stack import create_stack
from synthetic import clumped_population_frame

from aws import client
from aws.kickoff import kickoff
from aws.split import split_by_region
from aws.storage import clustered_key, clusters_key, error_key, list_keys, map_results_prefix, read_json, summary_key

PARAMS = {"desired_cluster_weight": 240, "desired_cluster_radius": 1000, "max_cluster_weight": 300}
IN, OUT = "wrok-e2e-in", "wrok-e2e-out"


def wait_for(sfn, execution_arn: str, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.5)
    raise AssertionError(f"{execution_arn} still running after {seconds} s")


@pytest.fixture(scope="module")
def country():
    frame = clumped_population_frame(3000, seed=1)
    bands = np.digitize(frame.geometry.x, np.quantile(frame.geometry.x, [0.25, 0.5, 0.75]))
    frame["province"] = np.array(["North", "South-East", "West", "Île"])[bands]
    return frame


def test_pipeline_clusters_good_regions_and_reports_the_corrupt_one(moto_endpoint, country, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)  # what the Lambda code sees inside moto
    stack = create_stack(moto_endpoint, IN, OUT)
    s3, sfn = stack["s3"], stack["sfn"]
    regions = split_by_region(country, "province", tmp_path / "regions")
    corrupt = tmp_path / "regions" / "Atlantis.parquet"
    corrupt.write_bytes(b"this is not parquet")
    paths = [entry["path"] for entry in regions] + [str(corrupt)]

    options = {"params_by_key": {"*/West.parquet": {"desired_cluster_radius": 600}}}
    started = client.submit(paths, PARAMS, IN, OUT, stack["state_machine_arn"], prefix="country", options=options,
                            max_concurrency=2, tolerated_failure_percentage=50.0, endpoint_url=moto_endpoint)
    assert len(started["executions"]) == 1 and len(started["keys"]) == 5
    execution_arn, run = started["executions"][0]["execution_arn"], started["executions"][0]["run"]
    wait_for(sfn, execution_arn)

    counts = client.status(execution_arn, endpoint_url=moto_endpoint)
    assert counts["source"] == "map_run"
    assert (counts["total"], counts["succeeded"], counts["failed"], counts["pending"]) == (5, 4, 1, 0)

    merged, failed = client.fetch(execution_arn, endpoint_url=moto_endpoint)
    assert [f["key"] for f in failed] == ["country/Atlantis.parquet"]
    assert "not a readable GeoParquet" in failed[0]["error"] and "Atlantis.parquet" in failed[0]["error"]
    # every feature of the good regions exactly once, with its attributes
    assert sorted(merged["cell_id"]) == sorted(country["cell_id"])
    assert merged["cell_id"].is_unique and merged["cluster_id"].notna().all()
    by_cell = merged.set_index("cell_id")
    assert (by_cell.loc[country["cell_id"], "province"].to_numpy() == country["province"].to_numpy()).all()
    # cluster ids stay unique once regions are merged, and each cluster's weight is its members' sum
    assert set(merged.groupby("cluster_id")["source_key"].nunique()) == {1}
    sums = merged.groupby("cluster_id")["population"].sum()
    assert np.allclose(merged.groupby("cluster_id")["cluster_weight"].first()[sums.index], sums)

    keys = set(list_keys(s3, OUT))
    for entry in regions:
        key = f"country/{entry['name']}.parquet"
        assert {clustered_key(run, key), clusters_key(run, key), summary_key(run, key)} <= keys
    bad = "country/Atlantis.parquet"
    assert error_key(run, bad) in keys and summary_key(run, bad) not in keys
    map_run = sfn.list_map_runs(executionArn=execution_arn)["mapRuns"][0]["mapRunArn"]
    assert f"{map_results_prefix(map_run)}manifest.json" in keys  # the ResultWriter ran (moto writes its manifest)
    assert read_json(s3, OUT, summary_key(run, "country/West.parquet"))["params"]["desired_cluster_radius"] == 600
    assert read_json(s3, OUT, summary_key(run, "country/North.parquet"))["params"]["desired_cluster_radius"] == 1000

    # the kickoff Lambda's logic on the same prefix and settings resumes: only the failed file runs again,
    # and the new run holds the four earlier results too
    resumed = kickoff(s3, sfn, stack["state_machine_arn"], IN, "country/", OUT, PARAMS,
                      options={**options, "weight_field": "population"}, max_concurrency=2)
    assert resumed["submitted"] == [bad] and len(resumed["skipped_already_done"]) == 4
    resumed_arn = resumed["executions"][0]["execution_arn"]
    wait_for(sfn, resumed_arn)
    counts = client.status(resumed_arn, endpoint_url=moto_endpoint)
    assert (counts["total"], counts["succeeded"], counts["failed"], counts["reused"]) == (5, 4, 1, 4)
    again, failed_again = client.fetch(resumed_arn, endpoint_url=moto_endpoint)
    assert sorted(again["cell_id"]) == sorted(merged["cell_id"]) and [f["key"] for f in failed_again] == [bad]


def test_each_run_keeps_its_own_results_and_failures_come_from_the_result_writer(moto_endpoint, country, tmp_path,
                                                                                  monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    bucket_in, bucket_out = "wrok-runs-in", "wrok-runs-out"
    stack = create_stack(moto_endpoint, bucket_in, bucket_out, name="wrok-runs",
                         tags={"wrok:max-concurrency": "2", "wrok:tolerated-failure-percentage": "100"})
    s3, sfn, arn = stack["s3"], stack["sfn"], stack["state_machine_arn"]
    source = tmp_path / "country.parquet"
    country.to_parquet(source)

    def run(params):
        started = client.submit(source, params, bucket_in, bucket_out, arn, prefix="c", region_field="province",
                                endpoint_url=moto_endpoint)
        wait_for(sfn, started["executions"][0]["execution_arn"])
        return started["executions"][0]["execution_arn"]

    run_a = run(PARAMS)
    run_b = run({**PARAMS, "desired_cluster_weight": 120, "max_cluster_weight": 150})
    run_c = run({**PARAMS, "max_cluster_weight": 100})  # below the target: every region fails
    a, failed_a = client.fetch(run_a, endpoint_url=moto_endpoint)
    b, _ = client.fetch(run_b, endpoint_url=moto_endpoint)
    assert failed_a == [] and sorted(a["cell_id"]) == sorted(country["cell_id"])  # C's failure left A whole
    assert a["cluster_weight"].max() <= 300 and b["cluster_weight"].max() <= 150  # each run's own clusters
    assert a["cluster_id"].nunique() < b["cluster_id"].nunique()
    assert client.status(run_a, endpoint_url=moto_endpoint)["succeeded"] == 4
    assert client.status(run_c, endpoint_url=moto_endpoint)["failed"] == 4

    # resuming with A's parameters reuses A's results only; other parameters start every file again
    options = {"weight_field": "population"}
    again = kickoff(s3, sfn, arn, bucket_in, "c/", bucket_out, PARAMS, options=options)
    assert again["submitted"] == [] and {r["run"] for r in again["reused"]} == {run_a.rsplit(":", 1)[-1]}
    other = kickoff(s3, sfn, arn, bucket_in, "c/", bucket_out, {**PARAMS, "desired_cluster_weight": 200}, options)
    assert len(other["submitted"]) == 4 and other["reused"] == []
    wait_for(sfn, other["executions"][0]["execution_arn"])

    # a region whose Lambda was killed (time-out) leaves no error of its own: the client reads the
    # ResultWriter's FAILED_*.json, in the format AWS documents (moto writes only an empty manifest)
    key, run = "c/country/West.parquet", run_c.rsplit(":", 1)[-1]
    s3.delete_object(Bucket=bucket_out, Key=error_key(run, key))
    map_run = sfn.list_map_runs(executionArn=run_c)["mapRuns"][0]["mapRunArn"]
    folder = map_results_prefix(map_run)
    item = next(entry for entry in read_json(s3, bucket_out, f"runs/{run}/items.json") if entry["key"] == key)
    cause = {"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: 1f2e Error: Task timed out after 900.00 seconds"}
    s3.put_object(Bucket=bucket_out, Key=f"{folder}FAILED_0.json", Body=json.dumps([{
        "ExecutionArn": f"{map_run}:1", "Input": json.dumps(item), "InputDetails": {"Included": True},
        "Name": "1", "Status": "FAILED", "Error": "Sandbox.Timedout", "Cause": json.dumps(cause)}]).encode())
    manifest = read_json(s3, bucket_out, f"{folder}manifest.json")
    manifest["ResultFiles"]["FAILED"] = [{"Key": f"{folder}FAILED_0.json", "Size": 1}]
    s3.put_object(Bucket=bucket_out, Key=f"{folder}manifest.json", Body=json.dumps(manifest).encode())
    _, failed_c = client.fetch(run_c, endpoint_url=moto_endpoint)
    by_key = {failure["key"]: failure["error"] for failure in failed_c}
    assert by_key[key] == "Sandbox.Timedout: RequestId: 1f2e Error: Task timed out after 900.00 seconds"
    assert all("max cluster weight" in error for other_key, error in by_key.items() if other_key != key)
