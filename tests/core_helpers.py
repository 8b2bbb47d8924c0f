"""Shared helpers for the core engine tests (imported as `core_helpers`; tests/ is on sys.path).

Every check here recomputes what it expects from the inputs (pandas group-bys,
shapely geometry), never from the engine's own figures.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

import core
from core import ClusteringParams

REPO = Path(core.__file__).resolve().parent.parent  # the checkout whose `core` these tests import
ID_PATTERN = re.compile(r"^CLUSTER_\d+(_\d+)*$")


def fast_params(**overrides) -> ClusteringParams:
    """Small trial counts so the whole suite stays quick."""
    values = dict(desired_cluster_weight=240.0, desired_cluster_radius=1000.0, max_cluster_weight=300.0,
                  initial_max_trials=6, subsequent_max_trials=3)
    values.update(overrides)
    return ClusteringParams(**values)


def check_result(result, weights, params=None, x=None, y=None, check_radius=True):
    """The invariants every run must satisfy, each recomputed independently."""
    weights = np.asarray(weights, dtype=float)
    n = len(weights)
    ids = np.asarray(result.cluster_id).astype(str)
    # Exactly one ID per feature, all well formed.
    assert len(ids) == n
    assert len(result.cluster_weight) == n and len(result.cluster_pass) == n
    assert all(ID_PATTERN.match(i) for i in ids), sorted(set(ids))[:5]
    table = result.clusters
    table_ids = np.asarray(table["cluster_id"]).astype(str)
    assert len(set(table_ids)) == len(table_ids), "cluster IDs repeat in the clusters table"
    assert table_ids.tolist() == sorted(table_ids.tolist()), "the clusters table is not in ID order"
    assert set(table_ids) == set(ids)
    for column in ("weight", "n_features", "radius_m", "centroid_x", "centroid_y", "cluster_pass"):
        assert len(table[column]) == len(table_ids)
    # Weights and counts per cluster, recomputed with pandas.
    frame = pd.DataFrame({"id": ids, "w": weights})
    expected = frame.groupby("id")["w"].agg(["sum", "size"])
    got = pd.DataFrame({"weight": table["weight"], "n": table["n_features"]}, index=table_ids)
    got = got.loc[expected.index]
    np.testing.assert_allclose(got["weight"].to_numpy(), expected["sum"].to_numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(got["n"].to_numpy(), expected["size"].to_numpy())
    assert np.isclose(float(np.sum(table["weight"])), float(weights.sum()), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(result.cluster_weight, expected["sum"].reindex(ids).to_numpy(), rtol=1e-9,
                               atol=1e-9)
    # Centroids: weighted mean of the members, plain mean where a cluster weighs nothing.
    if x is not None:
        frame["x"], frame["y"] = np.asarray(x, float), np.asarray(y, float)
        frame["wx"], frame["wy"] = frame["w"] * frame["x"], frame["w"] * frame["y"]
        sums = frame.groupby("id")[["w", "wx", "wy", "x", "y"]].agg(["sum", "mean"])
        weighted = sums[("w", "sum")] > 0
        safe = sums[("w", "sum")].where(weighted, 1.0)
        cx = np.where(weighted, sums[("wx", "sum")] / safe, sums[("x", "mean")])
        cy = np.where(weighted, sums[("wy", "sum")] / safe, sums[("y", "mean")])
        order = pd.Index(table_ids).get_indexer(sums.index)
        scale = max(1.0, float(np.abs(frame[["x", "y"]].to_numpy()).max()))
        np.testing.assert_allclose(np.asarray(table["centroid_x"])[order], cx, rtol=1e-9, atol=1e-9 * scale)
        np.testing.assert_allclose(np.asarray(table["centroid_y"])[order], cy, rtol=1e-9, atol=1e-9 * scale)
        if check_radius:  # point members: the radius is the minimum bounding circle of the points
            for name, radius in zip(table_ids, table["radius_m"]):
                members = frame["id"].to_numpy() == name
                points = shapely.multipoints(np.column_stack([frame["x"][members], frame["y"][members]]))
                expected_radius = shapely.minimum_bounding_radius(points)
                assert abs(radius - expected_radius) <= 1e-7 * max(1.0, expected_radius) + 1e-6, name
    # The summary figures, recomputed from the per-cluster sums.
    if params is not None:
        stats = result.stats()
        sums = expected["sum"].to_numpy()
        assert stats["clusters"] == len(expected)
        assert np.isclose(stats["median_weight"], np.median(sums))
        if params.max_cluster_weight is not None:
            # Sums in another order may differ in the last bits: allow either side of an exact tie.
            cap = params.max_cluster_weight
            surely_over = int((sums > cap * (1 + 1e-12)).sum())
            maybe_over = int((sums > cap * (1 - 1e-12)).sum())
            assert surely_over <= stats["clusters_over_max"] <= maybe_over
        assert stats["heavy_features"] == len(result.heavy_features)
    # Hierarchy: every proper prefix of an ID (CLUSTER_a, CLUSTER_a_b, ...) is a parent that was
    # split, so it cannot also be a final cluster.
    final = set(table_ids)
    for name in final:
        parts = name.split("_")
        for cut in range(2, len(parts)):
            parent = "_".join(parts[:cut])
            assert parent not in final, f"{name} is a child of {parent}, which is still a final cluster"
    return ids


def check_cap(result, weights, cap):
    """Balanced strategy: no cluster above the cap unless it is one feature heavier than the cap alone."""
    weights = np.asarray(weights, dtype=float)
    ids = np.asarray(result.cluster_id).astype(str)
    heavy_expected = np.flatnonzero(weights > cap)
    np.testing.assert_array_equal(np.sort(np.asarray(result.heavy_features)), heavy_expected)
    totals = pd.Series(weights).groupby(ids).sum()
    for name, total in totals.items():
        if total > cap * (1 + 1e-12):  # beyond rounding of a sum taken in another order
            members = np.flatnonzero(ids == name)
            assert len(members) == 1 and weights[members[0]] > cap, (
                f"{name} weighs {total} > cap {cap} with {len(members)} members"
            )
    for index in heavy_expected:
        assert (ids == ids[index]).sum() == 1, f"heavy feature {index} shares its cluster"


def run_cli(*args, timeout=120):
    """Run `python -m core ...` in a fresh interpreter, as a user would."""
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
