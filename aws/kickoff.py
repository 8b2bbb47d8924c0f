"""Kickoff: list the input prefix, skip files already clustered, start the Distributed Map.

Items never travel in the execution input (256 KB limit): each run writes its items to
runs/<run>/items.json in the output bucket and the Map's ItemReader reads them from there.
Runs hold at most MAX_ITEMS_PER_RUN items; more files start several executions.

As a Lambda the event is {"input_bucket"?, "prefix", "output_bucket"?, "params", optional
"params_by_key", "params_by_column", "weight_field", "epsg", "keep_null_geometries", "force"};
the buckets default to INPUT_BUCKET / OUTPUT_BUCKET and the state machine is STATE_MACHINE_ARN.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone

import boto3

from .storage import is_region_file, list_keys, manifest_key, object_exists, s3_client, summary_key, write_json

MAX_ITEMS_PER_RUN = 10_000
ITEM_OPTIONS = ("params_by_key", "params_by_column", "weight_field", "epsg", "keep_null_geometries")


def keys_to_process(s3, input_bucket: str, prefix: str, output_bucket: str, force: bool = False):
    """(keys to cluster, keys skipped because their summary already exists), both sorted."""
    todo, done = [], []
    for key in sorted(k for k in list_keys(s3, input_bucket, prefix) if is_region_file(k)):
        if not force and object_exists(s3, output_bucket, summary_key(key)):
            done.append(key)
        else:
            todo.append(key)
    return todo, done


def run_name() -> str:
    """Unique and readable; execution names allow 80 characters of [A-Za-z0-9-_]."""
    return f"wrok-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def start_runs(s3, sfn, state_machine_arn: str, input_bucket: str, output_bucket: str, keys, params: dict,
               options: dict | None = None, max_concurrency: int = 40, tolerated_failure_percentage: float = 10.0,
               max_items_per_run: int = MAX_ITEMS_PER_RUN) -> list[dict]:
    """Write one items manifest per batch of keys and start one execution on each."""
    extra = {name: value for name, value in (options or {}).items() if name in ITEM_OPTIONS and value is not None}
    started = []
    keys = list(keys)
    for first in range(0, len(keys), max_items_per_run):
        batch = keys[first:first + max_items_per_run]
        name = run_name()
        items = [{"input_bucket": input_bucket, "key": key, "output_bucket": output_bucket, "params": params, **extra}
                 for key in batch]
        write_json(s3, items, output_bucket, manifest_key(name))
        execution_input = {
            "manifest_bucket": output_bucket, "manifest_key": manifest_key(name),
            # floats and ints as the Map's *Path fields expect them
            "max_concurrency": int(max_concurrency),
            "tolerated_failure_percentage": float(tolerated_failure_percentage),
        }
        response = sfn.start_execution(stateMachineArn=state_machine_arn, name=name,
                                       input=json.dumps(execution_input))
        started.append({"execution_arn": response["executionArn"], "run": name, "items": len(batch),
                        "manifest": f"s3://{output_bucket}/{manifest_key(name)}"})
    return started


def kickoff(s3, sfn, state_machine_arn: str, input_bucket: str, prefix: str, output_bucket: str, params: dict,
            options: dict | None = None, force: bool = False, **run_settings) -> dict:
    todo, done = keys_to_process(s3, input_bucket, prefix, output_bucket, force)
    executions = start_runs(s3, sfn, state_machine_arn, input_bucket, output_bucket, todo, params, options,
                            **run_settings) if todo else []
    return {"executions": executions, "submitted": todo, "skipped_already_done": done}


def handler(event, context=None):
    env = os.environ
    input_bucket = event.get("input_bucket") or env["INPUT_BUCKET"]
    output_bucket = event.get("output_bucket") or env["OUTPUT_BUCKET"]
    if not isinstance(event.get("params"), dict):
        raise ValueError("kickoff event needs a params object (the clustering parameters)")
    session = boto3.Session()
    return kickoff(
        s3_client(session), session.client("stepfunctions"), env["STATE_MACHINE_ARN"], input_bucket,
        event.get("prefix", ""), output_bucket, event["params"], options=event, force=bool(event.get("force")),
        max_concurrency=int(env.get("MAX_CONCURRENCY", 40)),
        tolerated_failure_percentage=float(env.get("TOLERATED_FAILURE_PERCENTAGE", 10.0)))
