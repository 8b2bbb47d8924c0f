"""Test rasters: ../shared/data/grids.parquet as a GeoTIFF (its cells sit on a 0.000833333 degree grid).

`grids_geotiff` writes the population raster and returns the points it stands for: one per
non-empty pixel, at the pixel's centre, in the raster's row-major order, so clustering the
raster and clustering these points can be compared feature for feature.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from osgeo import gdal, osr

GRIDS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "grids.parquet"
CELL = 0.000833333
NODATA = -99999.0


def write_geotiff(path, values: np.ndarray, geotransform, epsg: int = 4326, nodata=NODATA) -> None:
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), values.shape[1], values.shape[0], 1,
                                                   gdal.GDT_Float32, ["COMPRESS=DEFLATE", "TILED=YES"])
    dataset.SetGeoTransform(geotransform)
    ref = osr.SpatialReference()
    ref.ImportFromEPSG(epsg)
    dataset.SetProjection(ref.ExportToWkt())
    band = dataset.GetRasterBand(1)
    band.SetNoDataValue(nodata)
    band.WriteArray(values)
    dataset = None


def grids_geotiff(path):
    """Write grids as a population GeoTIFF at path; returns a GeoDataFrame of its pixels' centre points."""
    import geopandas as gpd

    grids = gpd.read_parquet(GRIDS)
    west, north = grids["Lon"].min() - CELL / 2, grids["Lat"].max() + CELL / 2
    cols = np.round((grids["Lon"].to_numpy() - west) / CELL - 0.5).astype(int)
    rows = np.round((north - grids["Lat"].to_numpy()) / CELL - 0.5).astype(int)
    values = np.full((rows.max() + 1, cols.max() + 1), NODATA, dtype=np.float32)
    values[rows, cols] = grids["population"].to_numpy(np.float32)
    values[0, 0] = 0.0 if values[0, 0] == NODATA else values[0, 0]  # a zero pixel: not a feature
    geotransform = (west, CELL, 0.0, north, 0.0, -CELL)
    write_geotiff(path, values, geotransform)
    r, c = np.nonzero((values != NODATA) & (values > 0))  # row-major, as the reader keeps them
    lon, lat = west + (c + 0.5) * CELL, north - (r + 0.5) * CELL
    return gpd.GeoDataFrame({"population": values[r, c].astype(float), "row": r, "col": c},
                            geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
