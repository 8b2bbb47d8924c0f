"""The bench's evaluator on inputs small enough to work out by hand."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
from datasets import SHARED
from evaluate import evaluate, seed_score
from original import original_figures


def _points(xy):
    return gpd.GeoSeries(gpd.points_from_xy(*np.asarray(xy, float).T))


def test_two_overlapping_squares():
    # A: corners of [0, 2]^2, B: corners of [1, 3]^2. Hull areas 4 + 4, union 7.
    xy = [(0, 0), (2, 0), (2, 2), (0, 2), (1, 1), (3, 1), (3, 3), (1, 3)]
    labels = ["A"] * 4 + ["B"] * 4
    weights = [1, 1, 1, 1, 5, 5, 5, 5]
    figures = evaluate(_points(xy), *np.asarray(xy, float).T, weights, labels, target_weight=4,
                       target_radius=1, max_weight=10)
    assert figures["clusters"] == 2
    assert figures["hull_overlap"] == pytest.approx(1 / 8)
    assert figures["median_radius"] == pytest.approx(math.sqrt(2))
    assert figures["in_band"] == 0.5  # A weighs 4 (on target), B 20
    assert figures["over_max"] == 1
    assert figures["rms_m"] == pytest.approx(math.sqrt(2))  # every corner is sqrt(2) from its centre
    assert figures["score"] == pytest.approx(seed_score(12, math.sqrt(2), 4, 1))


def test_weighted_rms_and_polygon_radius():
    # Two points, weights 1 and 3 at x = 0 and 4: centre 3, squared distances 9 and 1.
    figures = evaluate(_points([(0, 0), (4, 0)]), np.array([0.0, 4.0]), np.zeros(2), [1, 3], [7, 7], 4, 1, 10)
    assert figures["rms_m"] == pytest.approx(math.sqrt((9 * 1 + 1 * 3) / 4))
    # A polygon member counts in full: a 10 m square alone has radius 5 * sqrt(2).
    square = gpd.GeoSeries.from_wkt(["POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0))"])
    assert evaluate(square, [5.0], [5.0], [1], ["a"], 1, 1, 2)["median_radius"] == pytest.approx(5 * math.sqrt(2))


def test_eight_connected_share_on_a_grid():
    cell = 0.001
    # Cluster A: diagonal neighbours (connected); B: two cells with a gap (not); C: one cell.
    cells = [(0, 0), (1, 1), (5, 5), (7, 5), (9, 9)]
    lon = np.array([c[0] for c in cells]) * cell + 120.00005
    lat = np.array([c[1] for c in cells]) * cell + 7.00005
    figures = evaluate(_points(np.column_stack([lon, lat])), lon, lat, np.ones(5), ["A", "A", "B", "B", "C"],
                       2, 1, 3, lonlat=(lon, lat), cell_degrees=cell)
    assert figures["connected"] == pytest.approx(2 / 3)


@pytest.mark.skipif(not (SHARED / "BENCHMARKS.md").exists(), reason="../shared/BENCHMARKS.md not found")
def test_the_original_figures_are_read_from_benchmarks_md():
    figures = original_figures()
    assert figures["grids"]["clusters"] == 128 and figures["rooftops"]["clusters"] == 608
    assert figures["grids"]["in_band"] == pytest.approx(0.109)
    assert figures["rooftops"]["connected"] is None  # "—": not measured
