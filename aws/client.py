"""Client for the AWS pipeline, free of QGIS: the Processing algorithm and `python -m aws` call it.

Credentials come only from boto3's standard chain (profile, environment, SSO, instance role);
nothing is written anywhere but the S3 objects of the run and the files the caller names.
Everything an execution produced lives under runs/<run>/ (see storage.py), so status and fetch
only ever see that run's results. fetch_to_file, download and split stream region by region:
memory follows the largest region, not the country.

geopandas, pyarrow and pyogrio are imported only by the calls that read or write layers, so status,
cancel, download and the upload of ready GeoParquet files load none of them (QGIS's desktop process
must not load geopandas next to its own PROJ/GEOS).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Optional

import boto3

from .kickoff import start_runs
from .storage import (
    client_config,
    clustered_key,
    clusters_key,
    error_key,
    is_region_file,
    map_results_prefix,
    read_json,
    read_json_or_none,
    region_from_arn,
    run_from_execution_arn,
    run_info_key,
    summary_key,
    write_geoparquet,
)

Progress = Optional[Callable[[float, str], None]]
LAYERS = ("features", "clusters")


def make_session(profile: Optional[str] = None, region: Optional[str] = None, session=None, arn: str = ""):
    """A boto3 session; with no region given, the region of the ARN the call is about."""
    return session or boto3.Session(profile_name=profile, region_name=region or region_from_arn(arn))


def clients(session, endpoint_url: Optional[str] = None):
    config = client_config()
    return (session.client("s3", endpoint_url=endpoint_url, config=config),
            session.client("stepfunctions", endpoint_url=endpoint_url, config=config))


def is_frame(value) -> bool:
    """A GeoDataFrame, recognised without importing geopandas."""
    return any(kind.__name__ == "GeoDataFrame" for kind in type(value).__mro__)


def named_layers(layers) -> list:
    """[(stem, path or GeoDataFrame)] from a path, a frame, a list of either, or {name: either}."""
    if isinstance(layers, dict):
        return list(layers.items())
    if isinstance(layers, (str, Path)) or is_frame(layers):
        layers = [layers]
    named = [(Path(layer).stem if isinstance(layer, (str, Path)) else f"layer_{index}", layer)
             for index, layer in enumerate(layers)]
    stems = [stem for stem, _ in named]
    repeated = sorted({stem for stem in stems if stems.count(stem) > 1})
    if repeated:  # they would overwrite each other's upload
        raise ValueError(f"several layers are named {', '.join(repeated)}; pass {{name: layer}} to name them")
    return named


def upload_layers(s3, layers, bucket_in: str, prefix: str, region_field: Optional[str], progress: Progress) -> list:
    """Upload each layer as GeoParquet (split by region_field when given, streaming from files); returns the keys.

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
        elif region_field:
            from .split import split_by_region

            destination = f"s3://{bucket_in}/{prefix}/{stem}" if prefix else f"s3://{bucket_in}/{stem}"
            keys += [entry["key"] for entry in split_by_region(layer, region_field, destination, s3=s3)]
        else:
            from core.io.files import read_layer

            write_geoparquet(s3, layer if is_frame(layer) else read_layer(layer), bucket_in, key)
            keys.append(key)
    return keys


def submit(layers, params: dict, bucket_in: str, bucket_out: str, state_machine_arn: str, prefix: str = "wrok",
           region_field: Optional[str] = None, *, weight_field: str = "population", options: Optional[dict] = None,
           max_concurrency: Optional[int] = None, tolerated_failure_percentage: Optional[float] = None,
           profile: Optional[str] = None, region: Optional[str] = None, session=None,
           endpoint_url: Optional[str] = None, progress: Progress = None) -> dict:
    """Upload the layers to s3://bucket_in/prefix/ and start the pipeline on exactly those files.

    options may hold params_by_key, params_by_column, epsg, keep_null_geometries (see aws/overrides.py).
    max_concurrency / tolerated_failure_percentage default to the deployed stack's values.
    Returns {"executions": [{"execution_arn", "run", "items", "manifest"}], "keys": [...]}.
    """
    s3, sfn = clients(make_session(profile, region, session, state_machine_arn), endpoint_url)
    keys = upload_layers(s3, layers, bucket_in, prefix, region_field, progress)
    run_options = {**(options or {}), "weight_field": weight_field}
    executions = start_runs(s3, sfn, state_machine_arn, bucket_in, bucket_out, keys, params, run_options,
                            max_concurrency=max_concurrency, tolerated_failure_percentage=tolerated_failure_percentage)
    if progress:
        progress(1.0, f"started {len(executions)} execution(s) on {len(keys)} file(s)")
    return {"executions": executions, "keys": keys}


def run_record(s3, sfn, execution_arn: str) -> tuple:
    """(execution description, output bucket, run name, run.json, every key of the run)."""
    execution = sfn.describe_execution(executionArn=execution_arn)
    bucket = json.loads(execution["input"])["manifest_bucket"]
    run = run_from_execution_arn(execution_arn)
    info = read_json(s3, bucket, run_info_key(run))
    return execution, bucket, run, info, list(info["keys"]) + [entry["key"] for entry in info.get("reused", [])]


def map_failures(s3, sfn, bucket: str, execution_arn: str) -> dict:
    """{key: the Lambda's own error} from the ResultWriter's FAILED_*.json files of this execution.

    Each entry there holds the item as Input and, for a Lambda error, a Cause that is the
    function's {"errorType", "errorMessage"}; a Lambda killed at its time-out says Sandbox.Timedout.
    """
    errors = {}
    for map_run in sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", []):
        manifest = read_json_or_none(s3, bucket, map_results_prefix(map_run["mapRunArn"]) + "manifest.json")
        if manifest is None:  # the Map Run has not finished
            continue
        for result_file in manifest.get("ResultFiles", {}).get("FAILED", []):
            for entry in read_json(s3, manifest.get("DestinationBucket", bucket), result_file["Key"]):
                item = entry.get("Input")
                item = json.loads(item) if isinstance(item, str) else item or {}
                errors[item.get("key")] = failure_text(entry.get("Error"), entry.get("Cause"))
    return errors


def failure_text(error: Optional[str], cause) -> str:
    try:
        details = json.loads(cause) if isinstance(cause, str) else cause or {}
    except ValueError:
        details = {"errorMessage": cause}
    if not isinstance(details, dict):
        details = {"errorMessage": str(details)}
    kind = details.get("errorType") or error or "Failed"
    return f"{kind}: {details.get('errorMessage') or cause or 'no cause given'}"


def item_outcomes(s3, bucket: str, run: str, keys) -> tuple:
    """(succeeded keys, [(key, error message)], keys with neither result nor error yet), this run only."""
    def outcome(key):
        if read_json_or_none(s3, bucket, summary_key(run, key)) is not None:
            return "done", None
        error = read_json_or_none(s3, bucket, error_key(run, key))
        return ("failed", error.get("error", "unknown error")) if error is not None else ("open", None)

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(outcome, keys))
    done = [key for key, (state, _) in zip(keys, outcomes) if state == "done"]
    failed = [(key, message) for key, (state, message) in zip(keys, outcomes) if state == "failed"]
    return done, failed, [key for key, (state, _) in zip(keys, outcomes) if state == "open"]


def status(execution_arn: str, *, profile: Optional[str] = None, region: Optional[str] = None, session=None,
           endpoint_url: Optional[str] = None) -> dict:
    """Item counts from the Map Run (DescribeMapRun); from the run's S3 objects before the Map Run exists.

    Earlier results the run reused count as succeeded (and in total) either way.
    """
    s3, sfn = clients(make_session(profile, region, session, execution_arn), endpoint_url)
    execution, bucket, run, info, keys = run_record(s3, sfn, execution_arn)
    reused = len(info.get("reused", []))
    counts = {"execution_status": execution["status"], "run": run, "reused": reused}
    map_runs = sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
    if map_runs:
        items = sfn.describe_map_run(mapRunArn=map_runs[-1]["mapRunArn"])["itemCounts"]
        counts.update(source="map_run", total=items["total"] + reused, succeeded=items["succeeded"] + reused,
                      failed=items["failed"] + items.get("timedOut", 0) + items.get("aborted", 0),
                      running=items["running"], pending=items["pending"])
        return counts
    done, failed, open_keys = item_outcomes(s3, bucket, run, keys)
    counts.update(source="s3", total=len(keys), succeeded=len(done), failed=len(failed), running=0,
                  pending=len(open_keys))
    return counts


def cancel(execution_arn: str, *, profile: Optional[str] = None, region: Optional[str] = None, session=None,
           endpoint_url: Optional[str] = None) -> None:
    """Stop the execution; its Map Run stops starting items (running Lambdas finish on their own)."""
    _, sfn = clients(make_session(profile, region, session, execution_arn), endpoint_url)
    sfn.stop_execution(executionArn=execution_arn, error="Cancelled", cause="cancelled from the wrok client")


def results(s3, sfn, execution_arn: str, layer: str) -> tuple:
    """(bucket, [(key, object key of its result)], [{"key", "error"}]) for one execution."""
    if layer not in LAYERS:
        raise ValueError(f"layer must be 'features' or 'clusters' (got {layer!r})")
    execution, bucket, run, _, keys = run_record(s3, sfn, execution_arn)
    done, failed, open_keys = item_outcomes(s3, bucket, run, keys)
    failures = [{"key": key, "error": message} for key, message in failed]
    if open_keys:
        written = map_failures(s3, sfn, bucket, execution_arn) if execution["status"] != "RUNNING" else {}
        unfinished = ("no result yet: the run is still going" if execution["status"] == "RUNNING"
                      else f"no result recorded (run {execution['status'].lower()}; it was cancelled or its "
                           "Lambda never ran to the end)")
        failures += [{"key": key, "error": written.get(key, unfinished)} for key in open_keys]
    object_key = clustered_key if layer == "features" else clusters_key
    return bucket, [(key, object_key(run, key)) for key in done], failures


def download(execution_arn: str, folder, *, layer: str = "features", workers: int = 8,
             profile: Optional[str] = None, region: Optional[str] = None, session=None,
             endpoint_url: Optional[str] = None, progress: Progress = None) -> tuple:
    """Download each succeeded region's GeoParquet into folder, several at once; ([(key, path)], failed)."""
    s3, sfn = clients(make_session(profile, region, session, execution_arn), endpoint_url)
    bucket, done, failures = results(s3, sfn, execution_arn, layer)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def fetch_one(index: int, object_key: str):
        path = folder / f"{index:06d}.parquet"  # region names may hold any character
        try:
            s3.download_file(bucket, object_key, str(path))
        except s3.exceptions.ClientError as error:  # e.g. deleted by hand or expired after the run
            if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey"):
                raise
            return None
        return path

    fetched = [None] * len(done)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        futures = {pool.submit(fetch_one, index, object_key): index for index, (_, object_key) in enumerate(done)}
        try:
            for count, future in enumerate(as_completed(futures), 1):
                fetched[futures[future]] = future.result()
                if progress:  # from the caller's thread: QGIS feedback must not be touched from workers
                    progress(count / len(done), f"downloaded {done[futures[future]][0]}")
        except BaseException:  # a failed download, or the caller cancelling from progress: start no more
            for future in futures:
                future.cancel()
            raise
    fetched = list(zip((key for key, _ in done), fetched))
    failures += [{"key": key, "error": f"summary present but {object_key} is missing"}
                 for (key, object_key), (_, path) in zip(done, fetched) if path is None]
    return [(key, path) for key, path in fetched if path is not None], failures


def fetch_to_file(execution_arn: str, output, *, layer: str = "features", workers: int = 8,
                  profile: Optional[str] = None, region: Optional[str] = None, session=None,
                  endpoint_url: Optional[str] = None, progress: Progress = None) -> tuple:
    """Merge the run's results into one file (.parquet, .gpkg, ...), one region at a time; (rows, failed).

    The file is written beside output and moved into place at the end: a failure leaves output as it was.
    Each row gets source_key, the input file it came from.
    """
    output = Path(output)
    scratch = Path(tempfile.mkdtemp(prefix="wrok_fetch_", dir=output.parent if output.parent.exists() else None))
    try:
        downloaded, failures = download(execution_arn, scratch / "regions", layer=layer, workers=workers,
                                        profile=profile, region=region, session=session, endpoint_url=endpoint_url,
                                        progress=progress)
        from .merge import merge_region_files

        rows = merge_region_files(downloaded, scratch / output.name, layer)
        if rows:
            os.replace(scratch / output.name, output)
        return rows, failures
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def dataset(execution_arn: str, *, layer: str = "features", profile: Optional[str] = None,
            region: Optional[str] = None, session=None, endpoint_url: Optional[str] = None) -> tuple:
    """Leave the results in S3: ({"uri", "files"}, failed), the run's GeoParquet dataset, one file per region."""
    s3, sfn = clients(make_session(profile, region, session, execution_arn), endpoint_url)
    bucket, done, failures = results(s3, sfn, execution_arn, layer)
    run = run_from_execution_arn(execution_arn)
    folder = "clustered" if layer == "features" else "clusters"
    return {"uri": f"s3://{bucket}/runs/{run}/{folder}/",
            "files": [f"s3://{bucket}/{object_key}" for _, object_key in done]}, failures


def fetch(execution_arn: str, *, layer: str = "features", profile: Optional[str] = None,
          region: Optional[str] = None, session=None, endpoint_url: Optional[str] = None,
          progress: Progress = None) -> tuple:
    """(merged GeoDataFrame, failed) for one execution, in memory: fine for a province, not a country
    (use fetch_to_file or download there).

    layer "features" gives every feature of the succeeded files with cluster_id (prefixed with
    the file's region name), cluster_weight, cluster_pass and source_key; "clusters" gives the
    cluster hulls. failed is [{"key", "error"}] for files that failed or have no result yet.
    """
    import geopandas as gpd
    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="wrok_fetch_") as folder:
        downloaded, failures = download(execution_arn, folder, layer=layer, profile=profile, region=region,
                                        session=session, endpoint_url=endpoint_url, progress=progress)
        frames = []
        for key, path in downloaded:
            frame = gpd.read_parquet(path)
            frame["source_key"] = key
            frames.append(frame.to_crs(frames[0].crs) if frames and frame.crs != frames[0].crs else frame)
    if not frames:
        return gpd.GeoDataFrame(), failures
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs), failures
