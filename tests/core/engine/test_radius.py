"""core/engine/radius.py minimum_bounding_circles against an independent brute force and shapely."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import shapely
from core_helpers import REPO, fast_params
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import cluster
from core.engine.radius import minimum_bounding_circles


def brute_force_radius(points: np.ndarray) -> float:
    """Smallest circle through 2 (as diameter) or 3 of the points that holds them all."""
    pts = np.unique(np.asarray(points, dtype=float), axis=0)
    if len(pts) == 1:
        return 0.0
    scale = max(1.0, float(np.abs(pts).max()))
    tolerance = 1e-9 * scale

    def holds_all(centre, radius):
        return np.all(np.hypot(*(pts - centre).T) <= radius + tolerance)

    best = np.inf
    for a, b in itertools.combinations(pts, 2):
        centre = (a + b) / 2
        radius = np.hypot(*(a - centre))
        if radius < best and holds_all(centre, radius):
            best = radius
    for a, b, c in itertools.combinations(pts, 3):
        # Circumcentre p solves 2(b-a).p = |b|^2-|a|^2 and 2(c-a).p = |c|^2-|a|^2.
        matrix = 2 * np.array([b - a, c - a])
        if abs(matrix[0, 0] * matrix[1, 1] - matrix[0, 1] * matrix[1, 0]) < 1e-12 * scale * scale:
            continue  # collinear: a pair circle covers it
        rhs = np.array([b @ b - a @ a, c @ c - a @ a])
        centre = np.linalg.solve(matrix, rhs)
        radius = np.hypot(*(a - centre))
        if radius < best and holds_all(centre, radius):
            best = radius
    return float(best)


def _check_groups(x, y, group, n_groups):
    cx, cy, r = minimum_bounding_circles(x, y, group, n_groups)
    assert len(cx) == len(cy) == len(r) == n_groups
    for g in range(n_groups):
        members = group == g
        pts = np.column_stack([x[members], y[members]])
        scale = max(1.0, float(np.abs(pts).max()))
        expected = brute_force_radius(pts)
        assert r[g] == pytest.approx(expected, rel=1e-9, abs=1e-9 * scale)
        # The returned centre really holds every member.
        assert np.hypot(pts[:, 0] - cx[g], pts[:, 1] - cy[g]).max() <= r[g] + 1e-6 * scale
        shapely_radius = shapely.minimum_bounding_radius(shapely.convex_hull(shapely.multipoints(pts)))
        assert r[g] == pytest.approx(shapely_radius, rel=1e-7, abs=1e-7 * scale)
    return r


@settings(max_examples=40, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n_groups=st.integers(1, 6), grid=st.booleans())
def test_random_groups_match_brute_force(data, n_groups, grid):
    sizes = data.draw(st.lists(st.integers(1, 8), min_size=n_groups, max_size=n_groups))
    n = sum(sizes)
    if grid:  # small integer grid: many duplicates and collinear triples
        coordinate = st.integers(-3, 3).map(float)
    else:
        coordinate = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
    xs = np.array(data.draw(st.lists(coordinate, min_size=n, max_size=n)))
    ys = np.array(data.draw(st.lists(coordinate, min_size=n, max_size=n)))
    group = np.repeat(np.arange(n_groups), sizes)
    shuffle = np.random.default_rng(n).permutation(n)  # groups need not be contiguous
    _check_groups(xs[shuffle], ys[shuffle], group[shuffle], n_groups)


def test_edge_cases_one_two_collinear_duplicates():
    x = np.array([5.0,  # group 0: one point
                  0.0, 3.0,  # group 1: two points
                  0.0, 1.0, 2.0, 7.0, 4.0,  # group 2: collinear on a line
                  2.0, 2.0, 2.0,  # group 3: one point three times
                  1.0, 1.0, 4.0, 4.0])  # group 4: duplicated pair
    y = np.array([5.0,
                  0.0, 4.0,
                  0.0, 1.0, 2.0, 7.0, 4.0,
                  -1.0, -1.0, -1.0,
                  1.0, 1.0, 5.0, 5.0])
    group = np.array([0, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4])
    r = _check_groups(x, y, group, 5)
    assert r[0] == 0.0
    assert r[1] == pytest.approx(2.5)
    assert r[2] == pytest.approx(np.hypot(7, 7) / 2)
    assert r[3] == 0.0
    assert r[4] == pytest.approx(2.5)


def test_large_projected_coordinates_keep_precision():
    # UTM-sized coordinates with metre-scale groups: precision must not suffer.
    rng = np.random.default_rng(3)
    x = 600_000.0 + rng.uniform(0, 50, 60)
    y = 9_900_000.0 + rng.uniform(0, 50, 60)
    group = np.repeat(np.arange(10), 6)
    _check_groups(x, y, group, 10)


def test_empty_group_is_refused():
    with pytest.raises(ValueError, match="every group"):
        minimum_bounding_circles(np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([0, 2]), 3)


def _square(cx, cy, half):
    return shapely.box(cx - half, cy - half, cx + half, cy + half)


def test_polygon_members_radius_covers_their_vertices():
    """cluster() with vertex_xy/vertex_owner: each radius is the MBC of its members' full shapes."""
    rng = np.random.default_rng(8)
    n = 120
    cx = rng.uniform(0, 4000, n)
    cy = rng.uniform(0, 4000, n)
    polygons = [
        shapely.Polygon(np.column_stack([x0 + rng.uniform(20, 80) * np.cos(t), y0 + rng.uniform(20, 80) * np.sin(t)]))
        for x0, y0, t in zip(cx, cy, [np.sort(rng.uniform(0, 2 * np.pi, 5)) for _ in range(n)])
    ]
    polygons[0] = _square(cx[0], cy[0], 150)  # one big member whose corners reach furthest
    vertex_xy, owner = shapely.get_coordinates(polygons, return_index=True)
    w = rng.uniform(1, 10, n)
    result = cluster(cx, cy, w, fast_params(desired_cluster_weight=60, max_cluster_weight=80),
                     vertex_xy=vertex_xy, vertex_owner=owner)
    ids = result.cluster_id.astype(str)
    for name, radius in zip(result.clusters["cluster_id"], result.clusters["radius_m"]):
        members = [polygons[i] for i in np.flatnonzero(ids == name)]
        expected = shapely.minimum_bounding_radius(shapely.convex_hull(shapely.GeometryCollection(members)))
        assert radius == pytest.approx(expected, rel=1e-7)
        points_only = shapely.minimum_bounding_radius(shapely.multipoints(
            np.column_stack([cx[ids == name], cy[ids == name]])))
        assert radius >= points_only - 1e-6  # shapes reach at least as far as their positions


def test_tiny_scale_triangle_terminates():
    """A triangle with sides ~5e-7 units: minimum_bounding_circles never returns (see report)."""
    code = textwrap.dedent("""
        import numpy as np
        from core.engine.radius import minimum_bounding_circles
        x = np.array([0.0, 5e-7, 2.5e-7]); y = np.array([0.0, 0.0, 4e-7])
        print(repr(float(minimum_bounding_circles(x, y, np.zeros(3, int), 1)[2][0])))
    """)
    try:
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=8)
    except subprocess.TimeoutExpired:
        pytest.fail("minimum_bounding_circles did not return within 8 s")
    # Circumcircle by hand: centre (2.5e-7, k) with 2.5e-7^2 + k^2 = (4e-7 - k)^2.
    k = (4e-7 ** 2 - 2.5e-7 ** 2) / (2 * 4e-7)
    assert float(done.stdout) == pytest.approx(4e-7 - k, rel=1e-6)
