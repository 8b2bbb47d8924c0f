"""The default strategy: balanced weights, compact shapes, Optuna-tuned k.

1. Bisect the group into small "atoms" (about 1/6 of the target weight each) once.
2. Optuna tries values of k inside the band where every cluster can weigh within
   ±15 % of the target; a trial bisects the atoms into k balanced pieces, rounds them
   with capacity-limited Lloyd moves (`compact_exchange`), and is scored with the
   seed's formula, radii measured on the atoms' extreme points (a close, cheap stand-in).
3. The two best k are scored exactly on the features (full geometries); the best
   wins. Rounding stays at atom level: a feature-level pass tightened radii a little
   but tripled the run time, and atom sums already keep every cluster in band.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from ..params import ClusteringParams
from .data import Features, RunContext, weighted_centroids
from .partition import bisection_labels
from .radius import extreme_points
from .tuning import compact_labels, score_labels, tune_k

ATOMS_PER_CLUSTER = 6
BAND = 0.15  # k is searched where W / k stays within ±15 % of the target weight
EXCHANGE_BAND = 0.18  # moves keep every cluster within ±18 % of the mean weight
MAX_K_VALUES = 15  # the grid Optuna searches, evenly spread over the band (steps of about 2 % in k)
TRIAL_STEPS = 20
SETTLED_SHARE = 0.0005  # stop rounding once fewer than this share of features would move
FINALISTS = 2  # best k values from the atom-level study, scored exactly on the features
MANY_CLUSTERS = 1000  # beyond this the median is stable between neighbouring k: one finalist


def band_k_values(total_weight: float, n_items: int, params: ClusteringParams, band: float = BAND):
    """Values of k to try: those that keep the mean cluster weight within ±band of the target."""
    expected = total_weight / params.desired_cluster_weight
    low = max(1, math.ceil(expected / (1 + band)))
    if params.max_cluster_weight:
        low = max(low, math.ceil(total_weight / params.max_cluster_weight))
    high = max(low, math.floor(expected / (1 - band)))
    low, high = min(low, n_items), min(high, n_items)
    values = np.unique(np.round(np.linspace(low, high, min(MAX_K_VALUES, high - low + 1))).astype(int))
    return [int(k) for k in values]


def _running_sum_by_key(keys, values):
    """Cumulative sum of values within each run of equal (sorted) keys."""
    total = np.cumsum(values)
    starts = np.r_[0, np.flatnonzero(np.diff(keys)) + 1]
    before = np.repeat(total[starts] - values[starts], np.diff(np.r_[starts, len(keys)]))
    return total - before


def exchange_bounds(params: ClusteringParams):
    """Weights a cluster may reach while being rounded: near the target, never over the cap."""
    target = params.desired_cluster_weight
    high = target * (1 + EXCHANGE_BAND)
    if params.max_cluster_weight:
        high = min(high, params.max_cluster_weight)
    return target * (1 - EXCHANGE_BAND), high


def compact_exchange(x, y, w, labels, k, steps, bounds, should_stop=None):
    """Make balanced pieces rounder without unbalancing them.

    Each step moves features to a nearer cluster centre (a Lloyd step), but only as
    many as keep both clusters within ±EXCHANGE_BAND of the mean weight (and under the cap),
    taking the moves that shorten distances most first. All moves of a step are
    decided at once from running sums, so a step costs a few vectorised passes.
    """
    if k <= 1:
        return labels
    low, high = bounds
    nearest_centre = _NearestCentre(np.column_stack([x, y]))
    for _ in range(steps):
        if should_stop is not None:
            should_stop()
        cw = np.bincount(labels, weights=w, minlength=k)
        counts = np.bincount(labels, minlength=k)
        cx, cy = weighted_centroids(x, y, w, labels, k, cw, counts)
        nearest = nearest_centre.update(cx, cy)
        own = (x - cx[labels]) ** 2 + (y - cy[labels]) ** 2
        better = (x - cx[nearest]) ** 2 + (y - cy[nearest]) ** 2
        movers = np.flatnonzero((nearest != labels) & (better < own))
        if len(movers) <= SETTLED_SHARE * len(labels):
            break
        gain = own[movers] - better[movers]
        source, dest, mw = labels[movers], nearest[movers], w[movers]
        leaving = np.empty(len(movers))
        order = np.lexsort((-gain, source))
        leaving[order] = _running_sum_by_key(source[order], mw[order])
        arriving = np.empty(len(movers))
        order = np.lexsort((-gain, dest))
        arriving[order] = _running_sum_by_key(dest[order], mw[order])
        # Clusters that would lose their last member keep it (no cluster vanishes).
        leaving_count = np.bincount(source, minlength=k)
        allowed = ((cw[source] - leaving >= low) & (cw[dest] + arriving <= high)
                   & (leaving_count[source] < counts[source]))
        if not allowed.any():
            break
        labels = labels.copy()
        labels[movers[allowed]] = dest[allowed]
    return labels


class _NearestCentre:
    """Each feature's nearest centre, re-queried only where it may have changed.

    A feature keeps its nearest centre until the centres have moved, in total, by
    half its margin (the gap between its nearest and second-nearest centre); late
    rounding steps move centres little, so most features are not queried again.
    """

    def __init__(self, points):
        self.points = points
        self.nearest = np.zeros(len(points), dtype=np.int64)
        self.slack = np.full(len(points), -1.0)
        self.centres = None

    def update(self, cx, cy):
        centres = np.column_stack([cx, cy])
        if self.centres is not None:
            self.slack -= 2.0 * np.hypot(*(centres - self.centres).T).max()
        self.centres = centres
        stale = np.flatnonzero(self.slack < 0)
        if len(stale):
            neighbours = min(2, len(centres))
            distance, index = cKDTree(centres).query(self.points[stale], k=neighbours)
            if neighbours == 1:
                self.nearest[stale] = index
                self.slack[stale] = np.inf
            else:
                self.nearest[stale] = index[:, 0]
                self.slack[stale] = distance[:, 1] - distance[:, 0]
        return self.nearest


def make_atoms(group: Features, wanted: float, context: RunContext):
    """About `wanted` small balanced pieces standing in for the features while k is tuned.

    Returns (each feature's atom, the atoms as Features whose vertices are the extreme
    points of their members); the features themselves when atoms would hold under two each.
    """
    wanted = int(wanted) + 1
    if wanted >= len(group) // 2:
        return np.arange(len(group)), group
    atom_of = bisection_labels(group.x, group.y, group.w, wanted, context.check_cancelled)
    n_atoms = int(atom_of.max()) + 1
    aw = np.bincount(atom_of, weights=group.w, minlength=n_atoms)
    ax, ay = weighted_centroids(group.x, group.y, group.w, atom_of, n_atoms, aw)
    if group.vertex_xy is None:
        vx, vy, owner = extreme_points(group.x, group.y, atom_of, n_atoms)
    else:
        vx, vy, owner = extreme_points(group.vertex_xy[:, 0], group.vertex_xy[:, 1],
                                       atom_of[group.vertex_owner], n_atoms)
    return atom_of, Features(ax, ay, aw, np.column_stack([vx, vy]), owner)


def balanced_split(group: Features, params: ClusteringParams, n_trials: int, context: RunContext,
                   on_trial, k_values=None) -> np.ndarray:
    """Labels 0..g-1 splitting `group` into balanced, compact clusters (k from k_values if given)."""
    atom_of, atoms = make_atoms(group, ATOMS_PER_CLUSTER * group.w.sum() / params.desired_cluster_weight, context)
    bounds = exchange_bounds(params)

    def partition_atoms(items: Features, k: int) -> np.ndarray:
        start = bisection_labels(items.x, items.y, items.w, k, context.check_cancelled)
        return compact_exchange(items.x, items.y, items.w, start, k, TRIAL_STEPS, bounds, context.check_cancelled)

    k_values = k_values or band_k_values(group.w.sum(), len(atoms), params)
    ranked = tune_k(atoms, partition_atoms, n_trials, params, context, on_trial, k_values=k_values)
    best = None
    finalists = FINALISTS if ranked[0] <= MANY_CLUSTERS else 1
    for k in ranked[:finalists]:
        labels = compact_labels(partition_atoms(atoms, k)[atom_of])[0]
        score = score_labels(group, labels, params)
        if best is None or (score, k) < best[:2]:
            best = (score, k, labels)
    return best[2]
