"""The clustering Lambda against moto's in-process S3."""

from __future__ import annotations

import re
import time

import boto3
import numpy as np
import pytest
from moto import mock_aws
from synthetic import clumped_population_frame

import aws.handler as handler_module
from aws.handler import ItemFailed, handler
from aws.storage import list_keys, object_exists, read_geoparquet, read_json, write_geoparquet

IN, OUT = "wrok-unit-in", "wrok-unit-out"
PARAMS = {"desired_cluster_weight": 240, "desired_cluster_radius": 1000, "max_cluster_weight": 300}


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3")
        for bucket in (IN, OUT):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


@pytest.fixture(scope="module")
def frame():
    return clumped_population_frame(800, seed=3)


RUN = "wrok-run-1"


def payload(key, **extra):
    return {"input_bucket": IN, "key": key, "output_bucket": OUT, "params": PARAMS, "run": RUN, **extra}


def out(kind, key):
    return f"runs/{RUN}/{kind}/{key}"


def test_clusters_a_region_file_and_writes_features_hulls_and_summary(s3, frame):
    write_geoparquet(s3, frame, IN, "regions/north.parquet")
    summary = handler(payload("regions/north.parquet"))
    features = read_geoparquet(s3, OUT, out("clustered", "regions/north.parquet"))
    assert features["cell_id"].tolist() == frame["cell_id"].tolist()  # every row, in order
    assert features["cluster_id"].str.startswith("north:").all()
    hulls = read_geoparquet(s3, OUT, out("clusters", "regions/north.parquet"))
    assert sorted(hulls["cluster_id"]) == sorted(features["cluster_id"].unique())
    assert np.isclose(hulls["weight"].sum(), frame["population"].sum())
    assert read_json(s3, OUT, out("summaries", "regions/north.parquet.json")) == summary
    assert summary["features"] == 800 and summary["stats"]["clusters"] == len(hulls)
    assert summary["params"]["desired_cluster_weight"] == 240


def test_rerun_overwrites_the_same_objects(s3, frame):
    write_geoparquet(s3, frame, IN, "north.parquet")
    first = handler(payload("north.parquet"))
    keys = sorted(list_keys(s3, OUT))
    second = handler(payload("north.parquet"))
    assert sorted(list_keys(s3, OUT)) == keys
    assert first["stats"] == second["stats"]  # same seed, same clusters


def test_corrupt_file_fails_with_its_key_and_leaves_an_error_object(s3):
    s3.put_object(Bucket=IN, Key="bad.parquet", Body=b"not parquet at all")
    with pytest.raises(ItemFailed, match=r"s3://wrok-unit-in/bad\.parquet: not a readable GeoParquet"):
        handler(payload("bad.parquet"))
    assert "bad.parquet" in read_json(s3, OUT, out("errors", "bad.parquet.json"))["error"]


def test_failure_after_success_removes_stale_results_and_success_clears_the_error(s3, frame):
    write_geoparquet(s3, frame, IN, "r.parquet")
    handler(payload("r.parquet"))
    with pytest.raises(ItemFailed, match="unknown clustering parameter"):
        handler(payload("r.parquet", params={**PARAMS, "target": 3}))
    assert sorted(list_keys(s3, OUT, "runs/")) == [out("errors", "r.parquet.json")]
    handler(payload("r.parquet"))
    assert out("errors", "r.parquet.json") not in set(list_keys(s3, OUT))


@pytest.mark.parametrize("problem, expected", [
    ("null_weight", "missing (null or NaN) weight"),
    ("missing_file", "the file does not exist"),
    ("no_radius", "desired_cluster_radius"),
    ("bad_value", "max cluster weight"),
])
def test_engine_and_input_errors_reach_the_caller_by_name(s3, frame, problem, expected):
    broken = frame.copy()
    if problem == "null_weight":
        broken.loc[broken.index[:3], "population"] = np.nan
    write_geoparquet(s3, broken, IN, "x.parquet")
    event = payload("gone.parquet" if problem == "missing_file" else "x.parquet")
    if problem == "no_radius":
        event["params"] = {"desired_cluster_weight": 240, "max_cluster_weight": 300}
    if problem == "bad_value":
        event["params"] = {**PARAMS, "max_cluster_weight": 100}
    with pytest.raises(ItemFailed, match=re.escape(expected)):
        handler(event)


def test_payload_without_required_fields_names_them(s3):
    with pytest.raises(ItemFailed, match="payload lacks key, params, run"):
        handler({"input_bucket": IN, "output_bucket": OUT})


def test_overrides_by_key_pattern_and_by_urban_column(s3, frame):
    urban, rural = frame.iloc[:400].copy(), frame.iloc[400:].copy()
    urban["urban"], rural["urban"] = 1, 0
    write_geoparquet(s3, urban, IN, "country/town.parquet")
    write_geoparquet(s3, rural, IN, "country/farms.parquet")
    options = {"params_by_column": {"field": "urban", "values": {"1": {"desired_cluster_radius": 500},
                                                                 "0": {"desired_cluster_radius": 3000}}},
               "params_by_key": {"country/*": {"desired_cluster_weight": 200}, "*/farms*": {"max_passes": 3}}}
    town = handler(payload("country/town.parquet", **options))["params"]
    farms = handler(payload("country/farms.parquet", **options))["params"]
    assert (town["desired_cluster_radius"], town["desired_cluster_weight"], town["max_passes"]) == (500, 200, 100)
    assert (farms["desired_cluster_radius"], farms["desired_cluster_weight"], farms["max_passes"]) == (3000, 200, 3)


def test_null_geometries_fail_by_default_and_stay_unclustered_when_kept(s3, frame):
    holed = frame.copy()
    holed.loc[holed.index[:2], "geometry"] = None
    write_geoparquet(s3, holed, IN, "holes.parquet")
    with pytest.raises(ItemFailed, match="null or empty geometry"):
        handler(payload("holes.parquet"))
    summary = handler(payload("holes.parquet", keep_null_geometries=True))
    features = read_geoparquet(s3, OUT, out("clustered", "holes.parquet"))
    assert features["cluster_id"].isna().sum() == 2 and summary["clustered_features"] == len(frame) - 2


class LambdaContext:
    """The part of Lambda's context object the handler uses: a deadline seconds from now."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def test_the_handler_records_its_own_time_out_with_the_region_size_before_the_deadline(s3, monkeypatch):
    monkeypatch.setenv("WROK_DEADLINE_MARGIN_S", "1")
    slow = clumped_population_frame(3000, seed=4)
    write_geoparquet(s3, slow, IN, "big.parquet")
    real_cluster_frame = handler_module.cluster_frame

    def slower_than_the_deadline(frame, params, **options):
        # A region too big for the time left, without depending on how fast this machine is: the
        # engine starts only once the watchdog has asked it to stop, and then stops at its first poll.
        while not options["is_cancelled"]():
            time.sleep(0.01)
        return real_cluster_frame(frame, params, **options)

    monkeypatch.setattr(handler_module, "cluster_frame", slower_than_the_deadline)
    with pytest.raises(ItemFailed, match=r"timed out: .*3,000 features"):
        handler(payload("big.parquet", params={**PARAMS, "strategy": "seed"}), LambdaContext(4))
    error = read_json(s3, OUT, out("errors", "big.parquet.json"))["error"]
    assert "ClusterTimeoutSeconds" in error and "MB" in error
    time.sleep(0.5)  # the stopped worker writes nothing afterwards
    assert sorted(list_keys(s3, OUT)) == [out("errors", "big.parquet.json")]


def test_a_region_that_finishes_in_time_is_not_affected_by_the_watchdog(s3, frame):
    write_geoparquet(s3, frame, IN, "north.parquet")
    summary = handler(payload("north.parquet"), LambdaContext(120))
    assert summary["features"] == len(frame) and object_exists(s3, OUT, out("summaries", "north.parquet.json"))


def test_cluster_ids_carry_the_whole_file_name_and_the_result_records_run_and_parameters(s3, frame):
    for name in ("St. Louis", "St. Paul"):
        write_geoparquet(s3, frame.iloc[:200], IN, f"us/{name}.parquet")
        summary = handler(payload(f"us/{name}.parquet"))
        ids = read_geoparquet(s3, OUT, out("clustered", f"us/{name}.parquet"))["cluster_id"]
        assert ids.str.startswith(f"{name}:").all()
        marker = read_json(s3, OUT, f"done/{summary['params_hash']}/us/{name}.parquet.json")
        assert marker["run"] == RUN == summary["run"] and marker["input_etag"] == summary["input_etag"]
    summary = handler(payload("us/St. Louis.parquet", region="us/St. Louis"))
    assert summary["region"] == "us/St. Louis"


def test_summary_notes_repaired_geometries(s3, frame):
    """A self-intersecting polygon is repaired for measuring, and the summary says so (the CLI's note)."""
    import shapely

    squares = frame.copy()
    squares["geometry"] = squares.geometry.buffer(0.0005, cap_style=3)
    x, y = frame.geometry.x.iloc[0], frame.geometry.y.iloc[0]
    squares.loc[0, "geometry"] = shapely.Polygon([(x, y), (x + 0.001, y + 0.001), (x + 0.001, y), (x, y + 0.001)])
    write_geoparquet(s3, squares, IN, "bowtie.parquet")
    summary = handler(payload("bowtie.parquet"))
    assert any("repaired 1 invalid geometry" in note for note in summary["notes"]), summary["notes"]
    assert read_json(s3, OUT, out("summaries", "bowtie.parquet.json"))["notes"] == summary["notes"]
