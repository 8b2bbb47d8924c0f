"""The clustering run: a tuned first pass, re-clustering passes, then the guarantees.

`cluster()` is the one entry point the CLI, the QGIS plugin and the Lambda call.
"""

from __future__ import annotations

import dataclasses
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional

import numpy as np

from ..params import ClusteringInputError, ClusteringParams, worker_threads
from .balanced import balanced_split
from .compact import compact_split
from .data import Features, RunContext
from .interruptible import cancellable_fits
from .max_radius import split_wide_clusters
from .partition import bisection_labels, kmeans_labels
from .result import ClusteringResult, factorize_ids, name_pieces, summarize
from .tuning import tune_k


def _make_ids(prefix: str, compact: np.ndarray, n_pieces: int):
    """IDs prefix + 1-based number, zero-padded to the digits of the piece count,
    and their factorize_ids() (names, inverse), read off the numbers instead of hashing every ID."""
    width = len(str(n_pieces))
    names = np.array([f"{prefix}{str(i).zfill(width)}" for i in range(1, n_pieces + 1)], dtype=object)
    counts = np.bincount(compact, minlength=n_pieces)
    used = np.flatnonzero(counts)
    rank = np.cumsum(counts > 0) - 1  # equal widths: the names sort as their numbers do
    return names[compact], (names[used], rank[compact])


class _Clusterer:
    def __init__(self, features: Features, params: ClusteringParams, context: RunContext):
        self.features = features
        self.params = params
        self.context = context
        self.trials = []  # (k, score) of the first pass, compact strategy
        self.hamlet_ids = []  # remote hamlets kept as their own clusters
        self.placed_alone = set()  # features heavier than the band, each its own cluster (again in later passes)
        self.last_index = None  # factorize_ids() of the IDs split_group returned last

    def seed_partition(self, group: Features, k: int) -> np.ndarray:
        with cancellable_fits(self.context.check_cancelled):  # cancel lands within one mini-batch
            return kmeans_labels(group.x, group.y, group.w, k, self.params.minibatch_reassignment_ratio,
                                 self.params.random_state)

    def split_group(self, idx: np.ndarray, prefix: str, n_trials: int, on_trial, fixed_k=None) -> np.ndarray:
        """Tune k (or take fixed_k) for the features at idx and return their new IDs (prefix + number)."""
        ids, self.last_index = self._split(idx, prefix, n_trials, on_trial, fixed_k)
        return ids

    def _split(self, idx, prefix, n_trials, on_trial, fixed_k):
        group = self.features.subset(idx)
        if group.w.sum() == 0 and fixed_k is None:
            name = f"{prefix}0"
            return np.full(len(idx), name, dtype=object), (np.array([name], dtype=object), np.zeros(len(idx), np.int64))
        if self.params.strategy == "seed":
            k = fixed_k or tune_k(group, self.seed_partition, n_trials, self.params, self.context, on_trial)[0]
            # Seed numbering: k-means label + 1, padded to k's digits (unused labels leave gaps).
            return _make_ids(prefix, self.seed_partition(group, k), k)
        if self.params.strategy == "compact":
            return self._compact_ids(idx, group, prefix, n_trials, on_trial, fixed_k)
        compact = balanced_split(group, self.params, n_trials, self.context, on_trial,
                                 None if fixed_k is None else [fixed_k])
        return _make_ids(prefix, compact, int(compact.max()) + 1)

    def _compact_ids(self, idx, group, prefix, n_trials, on_trial, fixed_k):
        split = compact_split(group, self.params, n_trials, self.context, on_trial, fixed_k)
        ids, index = _make_ids(prefix, split.labels, int(split.labels.max()) + 1)
        if prefix == "CLUSTER_":
            self.trials = split.trials
        self.hamlet_ids += [ids[np.flatnonzero(split.labels == label)[0]] for label in split.hamlet_labels]
        self.placed_alone.update(int(idx[np.flatnonzero(split.labels == label)[0]]) for label in split.alone_labels)
        return ids, index


def _weights_by_id(ids: np.ndarray, w: np.ndarray):
    names, inverse = factorize_ids(ids)
    return names, inverse, np.bincount(inverse, weights=w, minlength=len(names))


def cluster(x, y, weights=None, params: Optional[ClusteringParams] = None, *, vertex_xy=None,
            vertex_owner=None, footprint=None, progress: Optional[Callable[[float, str], None]] = None,
            is_cancelled: Optional[Callable[[], bool]] = None, previous_ids=None, **param_values) -> ClusteringResult:
    """Cluster weighted features into groups near the target weight and radius.

    x, y: positions in metres (projected CRS). weights: per feature (default 1).
    vertex_xy / vertex_owner: every vertex of each feature's geometry, so a cluster's
    radius covers polygon members in full. footprint=(hx, hy): each feature is a
    rectangle of those half sizes in metres (raster pixels). progress(fraction, message) and
    is_cancelled() are polled often; cancelling raises ClusteringCancelled. previous_ids: each
    feature's cluster ID in a previous frame (None where new): update that frame instead of starting
    afresh (core.engine.update).
    """
    if params is None:
        params = ClusteringParams(**param_values)
    elif param_values:  # keywords next to a params object override it, never vanish silently
        params = dataclasses.replace(params, **param_values)
    features = Features.checked(x, y, weights, vertex_xy, vertex_owner, footprint)
    _check_cluster_count(features, params)
    context = RunContext(progress, is_cancelled)
    if previous_ids is not None:
        return _update_run(features, previous_ids, params, context)
    clusterer = _Clusterer(features, params, context)
    n = len(features)
    context.report(0.0, "pass 1: tuning the number of clusters")

    first_pass_share = 0.6 if params.max_passes > 1 else 0.9
    ids = clusterer.split_group(
        np.arange(n), "CLUSTER_", params.initial_max_trials,
        lambda done, planned, unit="trial": context.report(first_pass_share * done / planned,
                                                           f"pass 1: {unit} {done} of {planned}"),
        params.n_clusters,
    )
    passes = np.ones(n, dtype=np.int64)
    passes_run = 1
    history = []  # oversized counts of the passes that ran
    known = clusterer.last_index  # factorize_ids(ids) while ids stay unchanged: hashing millions of IDs takes seconds
    for pass_number in range(2, (1 if params.n_clusters else params.max_passes) + 1):  # fixed k: one pass
        if known is None:
            known = factorize_ids(ids)
        names, inverse = known
        cluster_weights = np.bincount(inverse, weights=features.w, minlength=len(names))
        cluster_passes = np.zeros(len(names), dtype=np.int64)
        cluster_passes[inverse] = passes
        # As the original: only clusters the previous pass made are re-clustered, so one that
        # came out in one piece (same ID and pass) is not tried again with the same result.
        oversized = np.flatnonzero((cluster_weights > params.max_cluster_weight)
                                   & (cluster_passes == pass_number - 1))
        # The original's stop: none left, or the same count as the two passes before.
        if len(oversized) == 0 or (len(history) >= 2 and len(oversized) == history[-1] == history[-2]):
            break
        history.append(len(oversized))
        passes_run = pass_number
        # Later passes share what is left of the bar below 0.9, halving each time.
        span_start = first_pass_share + (0.9 - first_pass_share) * (1 - 0.5 ** (pass_number - 2))
        span = (0.9 - first_pass_share) * 0.5 ** (pass_number - 1)
        groups = [(np.flatnonzero(inverse == i), f"{names[i]}_") for i in oversized]
        for members, new_ids in _recluster(clusterer, groups, pass_number, span_start, span):
            if len(set(new_ids)) > 1:  # one piece keeps its ID and pass
                ids[members] = new_ids
                passes[members] = pass_number
                known = None

    return _finish_run(features, ids, passes, params, context, known, passes_run=passes_run,
                       trials=clusterer.trials, hamlet_ids=clusterer.hamlet_ids,
                       placed_alone=np.array(sorted(clusterer.placed_alone), dtype=np.int64))


def _finish_run(features: Features, ids, passes, params: ClusteringParams, context: RunContext, known=None,
                hamlet_ids=(), update=None, strategy=None, **extra) -> ClusteringResult:
    """The guarantees every run ends with (cap, minimum weight, radius), then the measured result."""
    heavy = np.zeros(0, dtype=np.int64)
    if (strategy or params.strategy) != "seed" and params.max_cluster_weight is not None:
        context.report(0.9, "enforcing the maximum cluster weight")
        ids, passes, heavy, known = _enforce_cap(features, ids, passes, params, context, known)
    merged_away = 0
    if params.min_cluster_weight:
        context.report(0.93, "merging undersized clusters")
        ids, merged_away = _merge_undersized(features, ids, params)
        known = None
    wider_than_cap = np.array([], dtype=object)
    if params.max_cluster_radius is not None:  # last: the radius cap is the one hard promise
        context.report(0.94, "splitting clusters wider than the maximum radius")
        ids, passes, wider_than_cap = split_wide_clusters(features, ids, passes, params.max_cluster_radius, context)
        known = None
    context.report(0.95, "measuring clusters")
    known = known or factorize_ids(ids)
    surviving = set(known[0].tolist())
    result = summarize(features, ids, passes, params, factorized=known, heavy_features=heavy,
                       merged_clusters=merged_away, over_max_radius=wider_than_cap,
                       remote_hamlets=sorted(h for h in hamlet_ids if h in surviving),
                       update=None if update is None else update(ids), **extra)
    context.report(1.0, f"done: {len(result.clusters)} clusters")
    return result


def _update_run(features: Features, previous_ids, params: ClusteringParams, context: RunContext):
    """Update mode (core.engine.update): keep the previous frame where it still fits, fix the rest."""
    from .update import previous_labels, update_labels, update_report

    if params.n_clusters is not None:
        raise ClusteringInputError("a fixed number of clusters cannot be combined with updating a previous frame: "
                                   "the update keeps the clusters that still fit and changes the count only where "
                                   "needed")
    names, previous = previous_labels(previous_ids, len(features))
    context.report(0.0, "updating the previous clusters")
    ids = update_labels(features, names, previous, params, context)
    # The update makes compact-style cells whatever made the previous frame: the cap is enforced as there.
    return _finish_run(features, ids, np.ones(len(features), dtype=np.int64), params, context, strategy="compact",
                       update=lambda final: update_report(names, previous, final, features.w))


def _check_cluster_count(features: Features, params: ClusteringParams) -> None:
    """A fixed number of clusters must be possible with these features and this cap."""
    k = params.n_clusters
    if k is None:
        return
    if k > len(features):
        raise ClusteringInputError(f"{k} clusters were asked for but the input has only {len(features)} features")
    cap = params.max_cluster_weight
    if cap is not None and features.w.sum() / k > cap:
        raise ClusteringInputError(
            f"{k} clusters would weigh {features.w.sum() / k:.6g} each on average, above the max cluster "
            f"weight ({cap:g}); ask for at least {math.ceil(features.w.sum() / cap)} clusters or raise the max")


def _recluster(clusterer: _Clusterer, groups, pass_number: int, span_start: float, span: float):
    """Re-cluster each (members, id prefix) group; threads when n_jobs allows."""
    context = clusterer.context
    done = [0]

    def recluster(group):
        members, prefix = group
        new_ids = clusterer.split_group(members, prefix, clusterer.params.subsequent_max_trials,
                                        lambda *_: context.check_cancelled())
        done[0] += 1
        context.report(span_start + span * done[0] / len(groups),
                       f"pass {pass_number}: re-clustered {done[0]} of {len(groups)} oversized")
        return members, new_ids

    threads = worker_threads(clusterer.params.n_jobs)
    if threads > 1 and len(groups) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(recluster, groups))
    return [recluster(group) for group in groups]


def _enforce_cap(features: Features, ids, passes, params: ClusteringParams, context: RunContext, known=None):
    """Split every cluster above the cap into balanced pieces that fit under it.

    A feature heavier than the cap on its own becomes its own cluster (reported).
    known: (names, inverse) of ids, if already at hand. Returns (ids, passes, heavy, (names, inverse)
    of the returned ids, or None once a cluster was split).
    """
    cap = params.max_cluster_weight
    heavy = np.flatnonzero(features.w > cap)
    if known is None:
        names, inverse, cluster_weights = _weights_by_id(ids, features.w)
    else:
        names, inverse = known
        cluster_weights = np.bincount(inverse, weights=features.w, minlength=len(names))
    over = np.flatnonzero(cluster_weights > cap)
    if not len(over):
        return ids, passes, heavy, (names, inverse)
    ids = ids.copy()
    passes = passes.copy()
    split = False
    for cluster_index in over:
        context.check_cancelled()
        members = np.flatnonzero(inverse == cluster_index)
        if len(members) == 1:
            continue
        alone = members[features.w[members] > cap]
        rest = members[features.w[members] <= cap]
        pieces = []
        if len(rest):
            group = features.subset(rest)
            count = max(1, math.ceil(group.w.sum() / cap))
            while True:
                labels = bisection_labels(group.x, group.y, group.w, count)
                if np.bincount(labels, weights=group.w).max() <= cap or count >= len(rest):
                    break
                count += 1
            pieces = [rest[labels == label] for label in range(labels.max() + 1)]
        pieces += [np.array([i]) for i in alone]
        if len(pieces) > 1:
            name_pieces(ids, passes, names[cluster_index], members, pieces)
            split = True
    return ids, passes, heavy, None if split else (names, inverse)


def _merge_undersized(features: Features, ids, params: ClusteringParams):
    """Merge clusters under min_cluster_weight into the nearest cluster that stays under the cap.

    Works on the cluster table (weights, member counts, centroids), lightest first,
    so each merge costs O(clusters) rather than a pass over every feature.
    """
    cap = params.max_cluster_weight if params.max_cluster_weight is not None else math.inf
    names, inverse, weights = _weights_by_id(ids, features.w)
    counts = np.bincount(inverse, minlength=len(names)).astype(float)
    cx = np.bincount(inverse, weights=features.x) / counts
    cy = np.bincount(inverse, weights=features.y) / counts
    merged_into = np.arange(len(names))
    alive = np.ones(len(names), dtype=bool)
    merged = 0
    while alive.sum() >= 2:
        target = None
        for i in np.argsort(np.where(alive, weights, np.inf), kind="stable"):
            if not alive[i] or weights[i] >= params.min_cluster_weight:
                break
            distance = np.hypot(cx - cx[i], cy - cy[i])
            distance[~alive | (weights + weights[i] > cap)] = np.inf
            distance[i] = np.inf
            j = int(np.argmin(distance))
            if np.isfinite(distance[j]):
                target = (i, j)
                break
        if target is None:
            break
        i, j = target
        total = counts[i] + counts[j]
        cx[j], cy[j] = (cx[i] * counts[i] + cx[j] * counts[j]) / total, (cy[i] * counts[i] + cy[j] * counts[j]) / total
        weights[j] += weights[i]
        counts[j] = total
        alive[i] = False
        merged_into[merged_into == i] = j
        merged += 1
    return names[merged_into][inverse], merged
