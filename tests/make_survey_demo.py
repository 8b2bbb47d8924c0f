"""Writes the survey walk-through's demo inputs into resources/ (docs/qgis/survey.md).

- demo_population.tif: resources/demo_population.gpkg summed onto a 3 arc-second grid (WorldPop's 100 m
  grid), nodata where nobody lives;
- demo_districts.geojson: two districts (North, South) split at the population's median latitude;
- demo_strata.csv: targets per district; demo_sample_sizes.csv: PSUs and replacements per district.

usage: .venv/bin/python tests/make_survey_demo.py
"""

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from raster_data import CELL, NODATA, write_geotiff

RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def main():
    points = gpd.read_file(RESOURCES / "demo_population.gpkg")
    lon, lat = points.geometry.x.to_numpy(), points.geometry.y.to_numpy()
    west, north = np.floor(lon.min() / CELL) * CELL, np.ceil(lat.max() / CELL) * CELL
    cols, rows = ((lon - west) / CELL).astype(int), ((north - lat) / CELL).astype(int)
    values = np.zeros((rows.max() + 1, cols.max() + 1))
    np.add.at(values, (rows, cols), points["population"].to_numpy())
    values[values == 0] = NODATA
    write_geotiff(RESOURCES / "demo_population.tif", values.astype(np.float32), (west, CELL, 0.0, north, 0.0, -CELL))

    middle = float(np.median(lat))
    box = shapely.box(west - CELL, north - (rows.max() + 2) * CELL, west + (cols.max() + 2) * CELL, north + CELL)
    x0, y0, x1, y1 = box.bounds
    districts = gpd.GeoDataFrame({"district": ["North", "South"]},
                                 geometry=[shapely.box(x0, middle, x1, y1), shapely.box(x0, y0, x1, middle)],
                                 crs="EPSG:4326")
    districts.to_file(RESOURCES / "demo_districts.geojson", driver="GeoJSON")
    (RESOURCES / "demo_strata.csv").write_text(
        "district,target_weight,target_radius,max_weight\nNorth,240,1000,300\nSouth,300,1500,360\n")
    (RESOURCES / "demo_sample_sizes.csv").write_text("stratum,n,replacements\nNorth,5,1\nSouth,4,1\n")


if __name__ == "__main__":
    main()
