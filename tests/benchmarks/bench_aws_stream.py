"""Benchmark: the AWS client's streaming split and merge on a synthetic country, memory measured.

    .venv/bin/python tests/benchmarks/bench_aws_stream.py [--points 10000000] [--regions 80] [--limit-gb 2]

1. writes a GeoParquet of N synthetic points (regions interleaved, so every chunk touches every region);
2. `client.submit(..., region_field=...)` in a child process: streamed split, upload to S3 (moto's HTTP
   server in this process), the run's manifest and execution;
3. stands in for the Lambdas here (each region's clustered file written where the handler writes it,
   with cluster fields; no clustering, which is the Lambda's cost, not the client's);
4. `client.fetch_to_file(...)` in a child process: parallel download and region-by-region merge.
Each child reports its own peak resident memory (ru_maxrss). Exit status 1 when either exceeds the limit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

PARAMS = {"desired_cluster_weight": 240, "desired_cluster_radius": 1000, "max_cluster_weight": 300}
IN, OUT = "wrok-bench-in", "wrok-bench-out"

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from aws import client
args = json.loads(sys.argv[1])
started = time.perf_counter()
if args["step"] == "submit":
    result = client.submit(args["source"], args["params"], args["in"], args["out"], args["arn"], prefix="bench",
                           region_field="region", endpoint_url=args["endpoint"], max_concurrency=40,
                           tolerated_failure_percentage=0)
    result = {{"execution_arn": result["executions"][0]["execution_arn"], "files": len(result["keys"])}}
else:
    rows, failed = client.fetch_to_file(args["arn"], args["output"], endpoint_url=args["endpoint"], workers=8)
    result = {{"rows": rows, "failed": len(failed)}}
result.update(seconds=round(time.perf_counter() - started, 1),
              peak_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
print(json.dumps(result))
"""


def write_country(path: Path, points: int, regions: int, chunk: int = 1_000_000) -> None:
    """Synthetic points over the Philippines' box, written one row group at a time."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(42)
    sample = gpd.GeoDataFrame({"geometry": shapely.points([121.0], [14.0])}, crs=4326)
    geo = pa.parquet.read_schema(_to_parquet(sample, path.with_suffix(".meta"))).metadata[b"geo"]
    names = np.array([f"Region {index:03d}" for index in range(regions)])
    writer = None
    for first in range(0, points, chunk):
        count = min(chunk, points - first)
        xy = shapely.points(rng.uniform(117, 127, count), rng.uniform(5, 19, count))
        table = pa.table({"cell_id": np.arange(first, first + count), "population": rng.gamma(2.0, 20.0, count),
                          "region": names[np.arange(first, first + count) % regions],
                          "geometry": shapely.to_wkb(xy)}).replace_schema_metadata({b"geo": geo})
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=chunk)
    writer.close()


def _to_parquet(frame, path: Path) -> Path:
    frame.to_parquet(path)
    return path


def fake_lambdas(s3, run_arn: str) -> int:
    """Write each item's result where aws/handler.py writes it: features with cluster fields, summary last."""
    from aws.storage import clustered_key, read_json, run_from_execution_arn, summary_key, write_json

    run = run_from_execution_arn(run_arn)
    items = read_json(s3, OUT, f"runs/{run}/items.json")
    for item in items:
        body = s3.get_object(Bucket=IN, Key=item["key"])["Body"].read()
        table = pq.read_table(pa.BufferReader(body))
        ids = np.arange(table.num_rows) // 50
        table = table.append_column("cluster_id", pa.array([f"{item['region']}:{i}" for i in ids]))
        table = table.append_column("cluster_weight", pa.array(np.full(table.num_rows, 240.0)))
        table = table.append_column("cluster_pass", pa.array(np.ones(table.num_rows, dtype=np.int64)))
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        s3.put_object(Bucket=OUT, Key=clustered_key(run, item["key"]), Body=sink.getvalue().to_pybytes())
        write_json(s3, {"key": item["key"], "run": run}, OUT, summary_key(run, item["key"]))
    return len(items)


def child(step: str, **args) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD.format(repo=str(REPO)), json.dumps({"step": step, **args})],
                          capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        raise SystemExit(f"{step} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--regions", type=int, default=80)
    parser.add_argument("--limit-gb", type=float, default=2.0)
    args = parser.parse_args()

    import logging
    import os

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1"})
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint)
        for bucket in (IN, OUT):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
        arn = boto3.client("stepfunctions", endpoint_url=endpoint).create_state_machine(
            name="wrok-bench", definition=definition, roleArn="arn:aws:iam::123456789012:role/wrok")["stateMachineArn"]
        with tempfile.TemporaryDirectory(prefix="wrok_bench_") as folder:
            source = Path(folder) / "country.parquet"
            started = time.perf_counter()
            write_country(source, args.points, args.regions)
            print(f"synthetic country: {args.points:,} points, {args.regions} regions, "
                  f"{source.stat().st_size / 1e6:.0f} MB GeoParquet ({time.perf_counter() - started:.0f} s)")
            submitted = child("submit", source=str(source), params=PARAMS, endpoint=endpoint, arn=arn,
                              **{"in": IN, "out": OUT})
            print(f"split + upload + start: {submitted['files']} region files in {submitted['seconds']} s, "
                  f"peak client memory {submitted['peak_mb']} MB")
            fake_lambdas(s3, submitted["execution_arn"])
            output = Path(folder) / "merged.parquet"
            fetched = child("fetch", arn=submitted["execution_arn"], endpoint=endpoint, output=str(output))
            print(f"download + merge: {fetched['rows']:,} rows ({fetched['failed']} files failed) in "
                  f"{fetched['seconds']} s, peak client memory {fetched['peak_mb']} MB")
            assert fetched["rows"] == args.points and pq.ParquetFile(output).metadata.num_rows == args.points
    finally:
        server.stop()
    limit_mb = args.limit_gb * 1024
    worst = max(submitted["peak_mb"], fetched["peak_mb"])
    print(f"peak client memory {worst} MB against a limit of {limit_mb:.0f} MB: {'OK' if worst <= limit_mb else 'OVER'}")
    return 0 if worst <= limit_mb else 1


if __name__ == "__main__":
    sys.exit(main())
