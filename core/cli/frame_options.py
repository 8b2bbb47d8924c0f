"""CLI options for building a survey frame: strata, exactly N clusters, a radius cap, centroids, rasters.

Added to `python -m core cluster` by core/cli/main.py; a .tif (or other raster) input runs `run_raster`.
"""

from __future__ import annotations

import sys

from ..params import ClusteringInputError

SETTING_FIELD_OPTIONS = {  # CLI option -> per-stratum setting it names a feature field for
    "target_weight_field": "target_weight", "target_radius_field": "target_radius",
    "max_weight_field": "max_weight", "max_radius_field": "max_radius", "clusters_field": "n_clusters",
}

EXAMPLES = """\
survey frame examples:
  # exactly 40 clusters per district x urban/rural stratum, none wider than 2 km
  python -m core cluster grids.parquet framed.gpkg --weight-field population --target-weight 240 \\
      --target-radius 1000 --stratum-field PSGC --stratum-field urban --clusters 40 --max-radius 2000
  # per-stratum targets from a table (columns PSGC, urban, target_weight, target_radius, max_weight,
  # max_radius, n_clusters; empty cells keep the command-line value)
  python -m core cluster grids.parquet framed.gpkg --weight-field population --target-weight 240 \\
      --target-radius 1000 --stratum-field PSGC --stratum-field urban --strata-table strata.csv
  # a population raster: cluster polygons, a raster of cluster numbers and the cluster table
  python -m core cluster worldpop.tif clusters.gpkg --target-weight 240 --target-radius 1000 \\
      --max-weight 300 --cluster-raster cluster_numbers.tif --summary clusters.csv
"""


def add_arguments(run) -> None:
    frame = run.add_argument_group("survey frame")
    frame.add_argument("--max-radius", type=float,
                       help="hard cap in metres: wider clusters are split until none is (lone features excepted)")
    frame.add_argument("--clusters", type=int, help="exactly this many clusters (per stratum); skips tuning")
    frame.add_argument("--stratum-field", action="append", default=[], metavar="FIELD",
                       help="cluster each stratum on its own (repeat for several fields, e.g. PSGC and urban)")
    frame.add_argument("--strata-table",
                       help="per-stratum targets: CSV or table file keyed by the stratum fields (or a 'stratum' "
                            "column) with columns " + ", ".join(sorted(set(SETTING_FIELD_OPTIONS.values()))))
    frame.add_argument("--strata-table-layer", help="layer name inside a multi-layer strata table file")
    for option, setting in SETTING_FIELD_OPTIONS.items():
        frame.add_argument("--" + option.replace("_", "-"), metavar="FIELD",
                           help=f"per-stratum {setting.replace('_', ' ')} from this field (one value per stratum)")
    frame.add_argument("--centroids", help="also write each cluster's weighted centroid as a point layer")
    frame.add_argument("--band", type=int, default=1, help="raster input: the band holding the weights")
    frame.add_argument("--cluster-raster", help="raster input: write each pixel's cluster number here (GeoTIFF)")
    frame.add_argument("--strata-layer", help="raster input: stratum polygons (e.g. districts); each pixel takes "
                                              "the --stratum-field values of the polygon holding its centre")


def check_combination(args) -> None:
    """Refuse options that do not apply to a vector, H3 or database input, rather than ignore them."""
    from ..io.postgis import is_database

    if args.cluster_raster or args.strata_layer:
        raise ClusteringInputError("--cluster-raster and --strata-layer are for a raster input (.tif)")
    if args.h3_field or args.h3_resolution is not None:
        if args.stratum_field or args.centroids:
            raise ClusteringInputError("strata and --centroids do not combine with H3 input")
    if args.centroids and is_database(args.input):
        raise ClusteringInputError("--centroids is for file inputs; for a table, write --summary and take its "
                                   "centroid_x/centroid_y")


def params_values(args) -> dict:
    return {"max_cluster_radius": args.max_radius, "n_clusters": args.clusters}


def strata_options(args):
    setting_fields = {setting: getattr(args, option) for option, setting in SETTING_FIELD_OPTIONS.items()
                      if getattr(args, option)}
    if not args.stratum_field:
        if args.strata_table or setting_fields:
            raise ClusteringInputError("per-stratum targets need --stratum-field (the field(s) naming each stratum)")
        return None
    from ..frame.strata import StrataOptions
    from ..io.strata import read_strata_table

    rows = read_strata_table(args.strata_table, args.strata_table_layer) if args.strata_table else None
    return StrataOptions(args.stratum_field, rows, setting_fields, n_jobs=args.jobs)


def report_notes(result) -> None:
    """Warnings a user must see even when the run succeeds, on stderr."""
    from ..frame.strata import count_notes

    for warning in [*getattr(result, "warnings", []), *count_notes(result)]:
        print(f"note: {warning}", file=sys.stderr)
    wide = list(result.over_max_radius)
    if wide:
        print(f"note: {len(wide)} cluster(s) are single features wider than the max radius on their own: "
              f"{', '.join(map(str, wide[:20]))}{' ...' if len(wide) > 20 else ''}", file=sys.stderr)


def _raster_strata(args, pixels, params):
    """(keys per pixel, params by stratum, n_jobs, warnings) from the strata polygon layer."""
    import shapely

    from ..io.files import read_layer
    from ..io.raster_strata import pixel_strata
    from ..io.strata import frame_column

    polygons = read_layer(args.strata_layer)
    if polygons.crs is None:
        raise ClusteringInputError(f"{args.strata_layer} has no coordinate reference system")
    columns = {name: frame_column(polygons, name) for name in polygons.columns if name != polygons.geometry.name}
    keys, by_stratum, warnings = pixel_strata(pixels, shapely.to_wkb(polygons.geometry.values), polygons.crs.to_wkt(),
                                              columns, strata_options(args), params)
    return keys, by_stratum, args.jobs, warnings


def write_centroids(result, measuring_crs, output_crs, path) -> None:
    import geopandas as gpd

    from ..io.files import write_layer

    table = result.clusters.to_frame()
    points = gpd.GeoSeries(gpd.points_from_xy(table["centroid_x"], table["centroid_y"]), crs=measuring_crs)
    write_layer(gpd.GeoDataFrame(table, geometry=points.to_crs(output_crs).values, crs=output_crs), path)


def run_raster(args, params, progress):
    """Cluster a raster file; writes polygons (args.output) and the optional raster, table and centroids.

    Returns (result, the cluster polygons frame)."""
    import tempfile
    from pathlib import Path

    import geopandas as gpd
    import shapely

    from ..io.files import write_layer
    from ..io.layer_style import cluster_style
    from ..io.raster import check_raster_target, cluster_polygons, cluster_raster, read_pixels, write_cluster_raster

    if args.weight_field or args.h3_field or args.h3_resolution is not None:
        raise ClusteringInputError("a raster input takes its weights from --band (no weight field or H3 options)")
    if bool(args.stratum_field) != bool(args.strata_layer):
        raise ClusteringInputError("strata for a raster need both --strata-layer (polygons) and --stratum-field")
    if args.cluster_raster:
        check_raster_target(args.cluster_raster, args.input, "--cluster-raster")
    pixels = read_pixels(args.input, args.band)
    strata = _raster_strata(args, pixels, params) if args.strata_layer else None
    result, numbers, measured_in = cluster_raster(pixels, params, args.epsg, strata=strata, progress=progress)
    if strata is not None:
        result.warnings = strata[3]
    with tempfile.TemporaryDirectory(prefix="wrok-raster-") as scratch:
        raster_path = Path(args.cluster_raster) if args.cluster_raster else Path(scratch) / "cluster_numbers.tif"
        write_cluster_raster(raster_path, pixels, numbers)
        polygons = cluster_polygons(raster_path, args.jobs)
    table = result.clusters.to_frame()
    table.insert(1, "cluster_number", range(1, len(table) + 1))
    geometry = shapely.from_wkb([polygons[n] for n in table["cluster_number"]])
    polygons_frame = gpd.GeoDataFrame(table, geometry=geometry, crs=pixels.crs_wkt)
    style = cluster_style(table["cluster_id"], outlines=True)
    write_layer(polygons_frame, args.output, style=style)
    if args.summary:  # the cluster table: CSV without geometry, any other format with the polygons
        summary = gpd.GeoDataFrame(table, geometry=geometry, crs=pixels.crs_wkt)
        if args.summary.lower().endswith(".csv"):
            summary = gpd.GeoDataFrame(table.assign(geometry=None), geometry="geometry")
        write_layer(summary, args.summary, style=style)
    if args.centroids:
        write_centroids(result, f"EPSG:{measured_in}" if measured_in else pixels.crs_wkt, pixels.crs_wkt,
                        args.centroids)
    return result, polygons_frame
