"""`python -m core classify IN.tif OUT.gpkg --classes 4`: k-means on a raster's pixel values.

The Sentinel-2 NDVI example's job: pixel values are the features (position ignored). Writes
one (multi)polygon per class dissolved from its pixels, an aligned raster of class numbers
and the class table (count, mean, min and max value).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

DESCRIPTION = """\
Split a single-band raster's pixel values (e.g. NDVI) into k classes with k-means. Every finite
pixel that is not nodata takes part; classes are numbered 1..k from the lowest mean value up.

example:
  python -m core classify ndvi.tif ndvi_classes.gpkg --classes 4 --class-raster ndvi_classes.tif
"""


def add_classify_command(commands) -> None:
    run = commands.add_parser("classify", help="k-means classes of a raster's pixel values", description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("input", help="single-band raster (.tif)")
    run.add_argument("output", help="class polygons (.gpkg, .shp, .geojson, .fgb, .parquet)")
    run.add_argument("--classes", type=int, required=True, help="number of value classes (k)")
    run.add_argument("--band", type=int, default=1, help="band holding the values (default 1)")
    run.add_argument("--class-raster", help="also write each pixel's class number here (GeoTIFF, aligned)")
    run.add_argument("--summary", help="also write the class table (CSV)")
    run.add_argument("--random-state", type=int, default=42, help="k-means seed; same input and seed, same classes")
    run.add_argument("--quiet", action="store_true", help="no summary on stdout")
    run.set_defaults(handler=run_classify)


def run_classify(args) -> int:
    import geopandas as gpd
    import pandas as pd
    import shapely

    from ..engine.raster_values import value_classes
    from ..io.files import write_layer
    from ..io.raster import check_raster_target, cluster_polygons, read_pixels, write_cluster_raster
    from ..io.writing import check_target

    check_target(args.output)
    if args.summary:
        check_target(args.summary, option="--summary")
    if args.class_raster:
        check_raster_target(args.class_raster, args.input, "--class-raster")
    pixels = read_pixels(args.input, args.band, positive_only=False)
    numbers, table = value_classes(pixels.values, args.classes, args.random_state)
    with tempfile.TemporaryDirectory(prefix="wrok-classes-") as scratch:
        raster_path = Path(args.class_raster) if args.class_raster else Path(scratch) / "classes.tif"
        write_cluster_raster(raster_path, pixels, numbers)
        polygons = cluster_polygons(raster_path)
    frame = pd.DataFrame(table)
    geometry = shapely.from_wkb([polygons[n] for n in frame["class_number"]])
    write_layer(gpd.GeoDataFrame(frame, geometry=geometry, crs=pixels.crs_wkt), args.output)
    if args.summary:
        write_layer(gpd.GeoDataFrame(frame.assign(geometry=None), geometry="geometry"), args.summary)
    if not args.quiet:
        print(json.dumps({"classes": len(frame), "pixels": len(pixels),
                          "mean_values": [round(float(v), 4) for v in frame["mean_value"]]}))
    return 0
