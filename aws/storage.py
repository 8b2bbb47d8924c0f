"""S3 layout shared by the Lambdas and the client, GeoParquet to and from S3, and the S3 client settings.

Every result belongs to one run (one Step Functions execution, named <run>), so a rerun with other
parameters can never return or overwrite another run's results. In the output bucket:
  runs/<run>/run.json                  the run: params, options, params_hash, reused earlier results
  runs/<run>/items.json                the items manifest the Distributed Map reads
  runs/<run>/clustered/K               every input feature of input key K with cluster_id, cluster_weight, cluster_pass
  runs/<run>/clusters/K                one convex hull per cluster with its figures
  runs/<run>/summaries/K.json          the item's summary (also the Lambda's return value): written last
  runs/<run>/errors/K.json             the item's data error (bad file, bad parameters, time-out)
  done/<params_hash>/K.json            {"run", "input_etag"}: where K was last clustered with those
                                       parameters; kickoff reuses it instead of clustering K again
  map-results/<map run id>/...         Step Functions' ResultWriter output (manifest.json, FAILED_*.json)
"""

from __future__ import annotations

import hashlib
import io
import json
import os

import boto3
from botocore.config import Config

RUNS, DONE, MAP_RESULTS = "runs/", "done/", "map-results/"
PARQUET_SUFFIXES = (".parquet", ".geoparquet")
# Item fields besides params that change what a region file's result is.
ITEM_OPTIONS = ("params_by_key", "params_by_column", "weight_field", "epsg", "keep_null_geometries")


def client_config() -> Config:
    """botocore's standard retry mode (backoff with jitter on SlowDown, 5xx, throttling and dropped
    connections); AWS_RETRY_MODE=adaptive adds client-side rate limiting, AWS_MAX_ATTEMPTS changes the count."""
    return Config(retries={"mode": os.environ.get("AWS_RETRY_MODE", "standard"),
                           "max_attempts": int(os.environ.get("AWS_MAX_ATTEMPTS", 8))})


def s3_client(session=None, endpoint_url=None):
    # botocore itself honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 (used by the tests and local runs).
    return (session or boto3.Session()).client("s3", endpoint_url=endpoint_url, config=client_config())


def run_from_execution_arn(execution_arn: str) -> str:
    """arn:aws:states:<region>:<account>:execution:<machine>:<run> -> <run>."""
    return execution_arn.rsplit(":", 1)[-1]


def region_from_arn(arn: str):
    """The AWS region an ARN lives in (its fourth field), or None when it is not an ARN."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 4 and parts[0] == "arn" and parts[3] else None


def run_key(run: str, name: str) -> str:
    return f"{RUNS}{run}/{name}"


def clustered_key(run: str, key: str) -> str:
    return run_key(run, "clustered/" + key)


def clusters_key(run: str, key: str) -> str:
    return run_key(run, "clusters/" + key)


def summary_key(run: str, key: str) -> str:
    return run_key(run, "summaries/" + key + ".json")


def error_key(run: str, key: str) -> str:
    return run_key(run, "errors/" + key + ".json")


def manifest_key(run: str) -> str:
    return run_key(run, "items.json")


def run_info_key(run: str) -> str:
    return run_key(run, "run.json")


def map_results_prefix(map_run_arn: str) -> str:
    """Where ResultWriter puts a Map Run's manifest.json and FAILED_*.json: map-results/<map run id>/."""
    return f"{MAP_RESULTS}{map_run_arn.rsplit(':', 1)[-1]}/"


def done_key(params_hash: str, key: str) -> str:
    return f"{DONE}{params_hash}/{key}.json"


def params_hash(item: dict) -> str:
    """A short hash of everything but the file that decides an item's result: params and ITEM_OPTIONS."""
    settings = {"params": item.get("params") or {},
                **{name: item.get(name) for name in ITEM_OPTIONS if item.get(name) is not None}}
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_region_file(key: str) -> bool:
    return key.lower().endswith(PARQUET_SUFFIXES)


def region_stem(key: str) -> str:
    """The file name without its GeoParquet suffix: 'a/St. Louis.parquet' -> 'St. Louis'."""
    name = key.rsplit("/", 1)[-1]
    for suffix in PARQUET_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def read_geoparquet(s3, bucket: str, key: str):
    import geopandas as gpd  # here, not at the top: the desktop client must not load it (see client.py)

    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return gpd.read_parquet(io.BytesIO(body))


def write_geoparquet(s3, frame, bucket: str, key: str) -> None:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue(), ContentType="application/vnd.apache.parquet")


def read_json(s3, bucket: str, key: str):
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def read_json_or_none(s3, bucket: str, key: str):
    try:
        return read_json(s3, bucket, key)
    except s3.exceptions.NoSuchKey:
        return None


def write_json(s3, value, bucket: str, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(value, indent=1, default=str).encode(),
                  ContentType="application/json")


def object_exists(s3, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def list_objects(s3, bucket: str, prefix: str = ""):
    """(key, ETag) of every object under prefix, page by page (a country can have thousands of files)."""
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            yield entry["Key"], entry.get("ETag", "").strip('"')


def list_keys(s3, bucket: str, prefix: str = ""):
    for key, _ in list_objects(s3, bucket, prefix):
        yield key
