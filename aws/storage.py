"""S3 layout shared by the Lambdas and the client, and GeoParquet to and from S3.

Output bucket layout for an input key K (the same key, so reruns overwrite in place):
  clustered/K        every input feature with cluster_id, cluster_weight, cluster_pass
  clusters/K         one convex hull per cluster with its figures
  summaries/K.json   the item's summary (also the Lambda's return value)
  errors/K.json      the item's error, present only while its latest run failed
  runs/<run>/items.json  the items manifest the Distributed Map reads
"""

from __future__ import annotations

import io
import json

import boto3
import geopandas as gpd

CLUSTERED, CLUSTERS, SUMMARIES, ERRORS, RUNS = "clustered/", "clusters/", "summaries/", "errors/", "runs/"
PARQUET_SUFFIXES = (".parquet", ".geoparquet")


def s3_client(session=None):
    # botocore itself honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 (used by the tests and local runs).
    return (session or boto3.Session()).client("s3")


def clustered_key(key: str) -> str:
    return CLUSTERED + key


def clusters_key(key: str) -> str:
    return CLUSTERS + key


def summary_key(key: str) -> str:
    return SUMMARIES + key + ".json"


def error_key(key: str) -> str:
    return ERRORS + key + ".json"


def manifest_key(run_name: str) -> str:
    return f"{RUNS}{run_name}/items.json"


def is_region_file(key: str) -> bool:
    return key.lower().endswith(PARQUET_SUFFIXES)


def read_geoparquet(s3, bucket: str, key: str) -> gpd.GeoDataFrame:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return gpd.read_parquet(io.BytesIO(body))


def write_geoparquet(s3, frame: gpd.GeoDataFrame, bucket: str, key: str) -> None:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue(), ContentType="application/vnd.apache.parquet")


def read_json(s3, bucket: str, key: str):
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


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


def list_keys(s3, bucket: str, prefix: str = ""):
    """Every key under prefix, page by page (a country can have thousands of region files)."""
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            yield entry["Key"]
