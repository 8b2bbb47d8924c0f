"""An evaluator independent of the engine: cluster labels in, quality figures out.

Everything is recomputed from the member geometries with pandas, shapely and SciPy;
nothing comes from the engine's own statistics, so the bench checks the engine.
Definitions follow ../shared/BENCHMARKS.md: a cluster's radius is the minimum bounding
circle of the convex hull of its members' geometries (projected CRS); hull overlap is
(sum of hull areas - area of their union) / sum of hull areas.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def seed_score(median_weight, median_radius, target_weight, target_radius, importance=1.0) -> float:
    """The original tool's objective (lower is better)."""
    return float(importance * (target_radius / target_weight) * abs(target_weight - median_weight)
                 + abs(target_radius - median_radius))


def member_hulls(projected, codes: np.ndarray, n_clusters: int) -> np.ndarray:
    """Convex hull of each cluster's member geometries (all their vertices)."""
    coords, owner = shapely.get_coordinates(np.asarray(projected.values), return_index=True)
    cluster_of_vertex = codes[owner]
    order = np.argsort(cluster_of_vertex, kind="stable")
    points = shapely.multipoints(coords[order], indices=cluster_of_vertex[order])
    assert len(points) == n_clusters, "every cluster needs at least one vertex"
    return shapely.convex_hull(points)


def hull_overlap_share(hulls: np.ndarray) -> float:
    areas = shapely.area(hulls)
    total = float(areas.sum())
    if total == 0:
        return 0.0
    union = float(shapely.area(shapely.union_all(hulls[areas > 0])))
    return max(0.0, (total - union) / total)


def weighted_rms_m(x, y, weights, codes, n_clusters) -> float:
    """sqrt of the weighted mean squared distance from each feature to its cluster's weighted centre."""
    total = np.bincount(codes, weights=weights, minlength=n_clusters)
    count = np.bincount(codes, minlength=n_clusters)
    weighted = total > 0
    cx = np.where(weighted, np.bincount(codes, weights=weights * x, minlength=n_clusters) / np.where(weighted, total, 1),
                  np.bincount(codes, weights=x, minlength=n_clusters) / np.maximum(count, 1))
    cy = np.where(weighted, np.bincount(codes, weights=weights * y, minlength=n_clusters) / np.where(weighted, total, 1),
                  np.bincount(codes, weights=y, minlength=n_clusters) / np.maximum(count, 1))
    squared = (x - cx[codes]) ** 2 + (y - cy[codes]) ** 2
    return float(np.sqrt(np.sum(weights * squared) / weights.sum()))


def connected_share(lon, lat, cell_degrees: float, codes, n_clusters) -> float:
    """Share of clusters whose grid cells form one 8-connected piece."""
    col = np.rint((lon - lon.min()) / cell_degrees).astype(np.int64)
    row = np.rint((lat - lat.min()) / cell_degrees).astype(np.int64)
    width = int(col.max()) + 3
    key = (row + 1) * width + (col + 1)
    order = np.argsort(key, kind="stable")
    sorted_keys = key[order]
    sources, targets = [np.arange(len(key))], [np.arange(len(key))]
    for d_row, d_col in ((0, 0), (0, 1), (1, -1), (1, 0), (1, 1)):  # each pair once; (0, 0): shared cells
        wanted = key + d_row * width + d_col
        found = np.clip(np.searchsorted(sorted_keys, wanted), 0, len(key) - 1)
        neighbour = order[found]
        same = (sorted_keys[found] == wanted) & (codes[neighbour] == codes)
        sources.append(np.flatnonzero(same))
        targets.append(neighbour[same])
    i, j = np.concatenate(sources), np.concatenate(targets)
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(key), len(key)))
    _, component = connected_components(graph, directed=False)
    pieces = pd.Series(component).groupby(codes).nunique()
    return float((pieces.reindex(range(n_clusters)) == 1).mean())


def evaluate(projected, x, y, weights, labels, target_weight, target_radius, max_weight, importance=1.0,
             lonlat: Optional[tuple] = None, cell_degrees: Optional[float] = None) -> dict:
    """Quality figures of one clustering; labels are any per-feature cluster keys."""
    weights = np.asarray(weights, dtype=float)
    codes, names = pd.factorize(pd.Series(np.asarray(labels)), sort=False)
    if (codes < 0).any():
        raise ValueError(f"{int((codes < 0).sum())} features have no cluster")
    n_clusters = len(names)
    cluster_weight = np.bincount(codes, weights=weights, minlength=n_clusters)
    hulls = member_hulls(projected, codes, n_clusters)
    radii = shapely.minimum_bounding_radius(hulls)
    figures = {
        "features": len(codes),
        "weight_total": float(cluster_weight.sum()),
        "clusters": n_clusters,
        "in_band": float(np.mean(np.abs(cluster_weight - target_weight) <= 0.2 * target_weight)),
        "over_max": int((cluster_weight > max_weight).sum()),
        "median_weight": float(np.median(cluster_weight)),
        "median_radius": float(np.median(radii)),
        "p90_radius": float(np.percentile(radii, 90)),
        "hull_overlap": hull_overlap_share(hulls),
        "rms_m": weighted_rms_m(np.asarray(x, float), np.asarray(y, float), weights, codes, n_clusters),
        "connected": None,
    }
    figures["score"] = seed_score(figures["median_weight"], figures["median_radius"], target_weight, target_radius,
                                  importance)
    if lonlat is not None and cell_degrees:
        figures["connected"] = connected_share(np.asarray(lonlat[0]), np.asarray(lonlat[1]), cell_degrees, codes,
                                               n_clusters)
    return figures


def weight_figures(weights, labels, target_weight, max_weight) -> dict:
    """The weight-only figures, for runs too large to measure every hull cheaply."""
    totals = pd.Series(np.asarray(weights, dtype=float)).groupby(np.asarray(labels)).sum().to_numpy()
    return {"clusters": len(totals), "in_band": float(np.mean(np.abs(totals - target_weight) <= 0.2 * target_weight)),
            "over_max": int((totals > max_weight).sum()), "weight_total": float(totals.sum())}
