"""`python -m aws submit|status|cancel|fetch|split`: the pipeline for headless users."""

from __future__ import annotations

import argparse
import json
import sys

from core.registry import ENGINE_PARAMETERS, add_cli_options, cli_values, engine_params

from . import client
from .split import split_by_region

RUN_OPTIONS = ("params_by_key", "params_by_column", "epsg", "keep_null_geometries")


def add_connection(parser):
    parser.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    parser.add_argument("--region", help="AWS region (default: the profile's or AWS_REGION)")
    parser.add_argument("--endpoint-url", help="S3/Step Functions endpoint, for local testing only")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aws", description="Run wrok clustering on AWS "
                                     "(S3 -> Step Functions Distributed Map -> one Lambda per region file).")
    commands = parser.add_subparsers(dest="command", required=True)

    submit = commands.add_parser("submit", help="upload layers and start the pipeline on them")
    submit.add_argument("layers", nargs="+", help="GeoParquet, GeoPackage, shapefile, ... or lon/lat CSV")
    submit.add_argument("--input-bucket", required=True)
    submit.add_argument("--output-bucket", required=True)
    submit.add_argument("--state-machine-arn", required=True)
    submit.add_argument("--prefix", default="wrok", help="input key prefix (default: wrok)")
    submit.add_argument("--region-field", help="split each layer into one file per value of this field")
    submit.add_argument("--weight-field", default="population")
    add_cli_options(submit.add_argument_group("clustering (as python -m core cluster)"),
                    [entry.name for entry in ENGINE_PARAMETERS])
    submit.add_argument("--params-json", help="per-file overrides and options as JSON: params_by_key, "
                        "params_by_column, epsg, keep_null_geometries (see Per-file parameters in docs/aws.md)")
    submit.add_argument("--max-concurrency", type=int,
                        help="region files clustered at once, at least 1 (default: the deployed stack's MaxConcurrency)")
    submit.add_argument("--tolerated-failure-percentage", type=float,
                        help="0-100 (default: the deployed stack's ToleratedFailurePercentage)")
    add_connection(submit)

    for name, text in (("status", "item counts of a run"), ("cancel", "stop a run")):
        command = commands.add_parser(name, help=text)
        command.add_argument("execution_arn")
        add_connection(command)

    fetch = commands.add_parser("fetch", help="download and merge a run's results, region by region")
    fetch.add_argument("execution_arn")
    fetch.add_argument("output", nargs="?", help="merged layer to write (.parquet, .gpkg, ...)")
    fetch.add_argument("--clusters", action="store_true", help="write the cluster hulls instead of the features")
    fetch.add_argument("--leave-in-s3", action="store_true",
                       help="download nothing: print the run's GeoParquet dataset in S3 (one file per region)")
    fetch.add_argument("--workers", type=int, default=8, help="parallel downloads (default: 8)")
    add_connection(fetch)

    split = commands.add_parser("split", help="split a layer into one GeoParquet per region")
    split.add_argument("layer")
    split.add_argument("region_field")
    split.add_argument("destination", help="a folder or s3://bucket/prefix")
    add_connection(split)
    return parser


def submit_params(args) -> tuple:
    """(the Lambda's parameters, run options), checked by the engine's rules before anything is uploaded."""
    options = json.loads(args.params_json) if args.params_json else {}
    if not isinstance(options, dict):
        raise ValueError("--params-json must be a JSON object")
    unknown = sorted(set(options) - set(RUN_OPTIONS))
    if unknown:
        raise ValueError(f"--params-json takes {', '.join(RUN_OPTIONS)}; give {', '.join(unknown)} as options "
                         "(e.g. --max-weight)")
    return engine_params(cli_values(args)).as_dict(), options


def connection(args) -> dict:
    return {"profile": args.profile, "region": args.region, "endpoint_url": args.endpoint_url}


def run(args) -> int:
    if args.command == "submit":
        params, options = submit_params(args)
        started = client.submit(args.layers, params, args.input_bucket, args.output_bucket, args.state_machine_arn,
                                args.prefix, args.region_field, weight_field=args.weight_field, options=options,
                                max_concurrency=args.max_concurrency,
                                tolerated_failure_percentage=args.tolerated_failure_percentage, **connection(args))
        print(json.dumps(started, indent=1))
    elif args.command == "status":
        print(json.dumps(client.status(args.execution_arn, **connection(args)), indent=1))
    elif args.command == "cancel":
        client.cancel(args.execution_arn, **connection(args))
        print(f"stopped {args.execution_arn}")
    elif args.command == "fetch":
        layer = "clusters" if args.clusters else "features"
        if args.leave_in_s3:
            where, failed = client.dataset(args.execution_arn, layer=layer, **connection(args))
            print(f"{len(where['files'])} region file(s) in {where['uri']}; {len(failed)} file(s) failed")
        elif not args.output:
            raise ValueError("fetch needs an output file, or --leave-in-s3")
        else:
            rows, failed = client.fetch_to_file(args.execution_arn, args.output, layer=layer, workers=args.workers,
                                                **connection(args))
            print(f"{rows} row(s) written to {args.output}; {len(failed)} file(s) failed")
        for failure in failed:
            print(f"  {failure['key']}: {failure['error']}")
        return 1 if failed else 0
    elif args.command == "split":
        s3 = None
        if args.destination.startswith("s3://"):
            s3, _ = client.clients(client.make_session(args.profile, args.region), args.endpoint_url)
        for entry in split_by_region(args.layer, args.region_field, args.destination, s3=s3):
            print(f"{entry['features']:>9} {entry.get('path') or entry.get('key')}")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except Exception as error:  # one clear line, not a traceback
        print(f"error: {type(error).__name__}: {error}" if not str(error) else f"error: {error}", file=sys.stderr)
        return 2
