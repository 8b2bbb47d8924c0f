"""Clustering Lambda: one region file in, its clustered features, hulls and summary out.

Payload (one Distributed Map item):
  {"input_bucket", "key", "output_bucket", "params": {...},
   optional "params_by_key", "params_by_column" (see overrides.py),
   "weight_field" (default "population"), "epsg", "keep_null_geometries"}
A failing file raises ItemFailed naming s3://bucket/key and the problem, so only its own
map item fails; the error is also left at errors/<key>.json for the client to report.
"""

from __future__ import annotations

import time
from pathlib import PurePosixPath

from core import ClusteringInputError, __version__
from core.io import cluster_frame

from .overrides import resolve_params
from .storage import (
    clustered_key,
    clusters_key,
    error_key,
    read_geoparquet,
    s3_client,
    summary_key,
    write_geoparquet,
    write_json,
)

REQUIRED_FIELDS = ("input_bucket", "key", "output_bucket", "params")


class ItemFailed(Exception):
    """One region file could not be clustered; the message names the file and the problem."""


def region_name(key: str) -> str:
    """The file's stem: it prefixes cluster ids so ids stay unique once regions are merged."""
    return PurePosixPath(key).name.split(".")[0]


def cluster_object(s3, event: dict) -> dict:
    started = time.monotonic()
    bucket_in, key, bucket_out = event["input_bucket"], event["key"], event["output_bucket"]
    try:
        frame = read_geoparquet(s3, bucket_in, key)
    except s3.exceptions.NoSuchKey:
        raise ClusteringInputError("the file does not exist") from None
    except s3.exceptions.ClientError:
        raise
    except Exception as error:  # pyarrow's message says what is wrong with the bytes
        raise ClusteringInputError(f"not a readable GeoParquet file ({error})") from None
    params = resolve_params(event["params"], key, frame, event.get("params_by_key"), event.get("params_by_column"))
    features, clusters, result = cluster_frame(
        frame, params, weight_field=event.get("weight_field", "population"), epsg=event.get("epsg"),
        keep_null_geometries=bool(event.get("keep_null_geometries", False)))
    prefix = region_name(key) + ":"
    features["cluster_id"] = prefix + features["cluster_id"].astype("string")  # NA (unclustered) stays NA
    clusters["cluster_id"] = prefix + clusters["cluster_id"].astype(str)
    write_geoparquet(s3, features, bucket_out, clustered_key(key))
    write_geoparquet(s3, clusters, bucket_out, clusters_key(key))
    summary = {
        "key": key, "input": f"s3://{bucket_in}/{key}", "region": region_name(key),
        "clustered_key": clustered_key(key), "clusters_key": clusters_key(key), "summary_key": summary_key(key),
        "features": len(features), "clustered_features": int(features["cluster_id"].notna().sum()),
        "params": params.as_dict(), "stats": result.stats(), "engine_version": __version__,
        "seconds": round(time.monotonic() - started, 2),
    }
    write_json(s3, summary, bucket_out, summary_key(key))
    s3.delete_object(Bucket=bucket_out, Key=error_key(key))  # a success clears an earlier failure
    return summary


def record_failure(s3, event: dict, message: str) -> None:
    """Leave the error where the client looks, and drop stale results of an earlier success."""
    bucket_out, key = event["output_bucket"], event["key"]
    for stale in (clustered_key(key), clusters_key(key), summary_key(key)):
        s3.delete_object(Bucket=bucket_out, Key=stale)
    write_json(s3, {"key": key, "error": message}, bucket_out, error_key(key))


def handler(event, context=None):
    missing = [name for name in REQUIRED_FIELDS if not (isinstance(event, dict) and event.get(name))]
    if missing:
        raise ItemFailed(f"payload lacks {', '.join(missing)}")
    s3 = s3_client()
    try:
        return cluster_object(s3, event)
    except Exception as error:
        message = f"s3://{event['input_bucket']}/{event['key']}: {error}"
        try:
            record_failure(s3, event, message)
        except Exception as record_error:  # the item still fails with its own message
            message += f" (could not record the error: {record_error})"
        raise ItemFailed(message) from None
