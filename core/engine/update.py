"""Update mode: re-cluster a new weight release while keeping what still fits.

A previous frame (a cluster ID per feature, from any strategy or a hand-edited layer) is kept
cluster by cluster wherever it is still in band under the new weights. Only the clusters that
left the band (or received new features) are re-solved, with a ring of neighbours round them
(one ring more each round while some stay out of band, up to RINGS), one connected piece at a
time: centres at their previous clusters' weighted centres, prices fitted so that the power
diagram reproduces the previous labels, then the compact strategy's own balance and chain
finish (core.engine.compact), which stop as soon as every cell is in band. A piece whose total
no longer suits its count gets clusters split or dropped first (compact's warm-start resize).
New cells take the previous IDs they overlap most; the rest get new IDs, and previous IDs left
without features are retired. The engine's guarantees (cap, minimum weight, radius) follow as
in every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..params import ClusteringInputError, ClusteringParams
from .balanced import band_k_values
from .compact import K_BAND, REMOTE_GAP, _PowerKMeans, _resize, _stack_weights, band_edges, granularity
from .data import Features, RunContext, weighted_centroids
from .power import power_nearest

ADJACENCY_NEIGHBOURS = 6  # nearest features looked at to find which clusters touch
RINGS = 3  # rounds of re-solving, each with one more ring of neighbours round the clusters still out of band
FIT_ROUNDS = 60  # rounds of the price fit that reproduces the previous labels
SIGNIFICANT = 0.25  # share of a cluster's weight that makes it count as split into, or merged from, another
NEW_PREFIX = "CLUSTER_"


@dataclass
class UpdateReport:
    """How an update changed the previous frame (every figure measured on the final IDs)."""

    changed_feature_share: float  # of the features that had a previous cluster: share now in another
    changed_weight_share: float  # the same, weighted by the new weights
    new_features: int  # features that had no previous cluster
    unchanged: list = field(default_factory=list)  # previous IDs kept with exactly the same members
    reshaped: list = field(default_factory=list)  # previous IDs kept, members changed
    split: list = field(default_factory=list)  # previous IDs whose weight went >= 25 % each to 2+ clusters
    merged: list = field(default_factory=list)  # final IDs holding >= 25 % of each of 2+ previous clusters
    new: list = field(default_factory=list)  # final IDs that did not exist before
    retired: list = field(default_factory=list)  # previous IDs that no longer exist

    def stats(self) -> dict:
        return {"changed_feature_share": self.changed_feature_share,
                "changed_weight_share": self.changed_weight_share, "new_features": self.new_features,
                **{f"clusters_{name}": len(getattr(self, name))
                   for name in ("unchanged", "reshaped", "split", "merged", "new", "retired")}}


def previous_labels(previous_ids, n: int):
    """(previous IDs as strings, each feature's index into them or -1 where it had none).

    Missing values (None, NaN, empty text) mark features new since the previous frame."""
    values = np.asarray(previous_ids, dtype=object).ravel()
    if len(values) != n:
        raise ClusteringInputError(f"{n} features but {len(values)} previous cluster IDs")
    text = np.array([_id_text(v) for v in values], dtype=object)
    has = text != ""
    if not has.any():
        raise ClusteringInputError("the previous cluster field is empty on every feature: there is no frame to update")
    names, inverse = np.unique(text[has].astype(str), return_inverse=True)
    labels = np.full(n, -1, dtype=np.int64)
    labels[has] = inverse
    return names.astype(object), labels


def _id_text(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    try:
        import pandas as pd

        if value is pd.NA:
            return ""
    except ImportError:  # a QGIS install without pandas
        pass
    if isinstance(value, float) and value.is_integer():  # an integer field read with nulls becomes float
        return str(int(value))
    return str(value).strip()


def match_by_overlap(old, new, w, n_old: int, n_new: int) -> np.ndarray:
    """For each new label, the old label it shares most weight with (each old label used once), or -1.

    Greedy from the largest overlap down (ties: more features, then lower labels); features without an
    old label (-1) count for nothing."""
    has = old >= 0
    pair = new[has] * n_old + old[has]
    keys, inverse = np.unique(pair, return_inverse=True)
    weight = np.bincount(inverse, w[has])
    count = np.bincount(inverse)
    order = np.lexsort((keys, -count, -weight))
    match = np.full(n_new, -1, dtype=np.int64)
    taken = np.zeros(n_old, dtype=bool)
    for key in keys[order]:
        new_label, old_label = divmod(int(key), n_old)
        if match[new_label] < 0 and not taken[old_label]:
            match[new_label], taken[old_label] = old_label, True
    return match


def kept_share(previous_ids, ids, w) -> tuple:
    """(share of features, share of weight) whose new cluster is matched to their previous one by overlap.

    For an update the match is its own ID mapping; for a fresh run (arbitrary IDs) it is the kindest one."""
    _, old = np.unique(np.asarray(previous_ids).astype(str), return_inverse=True)
    _, new = np.unique(np.asarray(ids).astype(str), return_inverse=True)
    match = match_by_overlap(old, new, w, int(old.max()) + 1, int(new.max()) + 1)
    kept = match[new] == old
    return float(kept.mean()), float(w[kept].sum() / max(w.sum(), 1e-300))


def _cluster_adjacency(points, labels, k, reach):
    """Sparse k x k: clusters with features among each other's nearest neighbours, no farther than `reach`
    (compact's remote-hamlet gap: a hamlet that far off is never joined to a neighbour)."""
    count = min(ADJACENCY_NEIGHBOURS + 1, len(points))
    distance, near = cKDTree(points).query(points, k=count)
    near, distance = near.reshape(len(points), -1), distance.reshape(len(points), -1)
    a = np.repeat(labels, near.shape[1])
    b = labels[near.ravel()]
    keep = (a != b) & (a >= 0) & (b >= 0) & (distance.ravel() <= reach)
    graph = coo_matrix((np.ones(int(keep.sum())), (a[keep], b[keep])), shape=(k, k)).tocsr()
    return graph + graph.T


def _fit_prices(points, centres, labels, rounds=FIT_ROUNDS):
    """Prices whose power diagram reproduces `labels` as well as a few rounds can find.

    Each round, a feature in the wrong cell asks its own cell's price up and the winner's down by half its
    gap; each cell takes the median ask. Returns the prices that put the fewest features wrong."""
    k = len(centres)
    prices = np.zeros(k)
    best, fewest = prices.copy(), None
    for _ in range(rounds):
        index, cost = power_nearest(points, centres, prices, 1)
        wrong = np.flatnonzero(index[:, 0] != labels)
        if fewest is None or len(wrong) < fewest:
            best, fewest = prices.copy(), len(wrong)
        if not len(wrong):
            break
        own = labels[wrong]
        gap = ((points[wrong] - centres[own]) ** 2).sum(axis=1) - prices[own] - cost[wrong, 0]
        step = np.zeros(k)
        for cells, sign in ((own, 1.0), (index[wrong, 0], -1.0)):
            order = np.argsort(cells, kind="stable")
            starts = np.flatnonzero(np.r_[True, np.diff(cells[order]) != 0])
            for start, end in zip(starts, np.r_[starts[1:], len(order)]):
                step[cells[order[start]]] += sign * 0.5 * np.median(gap[order[start:end]]) * 1.01
        prices += step
        prices -= prices.mean()
    return best


def _out_of_band(labels, w, k, low, high) -> int:
    weight = np.bincount(labels, w, minlength=k)
    return int(((weight < low) | (weight > high)).sum())


def _resolve_piece(features: Features, members, local, k_have, params, context):
    """New labels 0..k-1 for one connected piece of unsettled clusters (local: their previous labels 0..k_have-1)."""
    piece = features.subset(members)
    points = np.column_stack([piece.x, piece.y])
    values = band_k_values(piece.w.sum(), len(piece), params, K_BAND)
    k = min(values, key=lambda value: (abs(value - k_have), value))
    centres = np.column_stack(weighted_centroids(piece.x, piece.y, piece.w, local, k_have))
    prices = _fit_prices(points, centres, local) if k_have > 1 else np.zeros(1)
    if k != k_have:
        centres, prices = _resize(centres, prices, local, points, piece.w, k)
    if k == 1:
        return np.zeros(len(piece), dtype=np.int64), 1
    kmeans = _PowerKMeans(points, piece.w, params, context, False, granularity(_stack_weights(piece)))
    labels, _, _ = kmeans.run(centres, prices, 0)
    return labels, k


def update_labels(features: Features, names, previous, params: ClusteringParams, context: RunContext):
    """Each feature's cluster ID after the update (object array); `previous` from previous_labels().

    Round r re-solves the clusters still out of band with r rings of neighbours around them, so a
    piece that could not reach the band with its nearest neighbours gets more room next time."""
    w = features.w
    low, high = band_edges(params)
    points = np.column_stack([features.x, features.y])
    has = previous >= 0
    labels = previous.copy()
    names = list(names)
    weight = np.bincount(previous[has], w[has], minlength=len(names))
    unsettled = (weight < low) | (weight > high)
    if not has.all():  # a new feature joins its nearest previous cluster for now, which is then re-solved
        cx, cy = weighted_centroids(features.x[has], features.y[has], w[has], previous[has], len(names))
        _, nearest = cKDTree(np.column_stack([cx, cy])).query(points[~has])
        labels[~has] = nearest
        unsettled[nearest] = True
    fresh = _new_names(set(names))
    for rings in range(1, RINGS + 1):
        if not unsettled.any():
            break
        labels, changed = _resolve_round(features, labels, names, unsettled, has, rings, fresh, params, context)
        weight = np.bincount(labels, w, minlength=len(names))
        unsettled = ((weight < low) | (weight > high)) & (np.bincount(labels, minlength=len(names)) > 0)
        if not changed:
            break
    return np.array(names, dtype=object)[labels]


def _resolve_round(features, labels, names, unsettled, has, rings, fresh, params, context):
    """(labels, whether any piece changed): each connected piece of unsettled clusters and `rings` rings of
    neighbours re-solved, kept where it puts fewer clusters out of band (or places new features)."""
    w = features.w
    low, high = band_edges(params)
    k = len(names)
    adjacency = _cluster_adjacency(np.column_stack([features.x, features.y]), labels, k,
                                   REMOTE_GAP * params.desired_cluster_radius)
    region = unsettled.copy()
    for _ in range(rings):
        region |= adjacency[np.flatnonzero(region)].sum(axis=0).A1 > 0
    inside = np.flatnonzero(region)
    _, piece_of = connected_components(adjacency[inside][:, inside], directed=False)
    labels = labels.copy()
    changed = False
    for piece in range(int(piece_of.max()) + 1):
        context.check_cancelled()
        clusters = inside[piece_of == piece]
        position = np.full(len(names), -1, dtype=np.int64)  # (names grow as pieces add clusters)
        position[clusters] = np.arange(len(clusters))
        members = np.flatnonzero(position[labels] >= 0)
        local = position[labels[members]]
        new_labels, count = _resolve_piece(features, members, local, len(clusters), params, context)
        if has[members].all() and (_out_of_band(new_labels, w[members], count, low, high)
                                   >= _out_of_band(local, w[members], len(clusters), low, high)):
            continue  # nothing better than the frame as it is here: it stays
        old = np.where(has[members], local, -1)
        match = match_by_overlap(old, new_labels, w[members], len(clusters), count)
        cell_label = np.empty(count, dtype=np.int64)
        for cell, matched in enumerate(match):
            if matched >= 0:
                cell_label[cell] = clusters[matched]
            else:
                cell_label[cell] = len(names)
                names.append(next(fresh))
        labels[members] = cell_label[new_labels]
        changed = True
    return labels, changed


def _new_names(taken):
    """CLUSTER_<n>, numbered past every CLUSTER_<n>... already in use (so no new ID is the parent of an old one)."""
    numbers = [int(name[len(NEW_PREFIX):].split("_")[0]) for name in taken
               if name.startswith(NEW_PREFIX) and name[len(NEW_PREFIX):].split("_")[0].isdigit()]
    number = max(numbers + [len(taken)])
    while True:
        number += 1
        name = f"{NEW_PREFIX}{number}"
        if name not in taken:
            taken.add(name)
            yield name


def update_report(names, previous, ids, w) -> UpdateReport:
    """Compare the final IDs with the previous frame."""
    has = previous >= 0
    old_ids = np.where(has, names[np.maximum(previous, 0)], None)
    changed = has & (ids != old_ids)
    final_names, final = np.unique(ids.astype(str), return_inverse=True)
    before = {name: set(np.flatnonzero(old_ids == name).tolist()) for name in names}
    after = {name: set(np.flatnonzero(final == i).tolist()) for i, name in enumerate(final_names)}
    kept = [name for name in final_names if name in before]
    # Overlap weights between previous (rows) and final (columns) clusters.
    pair = coo_matrix((w[has], (previous[has], final[has])), shape=(len(names), len(final_names))).tocsr()
    old_weight = np.asarray(pair.sum(axis=1)).ravel()
    share_of_old = pair.multiply(1.0 / np.maximum(old_weight, 1e-300)[:, None]).tocsr()
    significant = share_of_old >= SIGNIFICANT
    split = [names[i] for i in np.flatnonzero(np.asarray(significant.sum(axis=1)).ravel() >= 2)]
    merged = [final_names[j] for j in np.flatnonzero(np.asarray(significant.sum(axis=0)).ravel() >= 2)]
    return UpdateReport(
        changed_feature_share=float(changed.sum() / max(has.sum(), 1)),
        changed_weight_share=float(w[changed].sum() / max(w[has].sum(), 1e-300)),
        new_features=int((~has).sum()),
        unchanged=[name for name in kept if after[name] == before[name]],
        reshaped=[name for name in kept if after[name] != before[name]],
        split=split, merged=merged,
        new=[name for name in final_names if name not in before],
        retired=[name for name in names if name not in after],
    )
