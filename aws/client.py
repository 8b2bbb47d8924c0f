"""Client for the AWS pipeline, free of QGIS: the Processing algorithm and `python -m aws` call it.

Credentials come only from boto3's standard chain (profile, environment, SSO, instance role);
nothing is written anywhere but the S3 objects of the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

import boto3
import geopandas as gpd
import pandas as pd

from core.io import read_layer

from .kickoff import start_runs
from .split import split_by_region
from .storage import (
    clustered_key,
    clusters_key,
    error_key,
    is_region_file,
    object_exists,
    read_geoparquet,
    read_json,
    summary_key,
    write_geoparquet,
)

Progress = Optional[Callable[[float, str], None]]


def make_session(profile: Optional[str] = None, region: Optional[str] = None, session=None):
    return session or boto3.Session(profile_name=profile, region_name=region)


def clients(session, endpoint_url: Optional[str] = None):
    return session.client("s3", endpoint_url=endpoint_url), session.client("stepfunctions", endpoint_url=endpoint_url)


def named_layers(layers) -> list:
    """[(stem, path or GeoDataFrame)] from a path, a frame, a list of either, or {name: either}."""
    if isinstance(layers, dict):
        return list(layers.items())
    if isinstance(layers, (str, Path, gpd.GeoDataFrame)):
        layers = [layers]
    named = [(Path(layer).stem if isinstance(layer, (str, Path)) else f"layer_{index}", layer)
             for index, layer in enumerate(layers)]
    stems = [stem for stem, _ in named]
    repeated = sorted({stem for stem in stems if stems.count(stem) > 1})
    if repeated:  # they would overwrite each other's upload
        raise ValueError(f"several layers are named {', '.join(repeated)}; pass {{name: layer}} to name them")
    return named


def upload_layers(s3, layers, bucket_in: str, prefix: str, region_field: Optional[str], progress: Progress) -> list:
    """Upload each layer as GeoParquet (split by region_field when given); returns the keys.

    GeoParquet files that need no split go up unchanged; other formats are converted first.
    """
    prefix = prefix.strip("/")
    keys = []
    named = named_layers(layers)
    for index, (stem, layer) in enumerate(named):
        if progress:
            progress(index / max(len(named), 1), f"uploading {stem}")
        key = f"{prefix}/{stem}.parquet" if prefix else f"{stem}.parquet"
        if not region_field and isinstance(layer, (str, Path)) and is_region_file(str(layer)):
            s3.upload_file(str(layer), bucket_in, key)  # byte for byte: the Lambda reports a bad file
            keys.append(key)
            continue
        frame = layer if isinstance(layer, gpd.GeoDataFrame) else read_layer(layer)
        if region_field:
            written = split_by_region(frame, region_field, f"s3://{bucket_in}/{prefix}/{stem}", s3=s3)
            keys += [entry["key"] for entry in written]
        else:
            write_geoparquet(s3, frame, bucket_in, key)
            keys.append(key)
    return keys


def submit(layers, params: dict, bucket_in: str, bucket_out: str, state_machine_arn: str, prefix: str = "wrok",
           region_field: Optional[str] = None, *, weight_field: str = "population", options: Optional[dict] = None,
           max_concurrency: int = 40, tolerated_failure_percentage: float = 10.0, profile: Optional[str] = None,
           region: Optional[str] = None, session=None, endpoint_url: Optional[str] = None,
           progress: Progress = None) -> dict:
    """Upload the layers to s3://bucket_in/prefix/ and start the pipeline on exactly those files.

    options may hold params_by_key, params_by_column, epsg, keep_null_geometries (see aws/overrides.py).
    Returns {"executions": [{"execution_arn", "run", "items", "manifest"}], "keys": [...]}.
    """
    s3, sfn = clients(make_session(profile, region, session), endpoint_url)
    keys = upload_layers(s3, layers, bucket_in, prefix, region_field, progress)
    run_options = {**(options or {}), "weight_field": weight_field}
    executions = start_runs(s3, sfn, state_machine_arn, bucket_in, bucket_out, keys, params, run_options,
                            max_concurrency=max_concurrency, tolerated_failure_percentage=tolerated_failure_percentage)
    if progress:
        progress(1.0, f"started {len(executions)} execution(s) on {len(keys)} file(s)")
    return {"executions": executions, "keys": keys}


def run_items(s3, sfn, execution_arn: str) -> tuple:
    """(execution description, the items its manifest lists)."""
    execution = sfn.describe_execution(executionArn=execution_arn)
    run_input = json.loads(execution["input"])
    return execution, read_json(s3, run_input["manifest_bucket"], run_input["manifest_key"])


def item_outcomes(s3, items) -> tuple:
    """(succeeded items, [(item, error message)], items with neither result nor error yet)."""
    done, failed, open_items = [], [], []
    for item in items:
        bucket, key = item["output_bucket"], item["key"]
        if object_exists(s3, bucket, summary_key(key)):
            done.append(item)
        elif object_exists(s3, bucket, error_key(key)):
            failed.append((item, read_json(s3, bucket, error_key(key)).get("error", "unknown error")))
        else:
            open_items.append(item)
    return done, failed, open_items


def status(execution_arn: str, *, profile: Optional[str] = None, region: Optional[str] = None, session=None,
           endpoint_url: Optional[str] = None) -> dict:
    """Item counts from the Map Run (DescribeMapRun); from the run's S3 objects before the Map Run exists."""
    s3, sfn = clients(make_session(profile, region, session), endpoint_url)
    execution = sfn.describe_execution(executionArn=execution_arn)
    counts = {"execution_status": execution["status"]}
    map_runs = sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
    if map_runs:
        items = sfn.describe_map_run(mapRunArn=map_runs[-1]["mapRunArn"])["itemCounts"]
        counts.update(source="map_run", total=items["total"], succeeded=items["succeeded"],
                      failed=items["failed"] + items.get("timedOut", 0) + items.get("aborted", 0),
                      running=items["running"], pending=items["pending"])
        return counts
    _, items = run_items(s3, sfn, execution_arn)
    done, failed, open_items = item_outcomes(s3, items)
    counts.update(source="s3", total=len(items), succeeded=len(done), failed=len(failed), running=0,
                  pending=len(open_items))
    return counts


def cancel(execution_arn: str, *, profile: Optional[str] = None, region: Optional[str] = None, session=None,
           endpoint_url: Optional[str] = None) -> None:
    """Stop the execution; its Map Run stops starting items (running Lambdas finish on their own)."""
    _, sfn = clients(make_session(profile, region, session), endpoint_url)
    sfn.stop_execution(executionArn=execution_arn, error="Cancelled", cause="cancelled from the wrok client")


def fetch(execution_arn: str, *, layer: str = "features", profile: Optional[str] = None,
          region: Optional[str] = None, session=None, endpoint_url: Optional[str] = None,
          progress: Progress = None) -> tuple:
    """(merged GeoDataFrame, failed) for one execution.

    layer "features" gives every feature of the succeeded files with cluster_id (prefixed with
    the file's region name), cluster_weight, cluster_pass and source_key; "clusters" gives the
    cluster hulls. failed is [{"key", "error"}] for files that failed or have no result yet.
    """
    if layer not in ("features", "clusters"):
        raise ValueError(f"layer must be 'features' or 'clusters' (got {layer!r})")
    s3, sfn = clients(make_session(profile, region, session), endpoint_url)
    execution, items = run_items(s3, sfn, execution_arn)
    done, failed, open_items = item_outcomes(s3, items)
    unfinished = ("no result yet: the run is still going" if execution["status"] == "RUNNING"
                  else f"no result recorded (run {execution['status'].lower()}; the Lambda may have timed out, "
                       "run out of memory or been cancelled)")
    failures = [{"key": item["key"], "error": message} for item, message in failed]
    failures += [{"key": item["key"], "error": unfinished} for item in open_items]
    frames = []
    for index, item in enumerate(done):
        if progress:
            progress(index / max(len(done), 1), f"downloading {item['key']}")
        object_key = clustered_key(item["key"]) if layer == "features" else clusters_key(item["key"])
        try:
            frame = read_geoparquet(s3, item["output_bucket"], object_key)
        except s3.exceptions.NoSuchKey:  # e.g. deleted by hand after the run
            failures.append({"key": item["key"], "error": f"summary present but {object_key} is missing"})
            continue
        frame["source_key"] = item["key"]
        frames.append(frame.to_crs(frames[0].crs) if frames and frame.crs != frames[0].crs else frame)
    if not frames:
        return gpd.GeoDataFrame(), failures
    merged = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    return merged, failures
