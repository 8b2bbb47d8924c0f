"""The whole pipeline over HTTP: moto's S3 and Step Functions interpreter (Distributed Map with an
S3 ItemReader and ResultWriter), the real clustering Lambda code, and the client.

Real here: HTTP to moto, S3 reads/writes by the handler, the ASL from aws/ interpreted by moto,
the Map Run and its item counts. Not real: moto's Lambda invoke is replaced by an in-process
call of the function's configured handler (conftest.call_real_handler); retries, throttling and
ToleratedFailurePercentage are not enforced by moto, so nothing here asserts on them.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from pipeline_stack import create_stack

from aws import client
from aws.kickoff import kickoff
from aws.split import split_by_region
from aws.storage import list_keys, read_json
from core.synthetic import clumped_population_frame

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

    started = client.submit(paths, PARAMS, IN, OUT, stack["state_machine_arn"], prefix="country",
                            options={"params_by_key": {"*/West.parquet": {"desired_cluster_radius": 600}}},
                            max_concurrency=2, tolerated_failure_percentage=50.0, endpoint_url=moto_endpoint)
    assert len(started["executions"]) == 1 and len(started["keys"]) == 5
    execution_arn = started["executions"][0]["execution_arn"]
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
        assert {f"clustered/{key}", f"clusters/{key}", f"summaries/{key}.json"} <= keys
    assert "errors/country/Atlantis.parquet.json" in keys and "summaries/country/Atlantis.parquet.json" not in keys
    assert any(k.startswith("map-results/") for k in keys)  # the ResultWriter ran (moto writes only its manifest)
    assert read_json(s3, OUT, "summaries/country/West.parquet.json")["params"]["desired_cluster_radius"] == 600
    assert read_json(s3, OUT, "summaries/country/North.parquet.json")["params"]["desired_cluster_radius"] == 1000

    # the kickoff Lambda's logic on the same prefix resumes: only the failed file is started again
    resumed = kickoff(s3, sfn, stack["state_machine_arn"], IN, "country/", OUT, PARAMS, max_concurrency=2)
    assert resumed["submitted"] == ["country/Atlantis.parquet"] and len(resumed["skipped_already_done"]) == 4
    wait_for(sfn, resumed["executions"][0]["execution_arn"])
    counts = client.status(resumed["executions"][0]["execution_arn"], endpoint_url=moto_endpoint)
    assert (counts["total"], counts["succeeded"], counts["failed"]) == (1, 0, 1)
