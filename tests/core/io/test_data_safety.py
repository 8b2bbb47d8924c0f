"""Never lose a user's data, through the CLI: refused writes leave every file byte-identical,
accepted writes keep every row, field and layer; geometry, CRS and weight cases get a clear word."""

from __future__ import annotations

import hashlib

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from core_helpers import run_cli
from pyproj import CRS, Transformer
from synthetic import clumped_population_frame

import core.io.files
from core.cli.main import main
from core.io.files import read_layer

FAST = ["--weight-field", "population", "--target-weight", 30, "--target-radius", 1500, "--max-weight", 40,
        "--initial-trials", 4, "--subsequent-trials", 3, "--quiet"]


def digest(*paths) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.read_bytes())
    return h.hexdigest()


def frame(n=120, seed=3):
    source = clumped_population_frame(n, seed)
    source["name"] = [f"cell-{i}" for i in range(n)]
    return source


def cli(*args) -> int:
    return main([str(a) for a in args])


def error_line(capsys, *args) -> str:
    assert cli(*args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.fixture
def no_clustering(monkeypatch):
    """Output problems must stop the run before the engine starts."""
    def refuse(*args, **kwargs):
        raise AssertionError("the engine ran although the output could not be written")

    monkeypatch.setattr(core.io.files, "cluster", refuse)


# --------------------------------------------------------------------------- outputs that would destroy


@pytest.mark.parametrize("name", ["in.gpkg", "in.parquet", "in.shp"])
def test_output_equal_to_input_is_refused_and_the_input_is_untouched(capsys, tmp_path, name, no_clustering):
    path = tmp_path / name
    source = frame()
    source.to_parquet(path) if path.suffix == ".parquet" else source.to_file(path)
    parts = sorted(tmp_path.iterdir())
    before = digest(*parts)
    line = error_line(capsys, "cluster", path, path, *FAST)
    assert f"the output {name} is the input" in line and "--overwrite-input" in line
    assert sorted(tmp_path.iterdir()) == parts and digest(*parts) == before


def test_overwrite_input_replaces_it_with_every_row_and_field(tmp_path):
    path = tmp_path / "in.gpkg"
    source = frame()
    source.to_file(path, layer="in")
    assert cli("cluster", path, path, *FAST, "--overwrite-input") == 0
    out = read_layer(path)
    assert list(out["name"]) == list(source["name"])
    np.testing.assert_array_equal(out["population"], source["population"])
    assert out["cluster_id"].notna().all()
    assert [row[0] for row in pyogrio.list_layers(path)] == ["in", "layer_styles"]  # its style with it


def test_mixed_case_cluster_field_is_reused_not_doubled(tmp_path):
    """Issue case 1: `Cluster_ID` in the input used to make GeoPackage refuse and lose the file."""
    path = tmp_path / "in.gpkg"
    source = frame()
    source["Cluster_ID"] = "old"
    source.to_file(path, layer="in")
    assert cli("cluster", path, path, *FAST, "--overwrite-input") == 0
    out = read_layer(path)
    assert "Cluster_ID" in out.columns and "cluster_id" not in out.columns
    assert out["Cluster_ID"].str.startswith("CLUSTER_").all()
    assert list(out["name"]) == list(source["name"])


@pytest.mark.parametrize("column, values", [("cluster_id", 7), ("cluster_weight", "heavy")])
def test_cluster_field_clashing_with_a_field_of_another_type_is_refused(capsys, tmp_path, column, values):
    path = tmp_path / "in.gpkg"
    source = frame()
    source[column] = values
    source.to_file(path)
    before = digest(path)
    line = error_line(capsys, "cluster", path, tmp_path / "out.gpkg", *FAST)
    assert f"already has a field {column!r}" in line
    assert digest(path) == before and not (tmp_path / "out.gpkg").exists()


def test_other_layers_of_a_geopackage_output_survive(tmp_path):
    target = tmp_path / "project.gpkg"
    roads, parcels = frame(30, seed=1), frame(40, seed=2)
    roads.to_file(target, layer="roads")
    parcels.to_file(target, layer="parcels")
    frame().to_parquet(tmp_path / "in.parquet")
    assert cli("cluster", tmp_path / "in.parquet", target, *FAST, "--output-layer", "clustered") == 0
    assert sorted(row[0] for row in pyogrio.list_layers(target)) == ["clustered", "layer_styles", "parcels", "roads"]
    for name, expected in (("roads", roads), ("parcels", parcels)):
        kept = read_layer(target, name)
        assert list(kept["name"]) == list(expected["name"])
        np.testing.assert_array_equal(kept["population"], expected["population"])
    assert len(read_layer(target, "clustered")) == 120
    # Again under the same name: only that layer is replaced.
    assert cli("cluster", tmp_path / "in.parquet", target, *FAST, "--output-layer", "clustered") == 0
    assert sorted(row[0] for row in pyogrio.list_layers(target)) == ["clustered", "layer_styles", "parcels", "roads"]


def test_new_layer_in_the_input_geopackage_keeps_the_input_layer(tmp_path):
    path = tmp_path / "in.gpkg"
    source = frame()
    source.to_file(path, layer="cells")
    assert cli("cluster", path, path, *FAST, "--output-layer", "clustered") == 0
    assert sorted(row[0] for row in pyogrio.list_layers(path)) == ["cells", "clustered", "layer_styles"]
    assert sorted(read_layer(path, "cells").columns) == sorted(source.columns)


@pytest.mark.parametrize("summary", ["input", "output"])
def test_summary_on_the_input_or_the_output_is_refused(capsys, tmp_path, summary, no_clustering):
    path = tmp_path / "in.gpkg"
    frame().to_file(path)
    before = digest(path)
    target = path if summary == "input" else tmp_path / "out.gpkg"
    line = error_line(capsys, "cluster", path, tmp_path / "out.gpkg", *FAST, "--summary", target)
    assert ("is the input" if summary == "input" else "the output and --summary are the same") in line
    assert digest(path) == before and not (tmp_path / "out.gpkg").exists()


@pytest.mark.parametrize("output, summary, expected", [
    ("missing/out.gpkg", None, "folder"),
    ("out.gpkg", "missing/sum.gpkg", "folder"),
    ("out.txt", None, "unknown output format '.txt'"),
    ("out.gpkg", "sum.xls", "unknown --summary format '.xls'"),
    ("out.parquet", None, "a layer name for the output needs a GeoPackage"),
])
def test_output_problems_are_found_before_clustering(capsys, tmp_path, output, summary, expected, no_clustering):
    frame().to_parquet(tmp_path / "in.parquet")
    extra = ["--summary", tmp_path / summary] if summary else []
    if output == "out.parquet":
        extra += ["--output-layer", "x"]
    line = error_line(capsys, "cluster", tmp_path / "in.parquet", tmp_path / output, *FAST, *extra)
    assert expected in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


def test_a_failed_write_leaves_the_old_output_byte_identical(capsys, tmp_path):
    points = frame()
    points.to_parquet(tmp_path / "points.parquet")
    assert cli("cluster", tmp_path / "points.parquet", tmp_path / "out.shp", *FAST) == 0
    parts = sorted(tmp_path.glob("out.*"))
    before = digest(*parts)
    mixed = points.copy()
    mixed.loc[::2, "geometry"] = mixed.geometry[::2].envelope.buffer(1).envelope  # Shapefile holds one geometry type
    mixed.to_parquet(tmp_path / "mixed.parquet")
    line = error_line(capsys, "cluster", tmp_path / "mixed.parquet", tmp_path / "out.shp", *FAST)
    assert "cannot write out.shp" in line and "out.shp is unchanged" in line
    assert sorted(tmp_path.glob("out.*")) == parts and digest(*parts) == before
    assert not list(tmp_path.glob(".*wrok-tmp*"))  # no temporary files left behind


def test_shapefile_names_that_would_merge_are_refused(capsys, tmp_path, no_clustering):
    source = frame()
    source["households_2020"] = 1.0
    source["households_2021"] = 2.0
    source.to_parquet(tmp_path / "in.parquet")
    line = error_line(capsys, "cluster", tmp_path / "in.parquet", tmp_path / "out.shp", *FAST)
    assert "'households_2020' and 'households_2021' would become one field" in line


def test_cli_output_problem_in_a_real_process(tmp_path):
    path = tmp_path / "in.gpkg"
    frame().to_file(path)
    before = digest(path)
    done = run_cli("cluster", path, path, *FAST)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is the input" in done.stderr and digest(path) == before


# --------------------------------------------------------------------------- geometry, CRS, weights, columns


def _rooftops_with_bowties(n=300, share=0.05, seed=4):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 8000, n) + 500_000, rng.uniform(0, 8000, n) + 1_600_000
    shapes = list(shapely.box(x - 6, y - 6, x + 6, y + 6))
    bowties = rng.choice(n, int(n * share), replace=False)
    for i in bowties:  # a self-intersecting ring whose signed area is ~0: its centroid flies off
        shapes[i] = shapely.Polygon([(x[i] - 6, y[i] - 6), (x[i] + 6, y[i] + 6), (x[i] + 6, y[i] - 6),
                                     (x[i] - 6, y[i] + 6.0001)])
    return gpd.GeoDataFrame({"population": rng.integers(1, 6, n).astype(float)}, geometry=shapes, crs=32651), bowties


def test_invalid_polygons_are_repaired_with_a_count_or_refused(capsys, tmp_path):
    rooftops, bowties = _rooftops_with_bowties()
    assert not shapely.is_valid(rooftops.geometry.values[bowties]).any()
    rooftops.to_file(tmp_path / "roofs.gpkg")
    args = ["cluster", tmp_path / "roofs.gpkg", tmp_path / "out.gpkg", "--weight-field", "population",
            "--target-weight", 60, "--target-radius", 1000, "--max-weight", 80, "--initial-trials", 4,
            "--subsequent-trials", 3, "--quiet", "--summary", tmp_path / "sum.gpkg"]
    assert cli(*args) == 0
    assert f"note: repaired {len(bowties)} invalid geometries" in capsys.readouterr().err
    summary = read_layer(tmp_path / "sum.gpkg")
    # Every cluster stays inside the 8 km square the roofs lie in: no centroid thrown far away.
    assert summary["radius_m"].max() < 8000 * 0.75
    out = read_layer(tmp_path / "out.gpkg")
    assert shapely.equals_exact(out.geometry.values, rooftops.geometry.values, 0).all()  # the originals, as given
    line = error_line(capsys, *args[:3], "--invalid-geometries", "error", *args[3:])
    assert f"{len(bowties)} feature(s) have an invalid geometry" in line and "Self-intersection" in line


def test_layer_without_crs_plus_epsg_means_coordinates_in_that_crs(capsys, tmp_path):
    source = frame()
    metric = source.to_crs(32651)
    metric.set_crs(None, allow_override=True).to_file(tmp_path / "nocrs.shp")
    assert read_layer(tmp_path / "nocrs.shp").crs is None
    assert cli("cluster", tmp_path / "nocrs.shp", tmp_path / "out.gpkg", *FAST, "--epsg", 32651,
               "--summary", tmp_path / "sum.gpkg") == 0
    out, reference = read_layer(tmp_path / "out.gpkg"), tmp_path / "ref.gpkg"
    assert out.crs.to_epsg() == 32651
    assert cli("cluster", tmp_path / "nocrs.shp", reference, *FAST, "--epsg", 32651) == 0
    metric.to_file(tmp_path / "withcrs.gpkg")
    assert cli("cluster", tmp_path / "withcrs.gpkg", reference, *FAST) == 0
    assert list(out["cluster_id"]) == list(read_layer(reference)["cluster_id"])
    # Degrees without a CRS plus a metric EPSG would be read as metres: refused.
    source.set_crs(None, allow_override=True).to_file(tmp_path / "degrees.shp")
    line = error_line(capsys, "cluster", tmp_path / "degrees.shp", tmp_path / "x.gpkg", *FAST, "--epsg", 32651)
    assert "no coordinate reference system and its coordinates look like longitude/latitude" in line


def test_wide_layer_radii_are_within_one_percent_of_geodesic():
    """80 degrees of longitude: one UTM zone overstates far clusters; each is measured at its own centre."""
    rng = np.random.default_rng(5)
    centres = np.column_stack([np.linspace(-40, 40, 9), np.full(9, 50.0)])
    lonlat = np.concatenate([c + rng.normal(0, 0.01, (40, 2)) for c in centres])
    wide = gpd.GeoDataFrame({"population": np.ones(len(lonlat))},
                            geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]), crs=4326)
    params = core.ClusteringParams(desired_cluster_weight=40, desired_cluster_radius=3000, max_cluster_weight=45,
                                   initial_max_trials=4, subsequent_max_trials=3)
    logged = []
    out, _, result = core.io.files.cluster_frame(wide, params, "population", log=logged.append)
    assert any("wider than one UTM zone" in line for line in logged)
    ids = out["cluster_id"].to_numpy()
    single_zone = Transformer.from_crs(4326, 32601 + int((0 + 180) // 6), always_xy=True)
    worst_utm = 0.0
    for name, radius in zip(result.clusters["cluster_id"], result.clusters["radius_m"]):
        members = lonlat[ids == name]
        centre = members.mean(axis=0)
        aeqd = CRS.from_proj4(f"+proj=aeqd +lat_0={centre[1]} +lon_0={centre[0]} +datum=WGS84 +units=m")
        x, y = Transformer.from_crs(4326, aeqd, always_xy=True).transform(members[:, 0], members[:, 1])
        geodesic = shapely.minimum_bounding_radius(shapely.multipoints(np.column_stack([x, y])))
        assert radius == pytest.approx(geodesic, rel=0.01), name
        ux, uy = single_zone.transform(members[:, 0], members[:, 1])
        utm = shapely.minimum_bounding_radius(shapely.multipoints(np.column_stack([ux, uy])))
        worst_utm = max(worst_utm, abs(utm / geodesic - 1))
    assert worst_utm > 0.05  # the single-zone figure this replaces was far off


def test_seed_mode_over_the_max_is_named_on_stderr(capsys, tmp_path):
    """1,000 co-located points cannot be split: the run says which cluster is over and by how much."""
    lonlat = np.tile([[121.0, 14.6]], (1000, 1))
    points = gpd.GeoDataFrame({"population": np.full(1000, 10.0)},
                              geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]), crs=4326)
    points.to_parquet(tmp_path / "stack.parquet")
    assert cli("cluster", tmp_path / "stack.parquet", tmp_path / "out.parquet", "--weight-field", "population",
               "--target-weight", 240, "--target-radius", 1000, "--max-weight", 300, "--strategy", "seed",
               "--initial-trials", 3, "--subsequent-trials", 2, "--max-passes", 3, "--quiet") == 0
    err = capsys.readouterr().err
    out = gpd.read_parquet(tmp_path / "out.parquet")
    heavy = out.groupby("cluster_id")["population"].sum()
    heavy = heavy[heavy > 300]
    assert len(heavy) >= 1
    for name, weight in heavy.items():
        assert f"warning: cluster {name} weighs {weight:g}, over the max weight of 300" in err


def test_geoparquet_named_index_is_kept_in_parquet_and_csv_output(tmp_path):
    source = frame().set_index(pd.Index([f"H{i:04d}" for i in range(120)], name="cell_code"))
    source.to_parquet(tmp_path / "indexed.parquet")
    for output in ("out.parquet", "out.csv"):
        assert cli("cluster", tmp_path / "indexed.parquet", tmp_path / output, *FAST) == 0
        written = pd.read_csv(tmp_path / output) if output.endswith(".csv") else pd.read_parquet(tmp_path / output)
        assert list(written["cell_code"]) == list(source.index)


def test_non_numeric_csv_longitude_is_named_as_such(capsys, tmp_path):
    pd.DataFrame({"lon": ["121.0", "east", "121.2"], "lat": [14.5, 14.6, 14.7], "population": [1, 2, 3]}).to_csv(
        tmp_path / "pts.csv", index=False)
    line = error_line(capsys, "cluster", tmp_path / "pts.csv", tmp_path / "out.gpkg", *FAST)
    assert "1 row(s) have a lon/lat that is not a number (first: row 3, 'east'" in line


def test_h3_aggregation_refuses_a_respelled_cluster_field(capsys, tmp_path, no_clustering):
    source = frame()
    source["Cluster_ID"] = "old"
    source.to_parquet(tmp_path / "in.parquet")
    line = error_line(capsys, "cluster", tmp_path / "in.parquet", tmp_path / "out.gpkg", *FAST, "--h3-resolution", 8)
    assert "rename or remove the input's field(s) Cluster_ID" in line
