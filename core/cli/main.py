"""Command line: `python -m core cluster IN OUT --target-weight 240 --target-radius 1000 ...`."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from ..io.postgis import is_database
from ..params import INVALID_GEOMETRY_CHOICES, ClusteringCancelled, ClusteringInputError
from ..registry import ENGINE_PARAMETERS, add_cli_options, cli_values, engine_params
from . import frame_options as cli_frame
from .classify import add_classify_command
from .sample import add_sample_command

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
    run.add_argument("input", help="input layer: .parquet, .gpkg, .shp, .geojson, .fgb, .csv with lon/lat, a "
                                   "population raster (.tif), or a PostGIS database: postgresql://... URL or PG:<conninfo> (PG: alone uses the PG* "
                                   "variables; libpq reads the service file and ~/.pgpass) with --layer schema.table")
    run.add_argument("output", nargs="?", help="output layer (format from the extension, same choices); "
                                               "not needed with --in-place or --output-layer")
    run.add_argument("--layer", help="layer name inside a multi-layer input (e.g. GeoPackage), or the table")
    run.add_argument("--in-place", action="store_true",
                     help="database input: add/fill the cluster columns in the input table itself (one transaction)")
    run.add_argument("--output-layer", metavar="NAME",
                     help="database input: write every row with the cluster columns to this new SCHEMA.TABLE; "
                          "GeoPackage output: the layer to write (default: the file name), other layers are kept")
    run.add_argument("--overwrite-input", action="store_true",
                     help="allow the output file to replace the input layer (default: refused)")
    run.add_argument("--weight-field", help="numeric column holding each feature's weight (default: 1 each)")
    add_cli_options(run, ["previous_field"])
    add_cli_options(run, [entry.name for entry in ENGINE_PARAMETERS if not entry.per_stratum or entry.name in (
        "target_weight", "target_radius", "max_weight")])
    run.add_argument("--epsg", type=int,
                     help="projected CRS to measure in (default: the layer's own if metric, else its UTM zone); "
                          "for a layer without CRS it says the coordinates are in this CRS")
    run.add_argument("--keep-null-geometries", action="store_true",
                     help="keep features without geometry in the output with empty cluster fields "
                          "(default: stop with an error)")
    run.add_argument("--invalid-geometries", choices=INVALID_GEOMETRY_CHOICES, default="repair",
                     help="self-intersecting polygons: repair them for measuring (default; the output keeps them "
                          "as they are) or stop with an error")
    h3 = run.add_mutually_exclusive_group()
    h3.add_argument("--h3-field", metavar="NAME",
                    help="each row is one H3 cell (hex string or 64-bit integer in this field, one resolution); "
                         "output: the cells' hexagons in EPSG:4326 with the cluster fields")
    h3.add_argument("--h3-resolution", type=int, metavar="R",
                    help="aggregate the input points to H3 cells at resolution R (0-15), summing weights, "
                         "cluster the cells, and give every point its cell's cluster (plus an h3_cell column)")
    run.add_argument("--summary", help="also write one convex-hull polygon per cluster with its figures")
    run.add_argument("--report", help="also write an HTML report (plots, map, clusters out of band)")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    cli_frame.add_arguments(run)
    run.epilog = cli_frame.EXAMPLES
    add_sample_command(commands)
    add_classify_command(commands)
    return parser


def _progress_bar(quiet: bool):
    """A bar on a terminal; plain throttled lines when stderr goes to a log (core.engine.progress)."""
    if quiet:
        return None, lambda: None
    if not sys.stderr.isatty():
        from ..engine.progress import PlainProgress

        return PlainProgress(sys.stderr), lambda: None
    from tqdm import tqdm

    bar = tqdm(total=1000, unit="‰", file=sys.stderr, bar_format="{l_bar}{bar}| {desc}")

    def update(fraction, message):
        bar.n = int(fraction * 1000)
        bar.set_description_str(message, refresh=False)
        bar.refresh()

    return update, bar.close


def _check_file_target(args, summary):
    """The output file of a file input, checked (with the summary) before any work."""
    from ..io.files import input_layer_name
    from ..io.writing import check_target, check_targets_apart

    if args.in_place:
        raise ClusteringInputError("--in-place needs a database input (postgresql://... or PG:...); for a file, "
                                   "write a new file or pass --overwrite-input with the input as output")
    if not args.output:
        raise ClusteringInputError("give an output file")
    if is_database(args.output):
        raise ClusteringInputError("writing a file input to a database is not supported; load it with ogr2ogr and "
                                   "run on the table, or write a file")
    output = check_target(args.output, args.output_layer)
    check_targets_apart(args.input, input_layer_name(args.input, args.layer), output, summary, args.overwrite_input)
    return output


def cluster_input(frame, args, params, progress, field_names=None):
    """(every row + cluster fields, clusters, result, extra figures) for the chosen kind of input."""
    cli_frame.check_combination(args)
    if args.previous_field and (args.h3_field or args.h3_resolution is not None):
        raise ClusteringInputError("--previous-field does not combine with H3 input: update the frame of points")
    if args.h3_field:
        from ..io.h3frame import cluster_h3_table

        return cluster_h3_table(frame, args.h3_field, params, args.weight_field, args.epsg, progress=progress)
    if args.h3_resolution is not None:
        from ..io.h3frame import cluster_points_by_h3

        return cluster_points_by_h3(frame, args.h3_resolution, params, args.weight_field, args.epsg,
                                    args.keep_null_geometries, progress=progress)
    from ..io.files import cluster_frame

    return (*cluster_frame(frame, params, args.weight_field, args.epsg, args.keep_null_geometries,
                           progress=progress, invalid_geometries=args.invalid_geometries,
                           log=lambda line: print(f"note: {line}", file=sys.stderr), field_names=field_names,
                           strata=cli_frame.strata_options(args, params), previous_field=args.previous_field), {})



def run_cluster(args) -> int:
    from ..io.files import OUTPUT_FIELDS, cluster_field_names, metric_crs, read_layer
    from ..io.layer_style import cluster_style
    from ..io.raster import is_raster_path
    from ..io.writing import check_column_names, check_target, write_frame

    params = engine_params(cli_values(args))
    # Every output problem is found before the (possibly long) clustering starts.
    summary = check_target(args.summary, option="--summary") if args.summary else None
    if args.centroids:
        check_target(args.centroids, option="--centroids")
    if args.report:
        from ..report.outlines import check_report_path

        check_report_path(args.report)
    progress, close = _progress_bar(args.quiet)
    clusters, raster_clusters, extra = None, None, {}
    try:
        if is_database(args.input):
            from ..io.postgis import run_database

            out, clusters, result, extra = run_database(
                args.input, args.layer, lambda frame, report: cluster_input(frame, args, params, report), progress,
                in_place=args.in_place, output_table=args.output_layer, output_file=args.output,
                h3_table=bool(args.h3_field), h3_cells=args.h3_resolution is not None)
        elif is_raster_path(args.input):
            if args.previous_field:
                raise ClusteringInputError("--previous-field needs a vector input holding that field, not a raster")
            _check_file_target(args, summary)
            result, raster_clusters = cli_frame.run_raster(args, params, progress)  # writes its own summary
        else:
            output = _check_file_target(args, summary)
            from ..io.h3frame import read_table

            frame = (read_table if args.h3_field else read_layer)(args.input, args.layer)
            names = None
            if not args.h3_field:  # an H3 table becomes hexagons: its own frame gets the fields
                names = cluster_field_names(frame, max_name_length=10 if output.suffix == ".shp" else None)
                respelled = [name for name in names if name in frame.columns and name not in OUTPUT_FIELDS]
                if args.h3_resolution is not None and respelled:
                    # The H3 path writes the standard names: an earlier run's field spelled otherwise would double.
                    raise ClusteringInputError(f"rename or remove the input's field(s) {', '.join(respelled)} to "
                                               "aggregate to H3 cells (wrok writes cluster_id, cluster_weight, "
                                               "cluster_pass)")
                check_column_names([c for c in frame.columns if c != frame.geometry.name and c not in names]
                                   + names, output)
            out, clusters, result, extra = cluster_input(frame, args, params, progress, names)
            id_field = names[0] if names else "cluster_id"
            write_frame(out, output, cluster_style(result.clusters["cluster_id"], id_field))
            if args.centroids:
                measured_in = metric_crs(frame, args.epsg)
                cli_frame.write_centroids(result, measured_in, frame.crs or measured_in, args.centroids)
    finally:
        close()
    if summary is not None and clusters is not None:
        write_frame(clusters, summary, cluster_style(result.clusters["cluster_id"], outlines=True))
    for line in result.over_max_warnings():
        print(f"warning: {line}", file=sys.stderr)
    cli_frame.report_notes(result)
    if args.report:
        from ..report.outlines import write_cli_report

        clusters = raster_clusters if clusters is None else clusters
        weights = "pixel values" if raster_clusters is not None else args.weight_field or "(every feature weighs 1)"
        write_cli_report(args.report, clusters, result, metric_crs(clusters, args.epsg),
                         {"input": args.input, "weight field": weights},
                         "pixel squares dissolved per cluster" if raster_clusters is not None else "convex hulls")
    if not args.quiet:
        stats = {**result.stats(), **extra}
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in stats.items()}))
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
    # Debian's bottleneck 1.3.5 is older than pandas would like; it still works, and the CLI's
    # stderr is for the user's problems only (one `error:` line).
    warnings.filterwarnings("ignore", message="Pandas requires version", category=UserWarning)
    args = build_parser().parse_args(argv)
    try:
        return getattr(args, "handler", run_cluster)(args)
    except (ClusteringInputError, ClusteringCancelled) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
