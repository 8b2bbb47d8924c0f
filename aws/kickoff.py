"""Kickoff: list the input prefix, reuse results made with the same parameters, start the Distributed Map.

Items never travel in the execution input (256 KB limit): each run writes its items to
runs/<run>/items.json in the output bucket and the Map's ItemReader reads them from there.
Runs hold at most MAX_ITEMS_PER_RUN items; more files start several executions.

Resume: a file is skipped only when done/<params_hash>/<key>.json says it was clustered with the
same parameters and options from the same bytes (ETag), and that run's summary still exists. The
new run gets server-side copies of those earlier results (and lists them in its run.json), so
fetching it returns the whole prefix.

As a Lambda the event is {"input_bucket"?, "prefix", "output_bucket"?, "params", optional
"params_by_key", "params_by_column", "weight_field", "epsg", "keep_null_geometries", "force",
"max_concurrency", "tolerated_failure_percentage"}; the buckets default to INPUT_BUCKET /
OUTPUT_BUCKET, the state machine is STATE_MACHINE_ARN and the run settings default to
MAX_CONCURRENCY / TOLERATED_FAILURE_PERCENTAGE (the stack's parameters).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import boto3

from .storage import (
    ITEM_OPTIONS,
    clustered_key,
    clusters_key,
    done_key,
    is_region_file,
    list_objects,
    manifest_key,
    object_exists,
    params_hash,
    read_json,
    read_json_or_none,
    region_stem,
    run_info_key,
    s3_client,
    summary_key,
    write_json,
)

MAX_ITEMS_PER_RUN = 10_000
# Tags the template puts on the state machine: the stack's run settings, read by every client.
SETTING_TAGS = {"max_concurrency": "wrok:max-concurrency",
                "tolerated_failure_percentage": "wrok:tolerated-failure-percentage"}
FALLBACK_SETTINGS = {"max_concurrency": 40, "tolerated_failure_percentage": 10.0}


def checked_settings(max_concurrency, tolerated_failure_percentage) -> dict:
    """Integers >= 1 and a percentage in [0, 100]; 0 would mean 'unlimited' to Step Functions."""
    try:
        concurrency = float(max_concurrency)
    except (TypeError, ValueError):
        concurrency = 0.0
    if isinstance(max_concurrency, bool) or not concurrency.is_integer() or concurrency < 1:
        raise ValueError(f"max_concurrency must be a whole number of at least 1 (got {max_concurrency!r}); "
                         "Step Functions would read 0 as 'no limit' and flood the account's Lambda quota")
    tolerated = float(tolerated_failure_percentage)
    if not 0 <= tolerated <= 100:
        raise ValueError(f"tolerated_failure_percentage must be between 0 and 100 (got {tolerated_failure_percentage!r})")
    return {"max_concurrency": int(concurrency), "tolerated_failure_percentage": tolerated}


def deployed_settings(sfn, state_machine_arn: str) -> dict:
    """The stack's MaxConcurrency / ToleratedFailurePercentage, from the state machine's tags."""
    try:
        tags = {t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=state_machine_arn)["tags"]}
    except sfn.exceptions.ResourceNotFound:
        raise ValueError(f"no state machine {state_machine_arn}") from None
    return {name: type(FALLBACK_SETTINGS[name])(tags[tag]) if tag in tags else FALLBACK_SETTINGS[name]
            for name, tag in SETTING_TAGS.items()}


def run_settings(sfn, state_machine_arn: str, max_concurrency=None, tolerated_failure_percentage=None) -> dict:
    """The values given, the stack's for those left None; both checked."""
    deployed = deployed_settings(sfn, state_machine_arn) if None in (max_concurrency, tolerated_failure_percentage) \
        else {}
    return checked_settings(deployed["max_concurrency"] if max_concurrency is None else max_concurrency,
                            deployed["tolerated_failure_percentage"] if tolerated_failure_percentage is None
                            else tolerated_failure_percentage)


def region_names(keys) -> dict:
    """key -> cluster id prefix: the file name without .parquet, widened to the folder-qualified name,
    then to the whole key, where names repeat ('a/North.parquet' and 'b/North.parquet'), so merged
    cluster ids stay unique whatever the names hold (dots, spaces, non-ASCII)."""
    def with_folder(key):
        folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
        return folder + region_stem(key)

    names = {key: region_stem(key) for key in keys}
    for widen in (with_folder, str, lambda key: f"{key}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"):
        counts = Counter(names.values())
        names = {key: widen(key) if counts[name] > 1 else name for key, name in names.items()}
    return names


def item_options(options: dict | None) -> dict:
    return {name: value for name, value in (options or {}).items() if name in ITEM_OPTIONS and value is not None}


def earlier_result(s3, output_bucket: str, settings_hash: str, key: str, etag: str):
    """{"key", "run"} of an earlier result of the same bytes with the same settings, or None."""
    marker = read_json_or_none(s3, output_bucket, done_key(settings_hash, key))
    if not marker or marker.get("input_etag") != etag:
        return None
    if not object_exists(s3, output_bucket, summary_key(marker["run"], key)):  # expired or removed by hand
        return None
    return {"key": key, "run": marker["run"]}


def keys_to_process(s3, input_bucket: str, prefix: str, output_bucket: str, params: dict,
                    options: dict | None = None, force: bool = False, workers: int = 16):
    """(keys to cluster, [{"key", "run"}] earlier results reused), both sorted by key."""
    files = sorted((key, etag) for key, etag in list_objects(s3, input_bucket, prefix) if is_region_file(key))
    if force or not files:
        return [key for key, _ in files], []
    settings_hash = params_hash({"params": params, **item_options(options)})
    with ThreadPoolExecutor(workers) as pool:
        found = list(pool.map(lambda file: earlier_result(s3, output_bucket, settings_hash, *file), files))
    todo = [key for (key, _), earlier in zip(files, found) if earlier is None]
    return todo, [earlier for earlier in found if earlier is not None]


def adopt_results(s3, bucket: str, reused, run: str, workers: int = 16) -> None:
    """Copy earlier results into this run (server side, nothing downloaded), so the run holds them all."""
    def adopt(entry):
        key, earlier = entry["key"], entry["run"]
        for name in (clustered_key, clusters_key):
            s3.copy_object(Bucket=bucket, Key=name(run, key), CopySource={"Bucket": bucket, "Key": name(earlier, key)})
        summary = read_json(s3, bucket, summary_key(earlier, key))
        summary.update(run=run, reused_from=earlier, clustered_key=clustered_key(run, key),
                       clusters_key=clusters_key(run, key), summary_key=summary_key(run, key))
        write_json(s3, summary, bucket, summary_key(run, key))  # last, as the Lambda does

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(adopt, reused))


def run_name() -> str:
    """Unique and readable; execution names allow 80 characters of [A-Za-z0-9-_]."""
    return f"wrok-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def start_runs(s3, sfn, state_machine_arn: str, input_bucket: str, output_bucket: str, keys, params: dict,
               options: dict | None = None, max_concurrency=None, tolerated_failure_percentage=None,
               max_items_per_run: int = MAX_ITEMS_PER_RUN, reused=None) -> list[dict]:
    """Write one items manifest per batch of keys and start one execution on each.

    max_concurrency / tolerated_failure_percentage left None take the deployed stack's values.
    reused ([{"key", "run"}]) are earlier results (see keys_to_process) copied into the first run.
    """
    settings = run_settings(sfn, state_machine_arn, max_concurrency, tolerated_failure_percentage)
    extra = item_options(options)
    keys = list(keys)
    regions = region_names(keys + [entry["key"] for entry in reused or []])
    settings_hash = params_hash({"params": params, **extra})
    started = []
    for first in range(0, len(keys), max_items_per_run):
        batch = keys[first:first + max_items_per_run]
        name = run_name()
        items = [{"input_bucket": input_bucket, "key": key, "output_bucket": output_bucket, "params": params,
                  "run": name, "region": regions[key], **extra} for key in batch]
        adopted = list(reused or []) if first == 0 else []
        adopt_results(s3, output_bucket, adopted, name)
        write_json(s3, {"run": name, "params": params, "options": extra, "params_hash": settings_hash,
                        "input_bucket": input_bucket, "keys": batch, "reused": adopted, **settings},
                   output_bucket, run_info_key(name))
        write_json(s3, items, output_bucket, manifest_key(name))
        execution_input = {
            "manifest_bucket": output_bucket, "manifest_key": manifest_key(name),
            # an int and a float, as the Map's *Path fields expect them
            **settings,
        }
        response = sfn.start_execution(stateMachineArn=state_machine_arn, name=name,
                                       input=json.dumps(execution_input))
        started.append({"execution_arn": response["executionArn"], "run": name, "items": len(batch),
                        "reused": len(adopted), "manifest": f"s3://{output_bucket}/{manifest_key(name)}"})
    return started


def kickoff(s3, sfn, state_machine_arn: str, input_bucket: str, prefix: str, output_bucket: str, params: dict,
            options: dict | None = None, force: bool = False, **run_settings) -> dict:
    todo, reused = keys_to_process(s3, input_bucket, prefix, output_bucket, params, options, force)
    executions = start_runs(s3, sfn, state_machine_arn, input_bucket, output_bucket, todo, params, options,
                            reused=reused, **run_settings) if todo else []
    return {"executions": executions, "submitted": todo, "skipped_already_done": [e["key"] for e in reused],
            "reused": reused}


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
        max_concurrency=event.get("max_concurrency", env.get("MAX_CONCURRENCY")),
        tolerated_failure_percentage=event.get("tolerated_failure_percentage",
                                               env.get("TOLERATED_FAILURE_PERCENTAGE")))
