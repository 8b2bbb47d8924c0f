"""H3 cells as input (--h3-field) and points aggregated to H3 cells (--h3-resolution).

Expected values come from the h3 package and shapely directly, never from the engine's figures.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from core_helpers import fast_params, run_cli
from h3.api import basic_int as h3
from synthetic import clumped_population_frame

from core import ClusteringInputError, ClusteringParams
from core.cli.main import main
from core.frame.h3cells import cell_rings, connected_clusters, parse_cells
from core.io.h3frame import cluster_h3_table, cluster_points_by_h3

GRIDS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "grids.parquet"
FAST = ["--target-weight", 30, "--target-radius", 1500, "--max-weight", 40, "--initial-trials", 5,
        "--subsequent-trials", 3, "--quiet"]


def kontur_style_table(resolution=9) -> pd.DataFrame:
    """(h3, population): the shared grid points summed per H3 cell, as Kontur Population ships it."""
    grids = gpd.read_parquet(GRIDS)
    cells = [h3.int_to_str(h3.latlng_to_cell(lat, lon, resolution)) for lon, lat in
             zip(grids.geometry.x, grids.geometry.y)]
    return pd.DataFrame({"h3": cells, "population": grids["population"]}).groupby("h3", as_index=False).sum()


def small_cell_table(seed=3, k=6, resolution=8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cells = sorted(h3.grid_disk(h3.latlng_to_cell(14.6, 121.0, resolution), k))
    return pd.DataFrame({"h3": [h3.int_to_str(c) for c in cells], "population": rng.uniform(1, 10, len(cells))})


def centre_point_overlap(cells: np.ndarray, ids: np.ndarray, epsg: int) -> float:
    """(sum of hull areas - union area) / sum of hull areas, hulls of the cells' centre points."""
    lat_lng = np.array([h3.cell_to_latlng(int(c)) for c in cells])
    points = gpd.GeoSeries(gpd.points_from_xy(lat_lng[:, 1], lat_lng[:, 0]), crs=4326).to_crs(epsg)
    _, cluster = np.unique(ids.astype(str), return_inverse=True)
    order = np.argsort(cluster, kind="stable")
    xy = shapely.get_coordinates(points.values)[order]
    hulls = shapely.convex_hull(shapely.multipoints(xy, indices=cluster[order]))
    areas = shapely.area(hulls)
    return float((areas.sum() - shapely.union_all(hulls).area) / areas.sum())


def test_string_and_integer_indexes_give_the_same_cells():
    table = small_cell_table()
    as_int = [h3.str_to_int(s) for s in table["h3"]]
    np.testing.assert_array_equal(parse_cells(table["h3"].tolist()), np.array(as_int, dtype=np.uint64))
    np.testing.assert_array_equal(parse_cells(np.array(as_int, dtype=np.int64)), np.array(as_int, dtype=np.uint64))


@pytest.mark.parametrize("values, message", [
    (["8928308280fffff", "88283082a1fffff"], "mixes H3 resolutions (1 at resolution 8, 1 at resolution 9)"),
    (["8928308280fffff", "not-a-cell", 12345], "2 value(s) in field 'h3' are not valid H3 cell indexes"),
    (["8928308280fffff", "8928308280fffff", "8928308280bffff"], "1 duplicate H3 cell row(s)"),
    (["8928308280fffff", None], "1 row(s) have no H3 index"),
])
def test_bad_cell_tables_are_refused_with_the_reason(values, message):
    with pytest.raises(ClusteringInputError, match=re.escape(message)):
        parse_cells(values, "h3")


def test_cli_clusters_a_plain_table_into_hexagons(tmp_path):
    """A Parquet table with no geometry column: output is one hexagon per row, EPSG:4326, rows in order."""
    table = small_cell_table().sample(frac=1.0, random_state=2).reset_index(drop=True)
    table.to_parquet(tmp_path / "cells.parquet")
    result = run_cli("cluster", tmp_path / "cells.parquet", tmp_path / "out.gpkg", "--h3-field", "h3",
                     "--weight-field", "population", "--summary", tmp_path / "clusters.gpkg",
                     *[a for a in FAST if a != "--quiet"])
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    out = gpd.read_file(tmp_path / "out.gpkg")
    assert out.crs.to_epsg() == 4326 and (out.geom_type == "Polygon").all()
    assert list(out["h3"]) == list(table["h3"])
    np.testing.assert_allclose(out["population"], table["population"])
    for cell, geometry in zip(out["h3"], out.geometry):
        expected = shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(h3.str_to_int(cell))])
        assert geometry.equals_exact(expected, 1e-9)
    totals = out.groupby("cluster_id")["population"].sum()
    np.testing.assert_allclose(out["cluster_weight"], totals.reindex(out["cluster_id"]).to_numpy())
    cells = np.array([h3.str_to_int(c) for c in out["h3"]], dtype=np.uint64)
    connected, total = _connected_by_bfs(cells, out["cluster_id"].to_numpy())
    assert stats["h3_connected_clusters"] == connected and stats["clusters"] == total
    assert len(gpd.read_file(tmp_path / "clusters.gpkg")) == total


def _connected_by_bfs(cells, ids):
    """Connected clusters counted by a plain breadth-first search over h3 neighbours."""
    connected = 0
    for name in set(ids):
        members = {int(c) for c in cells[ids == name]}
        start = next(iter(members))
        seen, frontier = {start}, [start]
        while frontier:
            frontier = {n for c in frontier for n in h3.grid_disk(c, 1) if n in members and n not in seen}
            seen.update(frontier)
        connected += seen == members
    return connected, len(set(ids))


def test_integer_indexes_and_radius_on_the_hexagons():
    table = small_cell_table(seed=5)
    table["h3"] = [h3.str_to_int(s) for s in table["h3"]]
    params = fast_params(desired_cluster_weight=30, max_cluster_weight=40, desired_cluster_radius=1500)
    out, _, result, _ = cluster_h3_table(table, "h3", params, "population")
    assert len(out) == len(table)
    utm = out.to_crs(32651)  # the cells' UTM zone, which the run measures in
    for name, radius in zip(result.clusters["cluster_id"], result.clusters["radius_m"]):
        members = utm.geometry.values[(out["cluster_id"] == name).to_numpy()]
        assert radius == pytest.approx(shapely.minimum_bounding_radius(shapely.GeometryCollection(list(members))),
                                       rel=1e-6)


def test_pentagon_cells_keep_their_five_sides_and_adjacency():
    pentagon = h3.get_pentagons(6)[3]
    cells = sorted(h3.grid_disk(pentagon, 3))
    assert len(cells) == 1 + 5 * (1 + 2 + 3)  # a pentagon has five neighbours per ring
    table = pd.DataFrame({"h3": cells, "population": np.full(len(cells), 5.0)})
    params = fast_params(desired_cluster_weight=40, max_cluster_weight=50, desired_cluster_radius=20_000)
    out, _, result, contiguity = cluster_h3_table(table, "h3", params, "population")
    geometry = out.geometry[out["h3"] == pentagon].iloc[0]
    assert len(geometry.exterior.coords) - 1 == len(h3.cell_to_boundary(pentagon))
    assert out["cluster_weight"].max() <= 50
    connected, total = _connected_by_bfs(np.array(cells, dtype=np.uint64), out["cluster_id"].to_numpy())
    assert contiguity["h3_connected_clusters"] == connected and len(result.clusters) == total


def test_cells_across_the_antimeridian_are_split_and_measured_locally():
    centre = h3.latlng_to_cell(-17.0, 179.99, 7)
    cells = sorted(h3.grid_disk(centre, 6))
    rings = cell_rings(np.array(cells, dtype=np.uint64))
    split = [r for r in rings if len(r) == 2]
    assert split, "the test area should contain cells cut by the antimeridian"
    for parts in split:  # one part ends at +180, the other at -180, together the cell's area
        assert {max(p[0] for p in parts[0]), min(p[0] for p in parts[1])} == {180.0, -180.0}
    table = pd.DataFrame({"h3": [h3.int_to_str(c) for c in cells], "population": np.full(len(cells), 3.0)})
    params = fast_params(desired_cluster_weight=30, max_cluster_weight=40, desired_cluster_radius=1500)
    out, _, result, _ = cluster_h3_table(table, "h3", params, "population")
    assert (out.geom_type[[len(r) == 2 for r in rings]] == "MultiPolygon").all()
    bounds = out.geometry.bounds
    assert bounds["minx"].min() >= -180 and bounds["maxx"].max() <= 180
    # Measured in a UTM zone at the antimeridian, a cluster of ~10 cells (~5 km2 each) is a few km
    # across; a zone picked from the extent box's middle (lon 0) would give thousands of km.
    assert result.clusters["radius_m"].max() < 15_000
    assert np.isclose(out["population"].sum(), 3.0 * len(cells))


def test_connected_clusters_counts_split_clusters():
    cells = np.array(sorted(h3.grid_disk(h3.latlng_to_cell(0, 0, 9), 2)), dtype=np.uint64)
    labels = np.zeros(len(cells), dtype=int)
    far = h3.latlng_to_cell(1, 1, 9)
    cells = np.append(cells, np.uint64(far))
    labels = np.append(labels, 0)  # cluster 0 now has a detached cell
    labels[:3] = [1, 1, 1]
    expected = _connected_by_bfs(cells, labels)
    assert connected_clusters(cells, labels) == expected
    assert expected[0] < expected[1]


def test_kontur_style_table_clusters_even_compact_and_connected():
    table = kontur_style_table(9)
    params = ClusteringParams(desired_cluster_weight=240, desired_cluster_radius=1000, max_cluster_weight=300)
    out, _, result, contiguity = cluster_h3_table(table, "h3", params, "population")
    weights = np.asarray(result.clusters["weight"])
    cells = np.array([h3.str_to_int(c) for c in out["h3"]], dtype=np.uint64)
    in_band = np.mean(np.abs(weights - 240) <= 0.2 * 240)
    overlap = centre_point_overlap(cells, out["cluster_id"].to_numpy(), 32651)
    connected, total = _connected_by_bfs(cells, out["cluster_id"].to_numpy())
    assert contiguity["h3_connected_clusters"] == connected
    print(f"in band {in_band:.3f}, centre-point overlap {overlap:.4f}, H3-connected {connected}/{total}")
    assert in_band >= 0.99 and overlap < 1e-9 and connected / total >= 0.99


def test_points_to_h3_keep_every_row_and_sum_weights_per_cell(tmp_path):
    frame = clumped_population_frame(3000, seed=4)
    frame.to_parquet(tmp_path / "points.parquet")
    assert main([str(a) for a in ["cluster", tmp_path / "points.parquet", tmp_path / "out.parquet",
                                  "--h3-resolution", 9, "--weight-field", "population", *FAST]]) == 0
    out = gpd.read_parquet(tmp_path / "out.parquet")
    assert list(out["cell_id"]) == list(frame["cell_id"])  # every input row, in order
    assert out.geometry.equals(frame.geometry)
    expected_cells = [h3.int_to_str(h3.latlng_to_cell(p.y, p.x, 9)) for p in frame.geometry]
    assert list(out["h3_cell"]) == expected_cells
    assert (out.groupby("h3_cell")["cluster_id"].nunique() == 1).all()  # a cell's points share a cluster
    totals = out.groupby("cluster_id")["population"].sum()
    np.testing.assert_allclose(out["cluster_weight"], totals.reindex(out["cluster_id"]).to_numpy(), rtol=1e-9)
    assert out["cluster_weight"].max() <= 40 + 1e-9 or (out.groupby("h3_cell")["population"].sum() > 40).any()


def test_points_to_h3_refuses_a_bad_resolution_and_non_points():
    frame = clumped_population_frame(50, seed=1)
    params = fast_params(desired_cluster_weight=30, max_cluster_weight=40, desired_cluster_radius=1500)
    with pytest.raises(ClusteringInputError, match="resolution must be an integer from 0 to 15"):
        cluster_points_by_h3(frame, 16, params, "population")
    polygons = frame.copy()
    polygons.geometry = frame.to_crs(32651).buffer(10).to_crs(4326)
    with pytest.raises(ClusteringInputError, match="needs a point layer"):
        cluster_points_by_h3(polygons, 9, params, "population")
