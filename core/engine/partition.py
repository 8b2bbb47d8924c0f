"""Ways to split one group of weighted points into k pieces.

Each partitioner takes projected coordinates (metres), weights and k, and returns
integer labels 0..k-1 (some may be unused by k-means).
"""

from __future__ import annotations

import bisect
import math
import warnings

import numpy as np
from sklearn.cluster import MiniBatchKMeans

from .threads import single_native_thread


def kmeans_labels(x, y, w, k, reassignment_ratio, random_state):
    """The seed's partitioner: weighted MiniBatchKMeans, exactly as the original set it up
    (on one native thread: see core/engine/threads.py)."""
    if k <= 1:
        return np.zeros(len(x), dtype=np.int64)
    model = MiniBatchKMeans(
        n_clusters=k,
        batch_size=1024,
        n_init=1,
        reassignment_ratio=reassignment_ratio,
        random_state=random_state,
    )
    with warnings.catch_warnings(), single_native_thread():
        # Duplicate points can leave fewer distinct centres than k; the seed accepted that.
        warnings.simplefilter("ignore")
        return model.fit_predict(np.column_stack([x, y]), sample_weight=w).astype(np.int64)


SMALL_NODE = 2048


def principal_projection(px, py, pw):
    """Project points on the weighted principal axis (the direction of largest spread)."""
    total = pw.sum()
    weights = pw if total > 0 else np.ones_like(pw)
    if total <= 0:
        total = float(len(pw))
    dx = px - np.dot(weights, px) / total
    dy = py - np.dot(weights, py) / total
    wdx = weights * dx
    cxx, cxy, cyy = np.dot(wdx, dx), np.dot(wdx, dy), np.dot(weights * dy, dy)
    angle = 0.5 * math.atan2(2.0 * cxy, cxx - cyy)
    return dx * math.cos(angle) + dy * math.sin(angle), weights


def bisection_labels(x, y, w, k, should_stop=None):
    """Recursive weighted bisection: k pieces of (nearly) equal weight.

    A group meant for p pieces is cut across its weighted principal axis where the
    weight on one side equals floor(p/2)/p of the group's weight, and each side is
    cut again for its share of pieces. Pieces are compact and balanced to within a
    few features' weight. Labels come out in a spatially coherent order.
    """
    n = len(x)
    labels = np.zeros(n, dtype=np.int64)
    next_label = 0
    stack = [(np.arange(n), max(1, min(int(k), n)))]
    visited = 0
    while stack:
        idx, pieces = stack.pop()
        if pieces <= 1:
            labels[idx] = next_label
            next_label += 1
            continue
        visited += 1
        if should_stop is not None and visited % 64 == 0:
            should_stop()
        proj, weights = principal_projection(x[idx], y[idx], w[idx])
        order = np.argsort(proj, kind="stable")
        cumulative = weights[order].cumsum()
        if len(cumulative) < SMALL_NODE:  # plain floats are quicker than numpy scalars here
            cumulative = cumulative.tolist()
        left_pieces = pieces // 2
        right_pieces = pieces - left_pieces
        goal = cumulative[-1] * left_pieces / pieces
        cut = bisect.bisect_left(cumulative, goal)  # first prefix reaching the goal
        # Prefix of `cut` items vs `cut + 1` items: take whichever lands nearer the goal.
        below = cumulative[cut - 1] if cut >= 1 else 0.0
        size = cut if abs(goal - below) <= abs(cumulative[min(cut, len(idx) - 1)] - goal) else cut + 1
        size = min(max(size, left_pieces), len(idx) - right_pieces)
        ordered = idx[order]
        stack.append((ordered[size:], right_pieces))
        stack.append((ordered[:size], left_pieces))
    return labels
