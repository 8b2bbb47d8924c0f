"""The arrays the engine works on, checked once at the door."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..params import ClusteringCancelled, ClusteringInputError
from .radius import minimum_bounding_circles


@dataclass
class Features:
    """Feature positions (metres), weights, and optionally every vertex of each geometry.

    `vertex_xy` (m x 2) with `vertex_owner` (m,) lets a cluster's radius cover the
    full shape of polygon members; without them the positions themselves are used.
    `footprint` (hx, hy): every feature is the centre of a rectangle of that half width
    and height (raster pixels); reported and capped radii cover it (`outer_circles`).
    """

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray
    vertex_xy: Optional[np.ndarray] = None
    vertex_owner: Optional[np.ndarray] = None
    footprint: Optional[tuple] = None

    @classmethod
    def checked(cls, x, y, weights=None, vertex_xy=None, vertex_owner=None, footprint=None) -> "Features":
        x = np.asarray(x, dtype=float).ravel()
        y = np.asarray(y, dtype=float).ravel()
        n = len(x)
        if n == 0:
            raise ClusteringInputError("the input has no features to cluster")
        if len(y) != n:
            raise ClusteringInputError(f"x has {n} values but y has {len(y)}")
        bad_xy = int((~np.isfinite(x) | ~np.isfinite(y)).sum())
        if bad_xy:
            raise ClusteringInputError(f"{bad_xy} feature(s) have missing or infinite coordinates")
        if weights is None:
            w = np.ones(n)
        else:
            try:
                w = np.asarray(weights, dtype=float).ravel()
            except (TypeError, ValueError) as exc:
                raise ClusteringInputError(f"weights must be numbers ({exc})") from None
            if len(w) != n:
                raise ClusteringInputError(f"{n} features but {len(w)} weights")
            missing = int(np.isnan(w).sum())
            if missing:
                raise ClusteringInputError(
                    f"{missing} feature(s) have a missing (null or NaN) weight; "
                    "fill them (e.g. with 0) or remove those features"
                )
            infinite = int(np.isinf(w).sum())
            if infinite:
                raise ClusteringInputError(f"{infinite} feature(s) have an infinite weight")
            negative = int((w < 0).sum())
            if negative:
                raise ClusteringInputError(f"{negative} feature(s) have a negative weight; weights must be >= 0")
            if not w.any():
                raise ClusteringInputError(
                    f"every one of the {n} feature(s) weighs 0, so there is nothing to divide into clusters; "
                    "check the weight field (or leave it empty to count every feature as 1)"
                )
        if vertex_xy is not None:
            vertex_xy = np.asarray(vertex_xy, dtype=float).reshape(-1, 2)
            vertex_owner = np.asarray(vertex_owner, dtype=np.int64).ravel()
            if len(vertex_owner) != len(vertex_xy):
                raise ClusteringInputError("vertex_xy and vertex_owner differ in length")
            if len(vertex_owner) and (vertex_owner.min() < 0 or vertex_owner.max() >= n):
                raise ClusteringInputError("vertex_owner refers to features that do not exist")
            if len(np.unique(vertex_owner)) != n:
                raise ClusteringInputError("every feature needs at least one vertex")
            if not np.isfinite(vertex_xy).all():
                raise ClusteringInputError("some geometry vertices have missing or infinite coordinates")
        if footprint is not None:
            if vertex_xy is not None:
                raise ClusteringInputError("give either geometry vertices or a pixel footprint, not both")
            footprint = tuple(float(v) for v in footprint)
            if len(footprint) != 2 or not all(math.isfinite(v) and v >= 0 for v in footprint):
                raise ClusteringInputError(f"a footprint is two half sizes >= 0 in metres (got {footprint})")
        return cls(x, y, w, vertex_xy, vertex_owner, footprint)

    def __len__(self):
        return len(self.x)

    def subset(self, idx: np.ndarray) -> "Features":
        if len(idx) == len(self.x) and np.array_equal(idx, np.arange(len(self.x))):
            return self  # the whole group (pass 1): no copies
        if self.vertex_xy is None:
            return Features(self.x[idx], self.y[idx], self.w[idx], footprint=self.footprint)
        position = np.full(len(self.x), -1, dtype=np.int64)
        position[idx] = np.arange(len(idx))
        new_owner = position[self.vertex_owner]
        keep = new_owner >= 0
        return Features(self.x[idx], self.y[idx], self.w[idx], self.vertex_xy[keep], new_owner[keep])

    def circles(self, labels: np.ndarray, n_groups: int):
        """(cx, cy, r) of each group's minimum bounding circle; labels must be 0..n_groups-1, all used."""
        if self.vertex_xy is None:
            return minimum_bounding_circles(self.x, self.y, labels, n_groups)
        return minimum_bounding_circles(
            self.vertex_xy[:, 0], self.vertex_xy[:, 1], labels[self.vertex_owner], n_groups
        )

    def outer_circles(self, labels: np.ndarray, n_groups: int):
        """Like circles(), but covering each feature's footprint too: the radius reported and capped.

        Tuning scores use circles() on the positions, so a raster clusters exactly as its pixel centres do.
        """
        if self.footprint is None:
            return self.circles(labels, n_groups)
        return minimum_bounding_circles(self.x, self.y, labels, n_groups, half_size=self.footprint)


def weighted_centroids(x, y, w, labels, k, weights=None, counts=None):
    """Each group's weighted centroid; a group that weighs nothing gets its members' plain mean."""
    weights = np.bincount(labels, weights=w, minlength=k) if weights is None else weights
    counts = np.bincount(labels, minlength=k) if counts is None else counts
    has_weight = weights > 0
    safe_w = np.where(has_weight, weights, 1.0)
    safe_n = np.maximum(counts, 1)
    cx = np.where(has_weight, np.bincount(labels, weights=w * x, minlength=k) / safe_w,
                  np.bincount(labels, weights=x, minlength=k) / safe_n)
    cy = np.where(has_weight, np.bincount(labels, weights=w * y, minlength=k) / safe_w,
                  np.bincount(labels, weights=y, minlength=k) / safe_n)
    return cx, cy


class RunContext:
    """Progress and cancel callbacks, shared by every step of one run."""

    def __init__(self, progress: Optional[Callable[[float, str], None]] = None,
                 is_cancelled: Optional[Callable[[], bool]] = None):
        self._progress = progress
        self._is_cancelled = is_cancelled

    def check_cancelled(self) -> None:
        if self._is_cancelled is not None and self._is_cancelled():
            raise ClusteringCancelled("clustering was cancelled")

    def report(self, fraction: float, message: str) -> None:
        self.check_cancelled()
        if self._progress is not None:
            self._progress(min(max(fraction, 0.0), 1.0), message)
