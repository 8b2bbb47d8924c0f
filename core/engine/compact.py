"""The default strategy: capacity-constrained k-means on a power diagram, k tuned by Optuna.

1. Features heavier than the band's upper edge become clusters of their own, and remote
   hamlets (light groups more than four target radii from everything else, core.engine.hamlets)
   are kept as they are: neither can reach the band by joining others. k comes from the rest.
2. The rest is cut into small weight-balanced "atoms" (bisection, ~1/8 of the target).
   Optuna tries k over the band; each trial warm-starts centres and prices from the
   nearest k already tried and runs Lloyd rounds on the atoms: balance the prices
   (core.engine.power), move each centre to its cluster's weighted mean. A trial is scored with
   the original tool's formula, radii measured on the atoms' extreme points.
3. The best k (the best two while k is small) restarts cold and is finished on the
   features themselves: Lloyd rounds, then a final price pass that closes the band on the
   boundary features; fewer clusters off the band, then the exact score, pick the winner.
   Labels are the exact power assignment of the final prices over all centres, so cells
   are convex and never overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from ..params import ClusteringParams
from .balanced import band_k_values, make_atoms
from .data import Features, RunContext, weighted_centroids
from .finish import finish_band
from .hamlets import remote_hamlets
from .optuna_loader import load_optuna
from .partition import bisection_labels
from .power import PowerBalancer
from .regions import cluster_regions, cut_regions, region_count
from .tuning import clustering_score, score_labels

optuna = load_optuna()

IN_BAND = 0.2  # the band a cluster's weight should sit in: target ± 20 %
K_BAND = 0.1  # k is tuned where the mean weight stays within ±10 % (room left to balance inside the band)
ATOMS_PER_CLUSTER = 8
LOOSE_TOL, FINAL_TOL = 0.15, 0.15  # balance around the mean weight: during Lloyd rounds, at the end
ATOM_ROUNDS, FEATURE_ROUNDS = 15, 2  # Lloyd rounds: per trial on atoms, then on features (none when large)
LARGE_ATOM_ROUNDS, MANY_ATOMS = 6, 10_000  # ... when there are more atoms than this
TRIAL_ROUNDS = 10  # a trial warm-starts near a solution: fewer rounds than a finalist's cold start
ROUND_ITERATIONS, FINAL_ITERATIONS = 60, 1500
TRIAL_FINAL_ITERATIONS = 100
FINISH_MOVES, FINISH_WORK = 200, 20_000_000  # chain moves after the final balance, at most; fewer on large inputs
STARVED = 0.5  # a cluster under this share of the lowest balanced weight restarts elsewhere
SETTLED_MOVE = 0.01  # Lloyd rounds stop once no centre moves more than this share of the target radius
FINALISTS, FINALIST_FEATURES = 2, 100_000  # best k values finished on the features, up to this size
FEW_CLUSTERS = 200  # ... and only while k is this small
TRIAL_WORK = 150_000  # atoms x trials per study: large inputs try fewer k values (the score is smooth in k there)
MIN_TRIALS = 3
REMOTE_GAP = 4.0  # remote: joining it would make a cluster at least twice the target radius


@dataclass
class CompactSplit:
    """Labels 0..g-1 for one group, and what the report needs about them."""

    labels: np.ndarray
    trials: list = field(default_factory=list)  # (k, score) in the order tried
    alone_labels: list = field(default_factory=list)  # one heavy feature each
    hamlet_labels: list = field(default_factory=list)  # remote hamlets kept as they are


def band_edges(params: ClusteringParams):
    """Lowest and highest weight a cluster should have: target ± 20 %, never above the cap."""
    target = params.desired_cluster_weight
    high = target * (1 + IN_BAND)
    if params.max_cluster_weight is not None:
        high = min(high, params.max_cluster_weight)
    return target * (1 - IN_BAND), high


def granularity(w) -> float:
    """The narrowest weight window whole items can be balanced into: the heaviest item, and
    twice the typical one (so that a cluster may hold either of two item counts)."""
    return 1.01 * max(float(w.max()), 2.0 * float(np.median(w)))


def balance_bounds(mean: float, tol: float, params: ClusteringParams, grain: float, fixed_k: bool):
    """[low, high] for every cluster: within tol of the mean and inside the band.

    Never narrower than `grain` (whole items cannot do better): widened around the mean
    when needed.
    """
    low, high = mean * (1 - tol), mean * (1 + tol)
    band_low, band_high = band_edges(params)
    if not fixed_k:
        low, high = max(low, band_low * 1.001), min(high, band_high * 0.999)
    cap = params.max_cluster_weight if params.max_cluster_weight is not None else math.inf
    high = min(high, cap)
    if high - low < grain:
        half = 0.5 * grain
        low, high = min(low, mean - half), max(high, mean + half)
        if high > cap:  # never widen past the cap: widen downwards instead
            low, high = min(low, cap - grain), cap
    return low, high


def _resize(centres, prices, labels, points, w, k):
    """Warm start for k centres from a solution with a different count.

    Fewer: drop the centres closest to another centre. More: split the widest clusters
    along their longest direction; a new centre inherits its parent's price.
    """
    centres, prices = centres.copy(), prices.copy()
    have = len(centres)
    if k < have:
        spacing = cKDTree(centres).query(centres, k=2)[0][:, 1]
        keep = np.sort(np.argsort(spacing, kind="stable")[have - k:])
        return _sane_prices(centres[keep], prices[keep])
    if k == have:
        return centres, prices
    d2 = ((points - centres[labels]) ** 2).sum(axis=1)
    spread = np.bincount(labels, w * d2, minlength=have)
    parents = np.argsort(-spread, kind="stable")[: k - have]
    new = []
    for parent in parents:
        members = labels == parent
        offset = points[members] - centres[parent]
        if len(offset) < 2:
            new.append(centres[parent] + 1.0)
            continue
        direction = np.linalg.eigh(offset.T @ (offset * w[members, None] + 1e-12))[1][:, -1]
        reach = 0.5 * np.sqrt(spread[parent] / max(w[members].sum(), 1e-12))
        new.append(centres[parent] + direction * reach)
        centres[parent] -= direction * reach
    return _sane_prices(np.vstack([centres, new]), np.concatenate([prices, prices[parents]]))


def _sane_prices(centres, prices):
    """Prices for moved centres: a price past the squared distance to the nearest other centre
    would push a border beyond that centre, so it is clipped there (stuck clusters drift far)."""
    prices = prices - np.median(prices)
    if len(centres) > 1:
        limit = cKDTree(centres).query(centres, k=2)[0][:, 1] ** 2
        prices = np.clip(prices, -limit, limit)
    return centres, prices


def _restart_starved(centres, prices, labels, points, w, starved_below):
    """A centre left (nearly) without weight restarts inside the heaviest cluster.

    Such a centre sits where there is little to take (between clumps, in an empty plain);
    raising its price would make it reach across the gap. Moved beside the heaviest
    cluster's farthest member, it splits that cluster instead.
    """
    k = len(centres)
    weights = np.bincount(labels, w, minlength=k)
    counts = np.bincount(labels, minlength=k)
    for starved in np.flatnonzero((weights < starved_below) | (counts == 0)):
        heaviest = int(np.argmax(weights))
        if heaviest == starved or weights[heaviest] < 2 * starved_below:
            break
        members = np.flatnonzero(labels == heaviest)
        if len(members) == 0:  # only an estimate was left there
            break
        far = members[np.argmax(((points[members] - centres[heaviest]) ** 2).sum(axis=1))]
        centres[starved] = 0.5 * (centres[heaviest] + points[far])
        weights[heaviest] /= 2  # roughly what the two will share
        weights[starved] = weights[heaviest]
    return centres, prices


class _PowerKMeans:
    """Lloyd rounds around a PowerBalancer, on one set of weighted points."""

    def __init__(self, points, w, params: ClusteringParams, context: RunContext, fixed_k: bool, grain: float,
                 exact: bool = True):
        self.points, self.w, self.exact = points, w, exact
        self.params, self.fixed_k, self.grain = params, fixed_k, grain
        self.balancer = PowerBalancer(points, w, context.check_cancelled)
        self.settled = SETTLED_MOVE * params.desired_cluster_radius

    def bounds(self, k, tol):
        return balance_bounds(self.w.sum() / k, tol, self.params, self.grain, self.fixed_k)

    def finish_bounds(self, bounds):
        """What the finish must reach: the band itself (the balance aims inside it), or the bounds for a fixed k."""
        if self.fixed_k:
            return bounds
        band_low, band_high = band_edges(self.params)
        return min(bounds[0], band_low), max(bounds[1], band_high)

    def run(self, centres, prices, rounds):
        k = len(centres)
        x, y = self.points[:, 0], self.points[:, 1]
        for _ in range(rounds):
            labels, prices, _ = self.balancer.balance(centres, prices, *self.bounds(k, LOOSE_TOL), ROUND_ITERATIONS,
                                                      self.exact)
            moved = np.column_stack(weighted_centroids(x, y, self.w, labels, k))
            empty = np.bincount(labels, minlength=k) == 0
            moved[empty] = centres[empty]
            moved, prices = _restart_starved(moved, prices, labels, self.points, self.w,
                                             STARVED * self.bounds(k, LOOSE_TOL)[0])
            # Prices belong to the old centres. Carried over, a cluster that could not reach the band
            # keeps a price that, once its centre moves into a dense area, swallows its neighbours.
            prices = np.zeros(k)
            shift = np.sqrt(((moved - centres) ** 2).sum(axis=1)).max()
            centres = moved
            if shift <= self.settled:
                break
        final_iterations = FINAL_ITERATIONS if self.exact else TRIAL_FINAL_ITERATIONS
        bounds = self.bounds(k, FINAL_TOL)
        labels, prices, _ = self.balancer.balance(centres, prices, *bounds, final_iterations, self.exact)
        if self.exact:  # the balance may stall a feature or two short: close the band along chains of cells
            labels, prices = finish_band(self.points, self.w, centres, prices, labels, *self.finish_bounds(bounds),
                                         max_moves=min(FINISH_MOVES, max(10, FINISH_WORK // len(self.w))),
                                         neighbours=self.balancer.kept_neighbours(centres))
        return labels, centres, prices


def _split_off(group: Features, params: ClusteringParams, fixed_k):
    """Indices of features placed alone, of each remote hamlet, and of the rest."""
    n = len(group)
    alone = np.flatnonzero(group.w > band_edges(params)[1])
    if fixed_k is not None and len(alone) >= fixed_k:
        alone = alone[:0]
    rest_mask = np.ones(n, dtype=bool)
    rest_mask[alone] = False
    rest = np.flatnonzero(rest_mask)
    hamlets = []
    if len(rest) and (fixed_k is None or len(alone) + 1 < fixed_k):
        light = band_edges(params)[0]
        everything = len(rest) == n  # then no copies: a country raster's arrays are hundreds of MB
        x, y, w = (group.x, group.y, group.w) if everything else (group.x[rest], group.y[rest], group.w[rest])
        found = remote_hamlets(x, y, w, REMOTE_GAP * params.desired_cluster_radius, light)
        if fixed_k is not None:
            found = found[: fixed_k - len(alone) - 1]
        hamlets = [rest[members] for members in found]
        if hamlets:
            rest_mask[np.concatenate(hamlets)] = False
            rest = np.flatnonzero(rest_mask)
    return alone, hamlets, rest


def _trial_values(total, n_items, params: ClusteringParams, n_trials, trial_work=TRIAL_WORK, min_trials=MIN_TRIALS):
    values = band_k_values(total, n_items, params, K_BAND)
    budget = max(min_trials, int(trial_work) // max(n_items, 1))
    count = min(n_trials, budget, len(values))
    if count == 1:  # one trial: the k that puts the mean weight on target
        return [min(values, key=lambda k: (abs(total / k - params.desired_cluster_weight), k))]
    if count < len(values):  # evenly over the band, so a short study still spans it
        values = sorted({values[i] for i in np.round(np.linspace(0, len(values) - 1, count)).astype(int)})
    return values


def _tune(atoms: Features, params, context, n_trials, on_trial, fixed_k, grain, trial_work, min_trials):
    """Optuna over k on the atoms.

    Returns (k values tried, best first; k -> (centres, prices) from a cold start; trials).
    """
    points = np.column_stack([atoms.x, atoms.y])
    kmeans = _PowerKMeans(points, atoms.w, params, context, fixed_k is not None, grain, exact=False)
    full_rounds = ATOM_ROUNDS if len(atoms) <= MANY_ATOMS else LARGE_ATOM_ROUNDS
    tried = {}
    trial_rounds = min(TRIAL_ROUNDS, full_rounds)
    cold = set()  # k values whose solution came from a fresh bisection with every Lloyd round

    def solve(k, warm=True, rounds=trial_rounds):
        if warm and tried:  # warm start from the nearest k tried (ties: the smaller)
            nearest = min(tried, key=lambda j: (abs(j - k), j))
            centres, prices, labels = tried[nearest][1:4]
            centres, prices = _resize(centres, prices, labels, points, atoms.w, k)
        else:
            labels = bisection_labels(atoms.x, atoms.y, atoms.w, k, context.check_cancelled)
            centres = np.column_stack(weighted_centroids(atoms.x, atoms.y, atoms.w, labels, k))
            prices = np.zeros(k)
        labels, centres, prices = kmeans.run(centres, prices, rounds)
        if not (warm and tried) and rounds == full_rounds:
            cold.add(k)
        # The final balance holds every cluster near the mean weight, which atoms are too
        # coarse to show: score the mean, with radii measured on the atoms.
        used, compact = np.unique(labels, return_inverse=True)
        radius = np.median(atoms.circles(compact, len(used))[2])
        score = clustering_score(atoms.w.sum() / k, radius, params)
        tried[k] = (score, centres, prices, labels)
        return score

    if fixed_k is not None:
        values = [fixed_k]
    else:
        values = _trial_values(atoms.w.sum(), len(atoms), params, n_trials, trial_work, min_trials)
    trials = []
    if len(values) == 1:
        trials.append((values[0], solve(values[0])))
        on_trial(1, 1)
    else:
        # Trials chain their warm starts, so they run one after another: the same k order and
        # the same answer whatever n_jobs says.
        sampler = optuna.samplers.GridSampler({"n_clusters": values}, seed=params.random_state)
        study = optuna.create_study(sampler=sampler, direction="minimize")

        def objective(trial):
            context.check_cancelled()
            k = trial.suggest_categorical("n_clusters", values)
            score = solve(k)
            trials.append((k, score))
            on_trial(len(trials), len(values))
            return score

        study.optimize(objective, n_trials=len(values), n_jobs=1)
    ranked = sorted(tried, key=lambda k: (tried[k][0], k))

    def fresh_start(k):
        # A chain of warm starts drifts on clumpy data (clusters that cannot reach the band keep
        # odd centres): a finalist starts again from a fresh bisection, with every Lloyd round.
        if k not in cold:  # (a lone trial already did)
            solve(k, warm=False, rounds=full_rounds)
        return tried[k][1:3]

    return ranked, fresh_start, trials


def compact_split(group: Features, params: ClusteringParams, n_trials: int, context: RunContext, on_trial,
                  fixed_k=None) -> CompactSplit:
    """Split `group` into compact clusters of near-equal weight (exactly fixed_k if given)."""
    alone, hamlets, rest = _split_off(group, params, fixed_k)
    labels = np.full(len(group), -1, dtype=np.int64)
    split = CompactSplit(labels)
    next_label = 0
    if len(rest):
        body = group.subset(rest)
        k_rest = None if fixed_k is None else fixed_k - len(alone) - len(hamlets)
        wanted = k_rest if k_rest is not None else body.w.sum() / params.desired_cluster_weight
        regions = region_count(len(body), wanted)
        if regions > 1:
            body_labels, split.trials = _regioned_partition(body, regions, params, n_trials, context, on_trial,
                                                            k_rest)
        else:
            partition = power_partition(body, params, n_trials, context, on_trial, k_rest)
            body_labels, split.trials = partition.labels, partition.trials
        used, labels[rest] = np.unique(body_labels, return_inverse=True)
        next_label = len(used)
    for members in hamlets:
        labels[members] = next_label
        split.hamlet_labels.append(next_label)
        next_label += 1
    for index in alone:
        labels[index] = next_label
        split.alone_labels.append(next_label)
        next_label += 1
    return split


def _regioned_partition(body, regions, params, n_trials, context, on_trial, fixed_k):
    """power_partition on each of `regions` convex pieces of `body` (core.engine.regions); returns (labels, trials)."""
    def partition(region, k, _on_trial):
        # The regions share one study's budget of trial work: past it, one trial each.
        return power_partition(region, params, n_trials, context, _on_trial, k, TRIAL_WORK / regions, 1)

    return cluster_regions(body, cut_regions(body, regions, context), partition, params.n_jobs,
                           lambda done, total: on_trial(done, total, "region"), fixed_k)


def _stack_weights(body: Features) -> np.ndarray:
    """The total weight on each distinct position (a lexicographic sort: np.unique on rows is slower)."""
    order = np.lexsort((body.y, body.x))
    xs, ys = body.x[order], body.y[order]
    starts = np.flatnonzero(np.r_[True, (xs[1:] != xs[:-1]) | (ys[1:] != ys[:-1])])
    return np.add.reduceat(body.w[order], starts)


@dataclass
class PowerPartition:
    """Labels of a power diagram: each feature's argmin of |x − centre|² − price over all centres."""

    labels: np.ndarray  # 0..k-1; a centre may end up with no feature
    centres: np.ndarray
    prices: np.ndarray
    trials: list


def power_partition(body: Features, params, n_trials, context, on_trial, fixed_k=None,
                    trial_work=TRIAL_WORK, min_trials=MIN_TRIALS) -> PowerPartition:
    """Tune k on atoms, then refine the best k on the features of `body`."""
    n = len(body)
    points = np.column_stack([body.x, body.y])
    single = np.zeros(n, dtype=np.int64)
    if body.w.sum() <= 0 or (fixed_k is None and band_k_values(body.w.sum(), n, params, K_BAND) == [1]) \
            or fixed_k == 1:
        centre = np.array([[body.x.mean(), body.y.mean()]])
        trials = [(1, score_labels(body, single, params))] if body.w.sum() > 0 else []
        return PowerPartition(single, centre, np.zeros(1), trials)
    wanted = fixed_k if fixed_k is not None else body.w.sum() / params.desired_cluster_weight
    atom_of, atoms = make_atoms(body, ATOMS_PER_CLUSTER * wanted, context)
    ranked, fresh_start, trials = _tune(atoms, params, context, n_trials, on_trial, fixed_k,
                                        granularity(atoms.w), trial_work, min_trials)
    if ranked[0] <= 1:
        return PowerPartition(single, np.array([[body.x.mean(), body.y.mean()]]), np.zeros(1), trials)
    # Features on one spot have equal power distances and always share a cluster: a stack is one item.
    stacks = _stack_weights(body)
    kmeans = _PowerKMeans(points, body.w, params, context, fixed_k is not None, granularity(stacks))
    # Atoms rank k only roughly (the median radius moves tens of metres between neighbouring k):
    # the best few are finished on the features and scored exactly, when that is affordable.
    small = n <= FINALIST_FEATURES
    finalists, rounds = (FINALISTS, FEATURE_ROUNDS) if small else (1, 0)
    if ranked[0] > FEW_CLUSTERS:  # many clusters: the median radius hardly moves between neighbouring k
        finalists = 1
    band_low, band_high = band_edges(params)
    best = None
    for k in ranked[:finalists]:
        labels, centres, prices = kmeans.run(*fresh_start(k), rounds)
        # Weights in band come first, the score second.
        weights = np.bincount(labels, body.w, minlength=k)
        outside = int(np.sum((weights < band_low) | (weights > band_high))) if fixed_k is None else 0
        score = score_labels(body, labels, params) if finalists > 1 else 0.0
        if best is None or (outside, score, k) < best[0]:
            best = ((outside, score, k), labels, centres, prices)
    return PowerPartition(best[1], best[2], best[3], trials)
