"""core.engine.hulls against shapely: hull shapes, overlap share and weighted spread."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import shapely.geometry

from core.engine.hulls import clip_convex, convex_hulls, hull_overlap_share, polygon_area, weighted_rms_spread


def shapely_hull(px, py):
    return shapely.convex_hull(shapely.multipoints(np.column_stack([px, py])))


def random_groups(seed, n=3000, groups=40, origin=(500_000.0, 4_000_000.0)):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 20_000, (groups, 2))
    group = rng.integers(0, groups, n)
    xy = centres[group] + rng.normal(0, rng.uniform(200, 2500, groups)[group, None], (n, 2))
    return xy[:, 0] + origin[0], xy[:, 1] + origin[1], group


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hulls_match_shapely_vertex_for_vertex(seed):
    x, y, group = random_groups(seed)
    hulls = convex_hulls(x, y, group, group.max() + 1)
    for g, hull in enumerate(hulls):
        members = group == g
        expected = shapely_hull(x[members], y[members])
        assert polygon_area(hull) == pytest.approx(expected.area, rel=1e-9)
        # Counter-clockwise, and the same vertex set as shapely's hull.
        assert shapely.Polygon(hull).exterior.is_ccw
        got = {tuple(v) for v in np.round(hull, 6)}
        want = {tuple(v) for v in np.round(np.asarray(expected.exterior.coords)[:-1], 6)}
        assert got == want


def test_one_two_and_collinear_points_give_points_and_segments():
    x = np.array([5.0, 0.0, 3.0, 1.0, 2.0, 3.0, 7.0, 7.0, 7.0, 4.0, 4.0])
    y = np.array([5.0, 0.0, 3.0, 1.0, 2.0, 3.0, 1.0, 1.0, 1.0, 0.0, 9.0])
    group = np.array([0, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3])
    hulls = convex_hulls(x, y, group, 5)
    assert hulls[0].tolist() == [[5.0, 5.0]]
    assert sorted(map(tuple, hulls[1].tolist())) == [(0.0, 0.0), (3.0, 3.0)]  # collinear: the segment's ends
    assert hulls[2].tolist() == [[7.0, 1.0]]  # three copies of one point
    assert sorted(map(tuple, hulls[3].tolist())) == [(4.0, 0.0), (4.0, 9.0)]
    assert hulls[4].shape == (0, 2)  # a group with no points
    assert all(polygon_area(h) == 0 for h in hulls)
    assert hull_overlap_share(hulls) == 0.0


def test_clipping_two_convex_polygons_matches_shapely():
    rng = np.random.default_rng(3)
    for _ in range(200):
        a = shapely_hull(*rng.uniform(0, 10, (2, 8)))
        b = shapely_hull(*rng.uniform(3, 13, (2, 8)))
        ca = np.asarray(shapely.geometry.polygon.orient(a).exterior.coords)[:-1]
        cb = np.asarray(shapely.geometry.polygon.orient(b).exterior.coords)[:-1]
        got = polygon_area(clip_convex(ca, cb))
        assert got == pytest.approx(a.intersection(b).area, rel=1e-9, abs=1e-9)


def overlap_by_shapely(hulls):
    polygons = [shapely.Polygon(h) for h in hulls if len(h) >= 3]
    total = sum(p.area for p in polygons)
    return (total - shapely.union_all(polygons).area) / total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_overlap_share_matches_shapely_union_when_hulls_overlap_pairwise(seed):
    # Rows of groups wider than their spacing: side neighbours overlap, no spot lies in three hulls.
    rng = np.random.default_rng(seed)
    centres = np.array([(i * 3000.0, j * 6000.0) for i in range(6) for j in range(6)])
    group = rng.integers(0, len(centres), 4000)
    xy = centres[group] + rng.uniform(-1, 1, (4000, 2)) * (1700, 1000)
    hulls = convex_hulls(xy[:, 0], xy[:, 1], group, len(centres))
    share = hull_overlap_share(hulls)
    assert share > 0.01
    assert share == pytest.approx(overlap_by_shapely(hulls), rel=1e-6)


def test_disjoint_and_touching_hulls_do_not_overlap():
    # Unit squares side by side share an edge, and their boxes touch: no area in common.
    squares = [np.array([[i, 0.0], [i + 1, 0.0], [i + 1, 1.0], [i, 1.0]]) + (1e6, 1e6) for i in range(5)]
    assert hull_overlap_share(squares) == 0.0
    nested = squares + [np.array([[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8]]) + (1e6, 1e6)]
    assert hull_overlap_share(nested) == pytest.approx(0.36 / 5.36, rel=1e-9)


def test_three_hulls_on_one_spot_over_report_never_under():
    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    hulls = [square, square + 0.1, square + 0.2]
    assert hull_overlap_share(hulls) >= overlap_by_shapely(hulls)


def test_weighted_rms_spread_by_hand():
    x = np.array([0.0, 2.0, 10.0, 10.0, 10.0])
    y = np.array([0.0, 0.0, 0.0, 3.0, 6.0])
    w = np.array([1.0, 3.0, 1.0, 0.0, 1.0])
    labels = np.array([0, 0, 1, 1, 1])
    # Cluster 0: centre x=1.5, d² = 2.25 (w 1) and 0.25 (w 3). Cluster 1: centre y=3, d² = 9, 0, 9.
    expected = np.sqrt((2.25 + 3 * 0.25 + 9 + 9) / 6)
    assert weighted_rms_spread(x, y, w, labels, 2) == pytest.approx(expected)
    assert weighted_rms_spread(x, y, np.zeros(5), labels, 2) == pytest.approx(np.sqrt((1 + 1 + 9 + 0 + 9) / 5))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("half_size", [None, (50.0, 50.0), (40.0, 70.0)])
def test_radii_from_hull_vertices_equal_radii_from_every_member(seed, half_size):
    from core.engine.hulls import hull_radii
    from core.engine.radius import minimum_bounding_circles

    rng = np.random.default_rng(seed)
    groups = 300
    sizes = rng.integers(1, 60, groups)
    group = np.repeat(np.arange(groups), sizes)
    x = rng.normal(0, 300, len(group)) + 500_000 + 2000.0 * group
    y = rng.normal(0, 300, len(group)) + 3_000_000
    y[group % 7 == 0] = 3_000_000.0  # collinear groups: their hulls are segments
    x[group % 11 == 0] = 700_000.0  # groups stacked on one spot (or on one vertical line)
    y = np.round(y / 100) * 100  # raster-like ties along edges
    hulls = convex_hulls(x, y, group, groups)
    expected = minimum_bounding_circles(x, y, group, groups, half_size=half_size)[2]
    np.testing.assert_allclose(hull_radii(hulls, half_size), expected, rtol=1e-9, atol=1e-9)
