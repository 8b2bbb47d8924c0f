"""What a run returns: per-feature IDs and a per-cluster table with the quality figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..params import BAND, ClusteringParams
from .data import Features, weighted_centroids
from .hulls import convex_hulls, hull_overlap_share, hull_radii, weighted_rms_spread
from .score import clustering_score

CLUSTER_COLUMNS = ["cluster_id", "weight", "n_features", "radius_m", "centroid_x", "centroid_y", "cluster_pass"]


class ClusterTable(dict):
    """One row per cluster: a dict of equal-length numpy arrays keyed by CLUSTER_COLUMNS.

    Plain numpy so QGIS installs without pandas can use it; to_frame() gives pandas.
    """

    def __len__(self):
        return len(self["cluster_id"])

    def to_frame(self):
        import pandas as pd

        extra = [name for name in self if name not in CLUSTER_COLUMNS]  # e.g. "stratum"
        return pd.DataFrame({name: self[name] for name in CLUSTER_COLUMNS + extra})


@dataclass
class ClusteringResult:
    cluster_id: np.ndarray  # per feature, e.g. "CLUSTER_007_02"
    cluster_weight: np.ndarray  # per feature: the total weight of its cluster
    cluster_pass: np.ndarray  # per feature: the pass that made its cluster
    clusters: ClusterTable  # one row per cluster, columns CLUSTER_COLUMNS
    params: ClusteringParams
    heavy_features: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    passes_run: int = 1
    merged_clusters: int = 0
    trials: list = field(default_factory=list)  # (k, score) tried in the first pass (compact strategy)
    remote_hamlets: list = field(default_factory=list)  # IDs of isolated light clusters kept as they are
    placed_alone: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # features > band
    # (sum of hull areas - their union) / sum, hulls of full geometries; None: not measured
    hull_overlap: Optional[float] = None
    weighted_rms_m: Optional[float] = None  # weighted RMS distance of features to their cluster's centroid
    # IDs of clusters still wider than max_cluster_radius: single features wider than it on their own.
    over_max_radius: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    cluster_row: Optional[np.ndarray] = None  # per feature: its cluster's row in `clusters` (0-based)
    update: Optional[object] = None  # update mode: its UpdateReport (core.engine.update)

    def cluster_params(self) -> list:
        """The params each cluster was made with, one per row of `clusters` (a stratified run has its own)."""
        return [self.params] * len(self.clusters)

    def cluster_setting(self, name: str) -> np.ndarray:
        """A ClusteringParams field for every cluster, as floats (NaN where it is None: no cap)."""
        values = [getattr(p, name, None) for p in self.cluster_params()]
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    def _out_of_band(self) -> np.ndarray:
        target = self.cluster_setting("desired_cluster_weight")
        return np.abs(np.asarray(self.clusters["weight"], dtype=float) - target) > BAND * target

    @property
    def out_of_band_ids(self) -> np.ndarray:
        """IDs of clusters whose weight is more than 20 % away from their own target."""
        return self.clusters["cluster_id"][self._out_of_band()]

    @property
    def score(self) -> Optional[float]:
        """The seed's objective on the final clusters (lower is better)."""
        return clustering_score(np.median(self.clusters["weight"]), np.median(self.clusters["radius_m"]), self.params)

    def clusters_over_max(self):
        """(cluster id, weight, its max weight) of every cluster heavier than its max weight, heaviest first."""
        weights = np.asarray(self.clusters["weight"], dtype=float)
        caps = self.cluster_setting("max_cluster_weight")
        over = np.flatnonzero(weights > caps)  # False against NaN (no cap)
        over = over[np.argsort(-weights[over], kind="stable")]
        return [(str(self.clusters["cluster_id"][i]), float(weights[i]), float(caps[i])) for i in over]

    def over_max_warnings(self, limit: int = 10):
        """One line per cluster over its max (the first `limit`), for the log of every front end."""
        over = self.clusters_over_max()
        lines = [f"cluster {name} weighs {weight:g}, over the max weight of {cap:g}"
                 for name, weight, cap in over[:limit]]
        if len(over) > limit:
            lines.append(f"... and {len(over) - limit} more cluster(s) over the max weight")
        return lines

    def stats(self) -> dict:
        """The benchmark's quality figures for this result; a figure not measured (None) is left out."""
        weights = self.clusters["weight"]
        radii = self.clusters["radius_m"]
        figures = {
            "clusters": len(weights),
            "median_weight": float(np.median(weights)),
            "median_radius_m": float(np.median(radii)),
            "share_within_20pct": float(np.mean(~self._out_of_band())),
            "weight_p10": float(np.percentile(weights, 10)),
            "weight_p90": float(np.percentile(weights, 90)),
            "clusters_over_max": len(self.clusters_over_max()),
            "p90_radius_m": float(np.percentile(radii, 90)),
            "score": self.score,
            "clusters_out_of_band": int(self._out_of_band().sum()),
            "hull_overlap_share": self.hull_overlap,
            "weighted_rms_m": self.weighted_rms_m,
            "heavy_features": len(self.heavy_features),
            "placed_alone": len(self.placed_alone),
            "remote_hamlets": len(self.remote_hamlets),
            "k_trials": len(self.trials),
            "passes_run": self.passes_run,
            "clusters_over_max_radius": len(self.over_max_radius),
        }
        if self.update is not None:
            figures.update(self.update.stats())
        return {name: value for name, value in figures.items() if value is not None}


def factorize_ids(ids):
    """(sorted unique IDs, each feature's index into them), without sorting every string.

    Hashing the feature IDs is about five times faster than np.unique on strings; only
    the few distinct names get sorted.
    """
    index = {}
    codes = np.fromiter((index.setdefault(name, len(index)) for name in ids), dtype=np.int64, count=len(ids))
    names = np.array(list(index), dtype=object)
    order = np.argsort(names.astype(str), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return names[order], rank[codes]


def name_pieces(ids, passes, parent: str, members, pieces) -> None:
    """In place: the pieces of cluster `parent` become parent_1..parent_k (zero-padded), one pass later."""
    width = len(str(len(pieces)))
    next_pass = int(passes[members].max()) + 1
    for number, piece in enumerate(pieces, start=1):
        ids[piece] = f"{parent}_{str(number).zfill(width)}"
        passes[piece] = next_pass


def summarize(features: Features, ids: np.ndarray, passes: np.ndarray, params: ClusteringParams,
              factorized=None, **extra) -> ClusteringResult:
    """The result of a run; factorized: factorize_ids(ids), if already at hand."""
    names, inverse = factorize_ids(ids) if factorized is None else factorized
    g = len(names)
    weights = np.bincount(inverse, weights=features.w, minlength=g)
    counts = np.bincount(inverse, minlength=g)
    centroid_x, centroid_y = weighted_centroids(features.x, features.y, features.w, inverse, g, weights, counts)
    # Hulls of every vertex when polygons are given; of the centre points otherwise (pixel
    # footprints would interleave along every border even in a perfect partition).
    if features.vertex_xy is None:
        hulls = convex_hulls(features.x, features.y, inverse, g)
    else:
        hulls = convex_hulls(features.vertex_xy[:, 0], features.vertex_xy[:, 1], inverse[features.vertex_owner], g)
    radii = hull_radii(hulls, features.footprint)  # = features.outer_circles(inverse, g), from far fewer points
    cluster_pass = np.zeros(g, dtype=np.int64)
    np.maximum.at(cluster_pass, inverse, passes)
    table = ClusterTable({
        "cluster_id": names, "weight": weights, "n_features": counts, "radius_m": radii,
        "centroid_x": centroid_x, "centroid_y": centroid_y, "cluster_pass": cluster_pass,
    })
    return ClusteringResult(
        cluster_id=names[inverse], cluster_weight=weights[inverse], cluster_pass=cluster_pass[inverse], cluster_row=inverse,
        clusters=table, params=params, hull_overlap=hull_overlap_share(hulls),
        weighted_rms_m=weighted_rms_spread(features.x, features.y, features.w, inverse, g), **extra,
    )
