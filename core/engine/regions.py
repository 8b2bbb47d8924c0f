"""Large inputs in regions: weight-balanced convex pieces, each clustered on its own.

A power diagram's balance needs more price rounds as k grows, and every round passes over
every feature, so one diagram over a whole country costs more than linear time (10M
pixels: 20 minutes and 5 GB). Cut by the same weighted bisection as the atoms, a body of
millions of features becomes regions of a few hundred thousand. Each region is a convex
polygon (the intersection of half-planes), and each cluster is a convex cell of its
region's diagram, so outlines still never overlap. Regions run on `n_jobs` threads; the
labels do not depend on how many.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..params import worker_threads
from .data import Features, RunContext
from .partition import principal_projection

REGION_FEATURES = 250_000  # about this many features per region
MIN_REGION_CLUSTERS = 150  # never fewer clusters than this per region: edges stay a small share of clusters


def region_count(n_features: int, wanted_clusters: float) -> int:
    """How many regions to cut a body into: 1 (no cut) unless it is large and holds many clusters."""
    by_size = math.ceil(n_features / REGION_FEATURES)
    by_clusters = int(wanted_clusters // MIN_REGION_CLUSTERS)
    return max(1, min(by_size, by_clusters))


def cut_regions(body: Features, count: int, context: RunContext) -> list:
    """Indices into `body` of `count` regions of about equal weight.

    Recursive cuts across the weighted principal axis, as the atoms' bisection makes, but each
    cut is placed in linear time (a weighted histogram of the projections, then an exact sort of
    the one bin it falls in): regions need not weigh exactly the same, and sorting millions of
    features at every level would cost more than clustering some regions.
    """
    regions, stack = [], [(np.arange(len(body)), count)]
    while stack:
        idx, pieces = stack.pop()
        if pieces == 1:
            regions.append(idx)
            continue
        context.check_cancelled()
        proj, weights = principal_projection(body.x[idx], body.y[idx], body.w[idx])
        left = pieces // 2
        below = proj < _weighted_cut(proj, weights, left / pieces)
        if below.all() or not below.any():  # all on one spot: split by count
            below = np.arange(len(idx)) < len(idx) * left // pieces
        stack.append((idx[~below], pieces - left))
        stack.append((idx[below], left))
    return regions


def _weighted_cut(values, weights, share, bins=4096):
    """A value v with about `share` of the weight on values below v."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return high
    goal = share * weights.sum()
    position = np.minimum(((values - low) / (high - low) * bins).astype(np.int64), bins - 1)
    before = np.concatenate([[0.0], np.cumsum(np.bincount(position, weights, minlength=bins))])
    crossing = min(int(np.searchsorted(before, goal, side="right")) - 1, bins - 1)
    inside = np.flatnonzero(position == crossing)
    order = np.argsort(values[inside], kind="stable")
    running = before[crossing] + np.cumsum(weights[inside][order])
    at = min(int(np.searchsorted(running, goal)), len(order) - 1)
    return float(values[inside][order][at])


def share_clusters(total: int, region_weights: np.ndarray) -> list:
    """A fixed cluster count shared over regions by weight (largest remainders), at least one each."""
    exact = total * region_weights / region_weights.sum()
    counts = np.maximum(np.floor(exact).astype(int), 1)
    for region in np.argsort(-(exact - np.floor(exact)), kind="stable"):
        if counts.sum() >= total:
            break
        counts[region] += 1
    while counts.sum() > total:  # the minimum of one made too many: take from the largest
        counts[np.argmax(counts)] -= 1
    return counts.tolist()


def cluster_regions(body: Features, regions: list, partition, n_jobs: int, on_region, fixed_k=None):
    """Run partition(region features, k or None, on_trial) on every region; returns (labels, trials).

    Labels number each region's clusters after the previous region's, in region order.
    on_region(done, total) follows finished regions.
    """
    counts = [None] * len(regions)
    if fixed_k is not None:
        counts = share_clusters(fixed_k, np.array([body.w[idx].sum() for idx in regions]))
    finished, lock = [0], threading.Lock()

    def run(number):
        region = partition(body.subset(regions[number]), counts[number], lambda done, planned: None)
        with lock:
            finished[0] += 1
            on_region(finished[0], len(regions))
        return region

    threads = max(1, min(worker_threads(n_jobs), len(regions)))
    if threads > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(pool.map(run, range(len(regions))))
    else:
        parts = [run(number) for number in range(len(regions))]
    labels = np.empty(len(body), dtype=np.int64)
    trials, offset = [], 0
    for idx, part in zip(regions, parts):
        used, compact = np.unique(part.labels, return_inverse=True)
        labels[idx] = compact + offset
        offset += len(used)
        trials += part.trials
    return labels, trials
