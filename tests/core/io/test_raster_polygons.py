"""Cluster polygons dissolved from a raster of numbers: valid, exact in area, the same on any thread count."""

import numpy as np
import pytest
import shapely
from osgeo import gdal, osr

from core.io.raster import cluster_polygons


@pytest.fixture
def speckled_numbers(tmp_path):
    """Blobs of numbers with speckle, so pieces touch at corners and holes touch their outlines."""
    rng = np.random.default_rng(8)
    size = 160
    seeds = rng.uniform(0, size, (40, 2))
    ys, xs = np.mgrid[0:size, 0:size]
    nearest = np.argmin((ys[..., None] - seeds[:, 0]) ** 2 + (xs[..., None] - seeds[:, 1]) ** 2, axis=2) + 1
    speckle = rng.random((size, size)) < 0.15
    numbers = np.where(speckle, rng.integers(1, 41, (size, size)), nearest).astype(np.int32)
    numbers[rng.random((size, size)) < 0.05] = 0  # nodata
    path = tmp_path / "numbers.tif"
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), size, size, 1, gdal.GDT_Int32)
    dataset.SetGeoTransform((500_000.0, 100.0, 0.0, 1_000_000.0, 0.0, -100.0))
    crs = osr.SpatialReference()
    crs.ImportFromEPSG(32651)
    dataset.SetProjection(crs.ExportToWkt())
    dataset.GetRasterBand(1).SetNoDataValue(0)
    dataset.GetRasterBand(1).WriteArray(numbers)
    dataset = None
    return path, numbers


def test_polygons_are_valid_and_cover_exactly_their_pixels(speckled_numbers):
    path, numbers = speckled_numbers
    polygons = cluster_polygons(path)
    assert sorted(polygons) == list(range(1, 41))
    shapes = {number: shapely.from_wkb(wkb) for number, wkb in polygons.items()}
    assert all(shape.is_valid for shape in shapes.values())
    for number, shape in shapes.items():
        assert shape.area == pytest.approx((numbers == number).sum() * 100.0 * 100.0, rel=1e-12)
    assert shapely.union_all(list(shapes.values())).area == pytest.approx((numbers > 0).sum() * 1e4, rel=1e-12)


def test_threads_give_the_same_polygons(speckled_numbers):
    path, _ = speckled_numbers
    assert cluster_polygons(path, 1) == cluster_polygons(path, 2)
