"""The survey-frame options through `python -m core cluster`: rasters, strata, radius cap, centroids."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from core_helpers import run_cli
from osgeo import gdal
from raster_data import GRIDS, grids_geotiff

TARGETS = ["--target-weight", 240, "--target-radius", 1000, "--max-weight", 300, "--quiet"]


@pytest.fixture(scope="module")
def grids_raster(tmp_path_factory):
    if not GRIDS.exists():
        pytest.skip("../shared/data/grids.parquet is not here")
    folder = tmp_path_factory.mktemp("raster")
    points = grids_geotiff(folder / "grids.tif")
    points.to_parquet(folder / "pixels.parquet")
    return folder, points


def test_raster_clusters_like_its_points(grids_raster, tmp_path):
    folder, points = grids_raster
    done = run_cli("cluster", folder / "grids.tif", tmp_path / "polygons.gpkg", *TARGETS, "--epsg", 32651,
                   "--cluster-raster", tmp_path / "numbers.tif", "--summary", tmp_path / "table.csv")
    assert done.returncode == 0, done.stderr
    done = run_cli("cluster", folder / "pixels.parquet", tmp_path / "points.gpkg", "--weight-field", "population",
                   *TARGETS, "--epsg", 32651)
    assert done.returncode == 0, done.stderr
    by_points = gpd.read_file(tmp_path / "points.gpkg")
    polygons = gpd.read_file(tmp_path / "polygons.gpkg")
    table = pd.read_csv(tmp_path / "table.csv")
    # The cluster-number raster is aligned to the input, and each pixel's number names its cluster.
    source, numbers = gdal.Open(str(folder / "grids.tif")), gdal.Open(str(tmp_path / "numbers.tif"))
    assert numbers.GetGeoTransform() == source.GetGeoTransform()
    assert (numbers.RasterXSize, numbers.RasterYSize) == (source.RasterXSize, source.RasterYSize)
    grid = numbers.GetRasterBand(1).ReadAsArray()
    assert (grid > 0).sum() == len(points)  # nodata and the zero pixel belong to no cluster
    number_to_id = dict(zip(table["cluster_number"], table["cluster_id"]))
    raster_ids = [number_to_id[n] for n in grid[points["row"], points["col"]]]
    assert raster_ids == list(by_points["cluster_id"])  # the same clusters, pixel for pixel
    # Polygons are the pixel squares dissolved: they tile (no overlap, no gap inside a cluster).
    cell_area = abs(source.GetGeoTransform()[1] * source.GetGeoTransform()[5])
    assert shapely.is_valid(polygons.geometry.values).all()  # corner-touching holes split, not self-touching rings
    counts = polygons.set_index("cluster_id")["n_features"]
    np.testing.assert_allclose(shapely.area(polygons.geometry.values), counts.to_numpy() * cell_area, rtol=1e-6)
    assert shapely.union_all(polygons.geometry.values).area == pytest.approx(len(points) * cell_area, rel=1e-6)
    np.testing.assert_allclose(table["weight"].sum(), points["population"].sum(), rtol=1e-9)
    # Radii cover the pixel squares: at least the points' circle, about the squares' exact circle.
    half = 0.000833333 / 2  # degree squares around the centres, then projected: the pixels as polygons
    x, y = points.geometry.x.to_numpy(), points.geometry.y.to_numpy()
    cells = gpd.GeoDataFrame(geometry=shapely.box(x - half, y - half, x + half, y + half), crs=4326).to_crs(32651)
    cells["cluster_id"] = raster_ids
    for name, radius in zip(table["cluster_id"], table["radius_m"]):
        exact = shapely.minimum_bounding_radius(shapely.union_all(cells.geometry[cells["cluster_id"] == name].values))
        assert exact - 1e-6 <= radius <= exact + 1.0  # footprint measured as the projected pixel's bounding box


def write_strata_table(path, text):
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def grids_with_strata(tmp_path_factory):
    if not GRIDS.exists():
        pytest.skip("../shared/data/grids.parquet is not here")
    frame = gpd.read_parquet(GRIDS)
    frame["urban"] = frame["Lon"] > frame["Lon"].median()  # grids is all urban: split it east/west
    path = tmp_path_factory.mktemp("strata") / "grids.parquet"
    frame.to_parquet(path)
    return path, frame


def test_strata_table_centroids_and_radius_cap(grids_with_strata, tmp_path):
    path, frame = grids_with_strata
    table = write_strata_table(tmp_path / "strata.csv", "PSGC,urban,target_weight,max_weight,max_radius\n"
                               "1102305007,True,150,190,\n1102305007,False,400,480,1200\n")
    done = run_cli("cluster", path, tmp_path / "out.parquet", "--weight-field", "population", *TARGETS, "--epsg",
                   3121, "--stratum-field", "PSGC", "--stratum-field", "urban", "--strata-table", table,
                   "--summary", tmp_path / "hulls.gpkg", "--centroids", tmp_path / "centroids.gpkg")
    assert done.returncode == 0, done.stderr
    out = gpd.read_parquet(tmp_path / "out.parquet")
    assert len(out) == len(frame) and list(out["grid_id"]) == list(frame["grid_id"])
    expected_prefix = np.where(frame["urban"], "PSGC1102305007_urban_CLUSTER_", "PSGC1102305007_not-urban_CLUSTER_")
    assert all(i.startswith(p) for i, p in zip(out["cluster_id"], expected_prefix))
    weights = out.groupby("cluster_id")["population"].sum()
    urban = weights[weights.index.str.contains("_urban_")]
    assert urban.max() <= 190 and abs(urban.median() - 150) < 30
    assert weights[weights.index.str.contains("not-urban")].max() <= 480
    rural = out[~frame["urban"].to_numpy()].to_crs(3121)
    for name, members in rural.groupby("cluster_id"):
        assert shapely.minimum_bounding_radius(shapely.multipoints(members.geometry.values)) <= 1200 + 1e-6, name
    hulls = gpd.read_file(tmp_path / "hulls.gpkg")
    centroids = gpd.read_file(tmp_path / "centroids.gpkg")
    assert set(hulls["stratum"]) == {"PSGC1102305007_urban", "PSGC1102305007_not-urban"}
    assert (centroids.geom_type == "Point").all() and list(centroids["cluster_id"]) == list(hulls["cluster_id"])
    # each centroid is its members' weighted mean position (measured in EPSG:3121)
    projected = out.to_crs(3121)
    projected["wx"] = projected.geometry.x * projected["population"]
    projected["wy"] = projected.geometry.y * projected["population"]
    sums = projected.groupby("cluster_id")[["wx", "wy", "population"]].sum()
    got = centroids.set_index("cluster_id").to_crs(3121).geometry
    np.testing.assert_allclose(got.x.loc[sums.index], sums["wx"] / sums["population"], atol=0.01)
    np.testing.assert_allclose(got.y.loc[sums.index], sums["wy"] / sums["population"], atol=0.01)


def test_a_bad_strata_row_names_its_stratum_and_writes_nothing(grids_with_strata, tmp_path):
    path, _ = grids_with_strata
    table = write_strata_table(tmp_path / "strata.csv", "PSGC,urban,target_weight,max_weight\n"
                               "1102305007,True,150,100\n1102305007,False,400,480\n")
    done = run_cli("cluster", path, tmp_path / "out.gpkg", "--weight-field", "population", *TARGETS,
                   "--stratum-field", "PSGC", "--stratum-field", "urban", "--strata-table", table)
    assert done.returncode == 2
    assert "stratum PSGC1102305007_urban: max cluster weight (100.0) is below the target" in done.stderr
    assert not (tmp_path / "out.gpkg").exists()
    done = run_cli("cluster", path, tmp_path / "out.gpkg", "--weight-field", "population", *TARGETS,
                   "--strata-table", table)
    assert done.returncode == 2 and "need --stratum-field" in done.stderr


def test_lone_polygons_wider_than_the_cap_are_reported(tmp_path):
    boxes = [shapely.box(0, 0, 50, 50), shapely.box(100, 0, 150, 50), shapely.box(5000, 0, 8000, 3000),
             shapely.box(200, 0, 250, 50)]
    gpd.GeoDataFrame({"population": [100.0, 100.0, 100.0, 100.0]}, geometry=boxes, crs=32633).to_file(
        tmp_path / "in.gpkg")
    done = run_cli("cluster", tmp_path / "in.gpkg", tmp_path / "out.gpkg", "--weight-field", "population",
                   "--target-weight", 400, "--target-radius", 5000, "--max-radius", 1000)
    assert done.returncode == 0, done.stderr
    out = gpd.read_file(tmp_path / "out.gpkg")
    wide_id = out["cluster_id"][2]
    assert (out["cluster_id"] == wide_id).sum() == 1
    assert f"1 cluster(s) are single features wider than the max radius on their own: {wide_id}" in done.stderr
    assert '"clusters_over_max_radius": 1' in done.stdout


def test_raster_strata_from_polygons(grids_raster, tmp_path):
    folder, points = grids_raster
    west, south, east, north = points.total_bounds
    middle = float(np.median(points.geometry.x)) + 0.000833333 / 2  # on a pixel edge, between centres
    districts = gpd.GeoDataFrame({"district": ["West", "East"], "urban": [True, False]}, crs=4326, geometry=[
        shapely.box(west - 1, south - 1, middle, north + 1), shapely.box(middle, south - 1, east + 1, north + 1)])
    districts.to_file(tmp_path / "districts.gpkg")
    (tmp_path / "strata.csv").write_text("stratum,target_weight,max_weight\nWest_urban,120,150\nEast_not-urban,,\n")
    done = run_cli("cluster", folder / "grids.tif", tmp_path / "clusters.gpkg", *TARGETS, "--strata-layer",
                   tmp_path / "districts.gpkg", "--stratum-field", "district", "--stratum-field", "urban",
                   "--strata-table", tmp_path / "strata.csv", "--cluster-raster", tmp_path / "numbers.tif",
                   "--report", tmp_path / "report.html")
    assert done.returncode == 0, done.stderr
    assert "West_urban" in (tmp_path / "report.html").read_text()  # the report's per-stratum table
    clusters = gpd.read_file(tmp_path / "clusters.gpkg")
    numbers = gdal.Open(str(tmp_path / "numbers.tif"))  # held: GDAL frees a band with its dataset
    grid = numbers.GetRasterBand(1).ReadAsArray()
    stratum_of_number = dict(zip(clusters["cluster_number"], clusters["stratum"]))
    got = [stratum_of_number[n] for n in grid[points["row"], points["col"]]]
    expected = np.where(points.geometry.x < middle, "West_urban", "East_not-urban")  # the centre's polygon
    assert got == list(expected)
    west_weights = clusters.loc[clusters["stratum"] == "West_urban", "weight"]
    assert west_weights.max() <= 150 and abs(west_weights.median() - 120) < 24
    assert clusters.loc[clusters["stratum"] == "East_not-urban", "weight"].max() <= 300
    # Pixels outside every polygon: an error that counts them, and nothing written.
    districts.iloc[[0]].to_file(tmp_path / "west_only.gpkg")
    done = run_cli("cluster", folder / "grids.tif", tmp_path / "none.gpkg", *TARGETS, "--strata-layer",
                   tmp_path / "west_only.gpkg", "--stratum-field", "district")
    outside = int((points.geometry.x >= middle).sum())
    assert done.returncode == 2 and f"{outside:,} populated pixel(s)" in done.stderr
    assert not (tmp_path / "none.gpkg").exists()
    # The cluster raster may not be the input raster: refused before any work, the input unchanged.
    before = (folder / "grids.tif").read_bytes()
    done = run_cli("cluster", folder / "grids.tif", tmp_path / "c.gpkg", *TARGETS, "--cluster-raster",
                   folder / "grids.tif")
    assert done.returncode == 2 and "is the input raster; writing it would replace your data" in done.stderr
    assert (folder / "grids.tif").read_bytes() == before and not (tmp_path / "c.gpkg").exists()


def test_classify_splits_pixel_values_into_ordered_classes(tmp_path):
    from raster_data import write_geotiff

    rng = np.random.default_rng(4)
    ndvi = np.where(np.arange(120)[None, :] < 40, -0.2, np.where(np.arange(120)[None, :] < 80, 0.3, 0.75))
    ndvi = (np.repeat(ndvi, 90, axis=0) + rng.normal(0, 0.03, (90, 120))).astype(np.float32)
    ndvi[:5, :5] = -99999.0  # nodata: in no class
    write_geotiff(tmp_path / "ndvi.tif", ndvi, (300_000.0, 10.0, 0.0, 5_000_000.0, 0.0, -10.0), epsg=32633)
    done = run_cli("classify", tmp_path / "ndvi.tif", tmp_path / "classes.gpkg", "--classes", 3, "--class-raster",
                   tmp_path / "classes.tif", "--summary", tmp_path / "classes.csv")
    assert done.returncode == 0, done.stderr
    source = gdal.Open(str(tmp_path / "classes.tif"))
    classes = source.GetRasterBand(1).ReadAsArray()
    assert (classes[:5, :5] == 0).all()
    # the three vertical bands, lowest NDVI first, whatever the noise
    assert (classes[5:, :40] == 1).all() and (classes[:, 40:80] == 2).all() and (classes[:, 80:] == 3).all()
    table = pd.read_csv(tmp_path / "classes.csv")
    assert list(table["n_pixels"]) == [90 * 40 - 25, 90 * 40, 90 * 40]
    assert list(np.round(table["mean_value"], 1)) == [-0.2, 0.3, 0.8]
    polygons = gpd.read_file(tmp_path / "classes.gpkg")
    np.testing.assert_allclose(polygons.area, table["n_pixels"] * 100.0)  # 10 m pixels, dissolved
    done = run_cli("classify", tmp_path / "ndvi.tif", tmp_path / "x.gpkg", "--classes", 50000)
    assert done.returncode == 2 and "distinct value" in done.stderr


def test_fixed_count_per_stratum_with_centroids(grids_with_strata, tmp_path):
    path, frame = grids_with_strata
    done = run_cli("cluster", path, tmp_path / "out.parquet", "--weight-field", "population", "--target-weight", 240,
                   "--target-radius", 1000, "--clusters", 10, "--stratum-field", "urban", "--centroids",
                   tmp_path / "centres.gpkg", "--quiet")
    assert done.returncode == 0, done.stderr
    out = gpd.read_parquet(tmp_path / "out.parquet")
    per_stratum = out.groupby(np.where(frame["urban"], "urban", "not-urban"))["cluster_id"].nunique()
    assert per_stratum.to_dict() == {"urban": 10, "not-urban": 10}
    centres = gpd.read_file(tmp_path / "centres.gpkg")
    assert len(centres) == 20 and set(centres["cluster_id"]) == set(out["cluster_id"])
