"""Clustering Lambda: one region file in, its clustered features, hulls and summary out, under its run.

Payload (one Distributed Map item, written by kickoff.start_runs):
  {"input_bucket", "key", "output_bucket", "params": {...}, "run",
   optional "region" (cluster id prefix; default: the file name without .parquet),
   "params_by_key", "params_by_column" (see overrides.py), "weight_field" (default "population"),
   "epsg", "keep_null_geometries"}
Two kinds of failure, so Step Functions can tell them apart:
  ItemFailed      the file, its parameters or its size is the problem (a rerun would fail the same way):
                  the error is left at runs/<run>/errors/<key>.json and the run's partial outputs removed.
  TransientError  S3 throttling (SlowDown), 5xx or a dropped connection outlived botocore's retries:
                  nothing is written or removed; the state machine retries the item with a long backoff.
The clustering runs in a worker thread; shortly before the Lambda's own deadline the handler stops it
and records a time-out with the region's size itself, since a killed Lambda can report nothing.
"""

from __future__ import annotations

import io
import os
import threading
import time

import geopandas as gpd
from botocore.exceptions import BotoCoreError, ClientError

from core import ClusteringCancelled, ClusteringInputError, __version__
from core.io.files import cluster_frame

from .overrides import resolve_params
from .storage import (
    clustered_key,
    clusters_key,
    done_key,
    error_key,
    params_hash,
    region_stem,
    s3_client,
    summary_key,
    write_geoparquet,
    write_json,
)

REQUIRED_FIELDS = ("input_bucket", "key", "output_bucket", "params", "run")
# S3 error codes that say "later", not "never".
TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestLimitExceeded",
                   "InternalError", "ServiceUnavailable", "TooManyRequestsException", "500", "502", "503", "504"}


class ItemFailed(Exception):
    """One region file could not be clustered; the message names the file and the problem."""


class TransientError(Exception):
    """An AWS call failed for a reason that passes (throttling, 5xx, network); retry the item later."""


class RegionTimedOut(ClusteringInputError):
    """The region did not finish before the Lambda's deadline."""


def is_transient(error: BaseException) -> bool:
    if isinstance(error, TransientError):
        return True
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return details.get("Code") in TRANSIENT_CODES or status >= 500
    # connection refused/reset/closed, read and connect time-outs, a body cut short
    return isinstance(error, BotoCoreError)


def region_name(event: dict) -> str:
    """The cluster id prefix: unique per run because kickoff gives each key its own (see kickoff.region_names)."""
    return event.get("region") or region_stem(event["key"])


def deadline_margin_s() -> float:
    return float(os.environ.get("WROK_DEADLINE_MARGIN_S", 20))


def cluster_object(s3, event: dict, facts: dict, stop: threading.Event | None = None,
                   gate: threading.Lock | None = None) -> dict:
    """Cluster one file; facts receives its size as it becomes known (for the time-out message).

    stop set: give up (the engine polls it); the outputs are written holding gate, so a handler that
    sets stop while holding gate knows nothing more will be written."""
    stop, gate = stop or threading.Event(), gate or threading.Lock()
    started = time.monotonic()
    bucket_in, key = event["input_bucket"], event["key"]
    try:
        response = s3.get_object(Bucket=bucket_in, Key=key)
        facts["bytes"] = response.get("ContentLength")
        body = response["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise ClusteringInputError("the file does not exist") from None
    try:
        frame = gpd.read_parquet(io.BytesIO(body))
    except Exception as error:  # pyarrow's message says what is wrong with the bytes
        raise ClusteringInputError(f"not a readable GeoParquet file ({error})") from None
    del body
    facts["features"] = len(frame)
    params = resolve_params(event["params"], key, frame, event.get("params_by_key"), event.get("params_by_column"))
    notes = []  # what the engine repaired or could not hold (the CLI's note:/warning: lines)
    features, clusters, result = cluster_frame(
        frame, params, weight_field=event.get("weight_field", "population"), epsg=event.get("epsg"),
        keep_null_geometries=bool(event.get("keep_null_geometries", False)), is_cancelled=stop.is_set,
        log=notes.append)
    with gate:
        if stop.is_set():  # the handler reports a time-out: write nothing
            raise ClusteringCancelled("stopped at the deadline")
        return write_results(s3, event, features, clusters, result, params, response, started,
                             notes + result.over_max_warnings())


def write_results(s3, event, features, clusters, result, params, response, started, notes=()) -> dict:
    bucket_in, key, bucket_out, run = event["input_bucket"], event["key"], event["output_bucket"], event["run"]
    prefix = region_name(event) + ":"
    features["cluster_id"] = prefix + features["cluster_id"].astype("string")  # NA (unclustered) stays NA
    clusters["cluster_id"] = prefix + clusters["cluster_id"].astype(str)
    write_geoparquet(s3, features, bucket_out, clustered_key(run, key))
    write_geoparquet(s3, clusters, bucket_out, clusters_key(run, key))
    summary = {
        "key": key, "input": f"s3://{bucket_in}/{key}", "input_etag": response.get("ETag", "").strip('"'),
        "run": run, "params_hash": params_hash(event), "region": region_name(event),
        "clustered_key": clustered_key(run, key), "clusters_key": clusters_key(run, key),
        "summary_key": summary_key(run, key), "features": len(features),
        "clustered_features": int(features["cluster_id"].notna().sum()),
        "params": params.as_dict(), "stats": result.stats(), "engine_version": __version__,
        "seconds": round(time.monotonic() - started, 2), "notes": list(notes),
    }
    write_json(s3, summary, bucket_out, summary_key(run, key))  # last: its presence means "done"
    write_json(s3, {"run": run, "key": key, "input_etag": summary["input_etag"]}, bucket_out,
               done_key(summary["params_hash"], key))
    s3.delete_object(Bucket=bucket_out, Key=error_key(run, key))  # an earlier attempt's error, if any
    return summary


def size_text(facts: dict) -> str:
    parts = []
    if facts.get("features") is not None:
        parts.append(f"{facts['features']:,} features")
    if facts.get("bytes") is not None:
        parts.append(f"{facts['bytes'] / 1e6:.1f} MB")
    return ", ".join(parts) or "size unknown: the file was still being read"


def cluster_before_deadline(s3, event: dict, context) -> dict:
    """Run cluster_object, but give up margin seconds before the Lambda's deadline and say so."""
    facts: dict = {}
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:  # called outside Lambda (tests, scripts): no deadline
        return cluster_object(s3, event, facts)
    margin = min(deadline_margin_s(), remaining() / 2000)
    budget = remaining() / 1000 - margin
    stop, gate = threading.Event(), threading.Lock()
    outcome: dict = {}

    def work():
        try:
            outcome["summary"] = cluster_object(s3, event, facts, stop, gate)
        except BaseException as error:  # handed to the handler's thread
            outcome["error"] = error

    started = time.monotonic()
    worker = threading.Thread(target=work, name="wrok-cluster", daemon=True)
    worker.start()
    worker.join(min(max(budget, 0), threading.TIMEOUT_MAX))
    if worker.is_alive() and gate.acquire(timeout=margin / 2):  # not while it writes its outputs
        stop.set()
        gate.release()
        worker.join(margin / 2)  # the engine polls stop often
    if "summary" not in outcome and stop.is_set():
        raise RegionTimedOut(
            f"timed out: clustering did not finish in the {time.monotonic() - started:.0f} s left before the "
            f"Lambda's deadline (region of {size_text(facts)}); raise ClusterTimeoutSeconds (at most 900) or "
            "ClusterMemoryMB (more CPU), or split the region into smaller files")
    worker.join()  # finished, or writing its outputs right now
    if "error" in outcome:
        raise outcome["error"]
    return outcome["summary"]


def record_failure(s3, event: dict, message: str) -> None:
    """Leave the data error where the client looks, and drop this run's partial outputs for the key."""
    bucket_out, key, run = event["output_bucket"], event["key"], event["run"]
    for stale in (clustered_key(run, key), clusters_key(run, key), summary_key(run, key)):
        s3.delete_object(Bucket=bucket_out, Key=stale)
    write_json(s3, {"key": key, "run": run, "error": message}, bucket_out, error_key(run, key))


def handler(event, context=None):
    missing = [name for name in REQUIRED_FIELDS if not (isinstance(event, dict) and event.get(name))]
    if missing:
        raise ItemFailed(f"payload lacks {', '.join(missing)}")
    s3 = s3_client()
    where = f"s3://{event['input_bucket']}/{event['key']}"
    try:
        return cluster_before_deadline(s3, event, context)
    except Exception as error:
        if is_transient(error):  # nothing recorded: the earlier state stays as it was
            raise TransientError(f"{where}: {error}") from None
        message = f"{where}: {error}"
    try:
        record_failure(s3, event, message)
    except Exception as record_error:
        if is_transient(record_error):  # retried; the next attempt records it
            raise TransientError(f"{message} (could not record the error yet: {record_error})") from None
        message += f" (could not record the error: {record_error})"
    raise ItemFailed(message)
