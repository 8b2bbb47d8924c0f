"""Command line: `python -m core cluster IN OUT --target-weight 240 --target-radius 1000 ...`."""

from __future__ import annotations

import argparse
import json
import sys

from .params import DEFAULT_STRATEGY, STRATEGIES, ClusteringCancelled, ClusteringInputError, ClusteringParams

DESCRIPTION = """\
Group weighted features (grid cells, rooftops, households) into clusters whose total
weight and radius sit close to your targets, e.g. primary sampling units of ~240 people
within ~1 km. Every input row is written out, in input order, with three new columns:
cluster_id (e.g. CLUSTER_007_02), cluster_weight and cluster_pass.

example:
  python -m core cluster grids.parquet clustered.gpkg --weight-field population \\
      --target-weight 240 --target-radius 1000 --max-weight 300 --epsg 3121 \\
      --summary clusters.gpkg
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m core", description="wrok clustering engine",
        epilog=DESCRIPTION[DESCRIPTION.index("example:"):] + "\nmore: python -m core cluster --help",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("cluster", help="cluster a layer file", description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("input", help="input layer: .parquet, .gpkg, .shp, .geojson, .fgb, or .csv with lon/lat")
    run.add_argument("output", help="output layer (format from the extension, same choices)")
    run.add_argument("--layer", help="layer name inside a multi-layer input (e.g. GeoPackage)")
    run.add_argument("--weight-field", help="numeric column holding each feature's weight (default: 1 each)")
    run.add_argument("--target-weight", type=float, required=True, help="desired total weight per cluster")
    run.add_argument("--target-radius", type=float, required=True, help="desired cluster radius in metres")
    run.add_argument("--max-weight", type=float, help="clusters heavier than this are split (default: none)")
    run.add_argument("--min-weight", type=float, help="merge clusters lighter than this into a neighbour")
    run.add_argument("--weight-importance", type=float, default=1.0,
                     help="how much weight matters against radius in the score (default 1)")
    run.add_argument("--max-passes", type=int, default=100, help="re-clustering passes for oversized clusters")
    run.add_argument("--initial-trials", type=int, default=100, help="Optuna trials in the first pass")
    run.add_argument("--subsequent-trials", type=int, default=20, help="Optuna trials per re-clustered cluster")
    run.add_argument("--reassignment-ratio", type=float, default=0.1, help="MiniBatchKMeans setting (seed mode)")
    run.add_argument("--strategy", choices=STRATEGIES, default=DEFAULT_STRATEGY,
                     help="compact (default: even weights, round non-overlapping clusters, hard cap), "
                          "balanced (the earlier bisection default) or seed (the original k-means)")
    run.add_argument("--random-state", type=int, default=42, help="seed; same input and seed give same output")
    run.add_argument("--jobs", type=int, default=1, help="parallel threads, -1 for all cores")
    run.add_argument("--epsg", type=int,
                     help="projected CRS to measure in (default: the layer's own if metric, else its UTM zone)")
    run.add_argument("--keep-null-geometries", action="store_true",
                     help="keep features without geometry in the output with empty cluster fields "
                          "(default: stop with an error)")
    run.add_argument("--summary", help="also write one convex-hull polygon per cluster with its figures")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    return parser


def _progress_bar(quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=1000, unit="‰", file=sys.stderr, bar_format="{l_bar}{bar}| {desc}")

    def update(fraction, message):
        bar.n = int(fraction * 1000)
        bar.set_description_str(message, refresh=False)
        bar.refresh()

    return update, bar.close


def run_cluster(args) -> int:
    from .io import cluster_frame, read_layer, write_layer

    params = ClusteringParams(
        desired_cluster_weight=args.target_weight, desired_cluster_radius=args.target_radius,
        max_cluster_weight=args.max_weight, min_cluster_weight=args.min_weight,
        weight_importance_factor=args.weight_importance,
        max_passes=args.max_passes if args.max_weight is not None else 1,
        initial_max_trials=args.initial_trials, subsequent_max_trials=args.subsequent_trials,
        minibatch_reassignment_ratio=args.reassignment_ratio, n_jobs=args.jobs,
        random_state=args.random_state, strategy=args.strategy,
    )
    frame = read_layer(args.input, args.layer)
    progress, close = _progress_bar(args.quiet)
    try:
        out, clusters, result = cluster_frame(frame, params, args.weight_field, args.epsg,
                                              args.keep_null_geometries, progress=progress)
    finally:
        close()
    write_layer(out, args.output)
    if args.summary:
        write_layer(clusters, args.summary)
    if not args.quiet:
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.stats().items()}))
        if len(result.heavy_features):
            print(f"note: {len(result.heavy_features)} feature(s) alone outweigh the max weight; "
                  "each is its own cluster", file=sys.stderr)
        lighter_than_cap = len(result.placed_alone) - len(result.heavy_features)
        if lighter_than_cap > 0:
            print(f"note: {lighter_than_cap} feature(s) heavier than the target + 20 % are clusters of their own",
                  file=sys.stderr)
        if len(result.remote_hamlets):
            print(f"note: {len(result.remote_hamlets)} remote hamlet(s) too light for the band and too far to join "
                  f"a neighbour are kept as their own clusters ({', '.join(result.remote_hamlets)}); "
                  "--min-weight merges them", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_cluster(args)
    except (ClusteringInputError, ClusteringCancelled) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
