"""The hard maximum radius: every cluster within the cap, except single features wider than it alone."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
import shapely
from core_helpers import check_result, fast_params
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synthetic import clumped_population

from core import ClusteringInputError, cluster


def mbc_radius(x, y):
    return shapely.minimum_bounding_radius(shapely.multipoints(np.column_stack([x, y])))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 400), seed=st.integers(0, 2**16), cap=st.sampled_from([50.0, 300.0, 800.0, 2500.0]))
def test_every_cluster_fits_under_the_cap(n, seed, cap):
    x, y, w = clumped_population(n, seed)
    params = fast_params(max_cluster_radius=cap)
    result = cluster(x, y, w, params)
    ids = check_result(result, w, params, x, y)
    for name in set(ids):
        members = ids == name
        assert mbc_radius(x[members], y[members]) <= cap * (1 + 1e-9), name
    assert len(result.over_max_radius) == 0  # points are never wider than a cap on their own
    assert result.stats()["clusters_over_max_radius"] == 0


def test_cap_only_splits_clusters_that_are_too_wide():
    x, y, w = clumped_population(3000, 7)
    params = fast_params()
    free = cluster(x, y, w, params)
    cap = float(np.percentile(free.clusters["radius_m"], 70))
    capped = cluster(x, y, w, params, max_cluster_radius=cap)
    free_ids, capped_ids = free.cluster_id.astype(str), capped.cluster_id.astype(str)
    for name, radius in zip(free.clusters["cluster_id"], free.clusters["radius_m"]):
        members = free_ids == name
        pieces = set(capped_ids[members])
        if radius <= cap:
            assert pieces == {name}  # untouched
        else:
            assert len(pieces) >= 2 and all(piece.startswith(f"{name}_") for piece in pieces)
            # the pieces hold exactly the wide cluster's features
            assert set(np.flatnonzero(np.isin(capped_ids, list(pieces)))) == set(np.flatnonzero(members))
    assert capped.clusters["radius_m"].max() <= cap


def square(cx, cy, half):
    return np.array([(cx - half, cy - half), (cx + half, cy - half), (cx + half, cy + half), (cx - half, cy + half)])


def test_a_polygon_wider_than_the_cap_alone_is_reported():
    rng = np.random.default_rng(3)
    centres = rng.uniform(0, 5000, (60, 2))
    halves = np.full(60, 20.0)
    halves[17] = 900.0  # one building-sized feature far wider than the cap on its own
    vertices = np.concatenate([square(cx, cy, h) for (cx, cy), h in zip(centres, halves)])
    owner = np.repeat(np.arange(60), 4)
    result = cluster(centres[:, 0], centres[:, 1], np.ones(60), fast_params(desired_cluster_weight=10,
                     max_cluster_weight=None, max_passes=1, max_cluster_radius=500), vertex_xy=vertices,
                     vertex_owner=owner)
    ids = result.cluster_id.astype(str)
    assert list(result.over_max_radius) == [ids[17]]
    assert (ids == ids[17]).sum() == 1
    polygons = shapely.polygons(vertices.reshape(60, 4, 2))
    for name in set(ids) - {ids[17]}:
        assert shapely.minimum_bounding_radius(shapely.union_all(polygons[ids == name])) <= 500 * (1 + 1e-9)


def test_pixel_footprints_count_in_the_radius():
    x, y, w = clumped_population(2000, 11)
    x, y = np.round(x / 100) * 100, np.round(y / 100) * 100  # on a 100 m grid, as raster pixels are
    result = cluster(x, y, w, fast_params(max_cluster_radius=700), footprint=(50, 50))
    ids = result.cluster_id.astype(str)
    for name, radius in zip(result.clusters["cluster_id"], result.clusters["radius_m"]):
        members = ids == name
        cells = shapely.box(x[members] - 50, y[members] - 50, x[members] + 50, y[members] + 50)
        exact = shapely.minimum_bounding_radius(shapely.union_all(cells))
        assert radius == pytest.approx(exact, rel=1e-9, abs=1e-6)
        assert radius <= 700 * (1 + 1e-9)


@pytest.mark.parametrize("value", [0, -5.0, float("nan"), "far"])
def test_bad_max_radius_is_refused_by_name(value):
    with pytest.raises(ClusteringInputError, match="max cluster radius"):
        fast_params(max_cluster_radius=value)


def copy_rows(server, dbname, table, rows):
    """Bulk-load tab-separated rows through psql's COPY (the server's own loader)."""
    text = "\n".join("\t".join(map(str, row)) for row in rows)
    done = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"], input=f"COPY {table} FROM STDIN;\n{text}\n\\.\n",
                          text=True, capture_output=True, env=dict(os.environ, **server.libpq_env(dbname)))
    assert done.returncode == 0, done.stderr


def test_same_cap_as_postgis_st_clusterkmeans(postgres_server, postgis_db):
    """ST_ClusterKMeans(geom, k, max_radius) and wrok on the same points; PostGIS measures both."""
    x, y, w = clumped_population(1500, 5)
    cap = 600.0
    server = postgres_server
    server.psql(postgis_db, "CREATE TABLE pts (id int PRIMARY KEY, w float8, geom geometry(Point, 32633))")
    copy_rows(server, postgis_db, "pts", ((i, w[i], f"SRID=32633;POINT({float(x[i])!r} {float(y[i])!r})") for i in range(len(x))))
    k = max(1, int(w.sum() / 240))
    server.psql(postgis_db, f"CREATE TABLE theirs AS SELECT id, ST_ClusterKMeans(geom, {k}, {cap}) OVER () AS cid "
                            "FROM pts")
    result = cluster(x, y, w, fast_params(max_cluster_radius=cap))
    server.psql(postgis_db, "CREATE TABLE ours (id int PRIMARY KEY, cid text)")
    copy_rows(server, postgis_db, "ours", enumerate(result.cluster_id.astype(str)))

    def widest_and_count(table):
        line = server.psql(postgis_db, f"""
            SELECT max(r), count(*) FROM (SELECT (ST_MinimumBoundingRadius(ST_Collect(geom))).radius AS r
            FROM pts JOIN {table} USING (id) GROUP BY cid) t""")
        widest, count = line.split("|")
        return float(widest), int(count)

    their_widest, their_count = widest_and_count("theirs")
    our_widest, our_count = widest_and_count("ours")
    assert their_widest <= cap + 1e-6 and their_count >= k  # PostGIS's promise, as documented
    assert our_widest <= cap + 1e-6  # ours, measured by PostGIS on the same points
    assert our_count == len(result.clusters)
    assert int(server.psql(postgis_db, "SELECT count(*) FROM ours JOIN pts USING (id)")) == len(x)
