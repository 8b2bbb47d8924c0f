"""Power diagrams with weight-balancing prices: the assignment step of the compact strategy.

Each feature goes to the centre j with the smallest power distance |x − c_j|² − p_j.
A cluster's price p_j rises when it is too light and falls when it is too heavy, so
cells grow or shrink while staying convex and never overlapping.

Exact assignment over ALL centres uses the lifting trick: with P = max p, the centre j
becomes the 3-D point (c_j, sqrt(P − p_j)) and a feature (x, 0); their squared distance
is |x − c_j|² − p_j + P, so the nearest lifted centre (one cKDTree query) is the power
argmin over every centre, not over a shortlist.

Balancing touches only the boundary. After an exact pass, a feature whose best and
second-best power distances differ by more than twice the total price movement since
then provably keeps its label; only the others ("active" features, with a shortlist
of their L best centres) are re-assigned each iteration. When the accumulated movement
uses up the margin, another exact pass starts the next round.

The exact passes of one balance share each feature's list of best centres (PowerNeighbours):
a list stays provably exact until the prices of centres off it have risen by its margin, and
only features past that are queried over all centres again. Equal power distances go to the
lower centre number, however the candidates were found.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
from scipy.spatial import cKDTree

SHORTLIST = 8  # candidate centres per active feature
PATIENCE = 100  # iterations without fewer clusters outside the bounds before an exact balance stops
TRIAL_PATIENCE = 30  # the same for the quick balances that score tuning trials
ACTIVE_SHARE = 0.2  # at least this share of features is re-assigned between exact passes
STEP_GROWTH, STEP_SHRINK = 1.3, 0.5  # Rprop: grow while the sign holds, halve when it flips
FIRST_STEP, MAX_STEP = 0.005, 0.05  # price steps, in squared median spacing between centres
SETTLE = 0.25  # inside the bounds, a cluster keeps being nudged until within this share of the half-width
DENSE_CELLS = 300_000  # up to this many feature x centre pairs, every iteration checks all centres
_QUERY_CHUNK = 200_000  # features per exact query: bounds the (chunk x neighbours) arrays
_LIST_CHUNK = 20_000  # features per pass over the kept lists: bounds the (chunk x candidates) arrays
WIDTH = SHORTLIST + 4  # centres kept per feature between exact passes (PowerNeighbours)
RISERS = 16  # the centres whose prices rose most are checked against every feature
LIST_CENTRES = 1000  # from this many centres on, lists pay (grids' 79: 30 % more CPU than the tree alone)
MAX_EPOCHS = 64  # passes whose prices the lists may come from; past that, every list is queried afresh


def power_nearest(points: np.ndarray, centres: np.ndarray, prices: np.ndarray, neighbours: int = 2):
    """Each point's `neighbours` best centres by power distance, over all centres.

    Returns (index, cost), both (n, neighbours), best first; cost = |x − c|² − p.
    """
    neighbours = min(neighbours, len(centres))
    top = float(prices.max())
    lifted = np.column_stack([centres, np.sqrt(np.maximum(top - prices, 0.0))])
    tree = cKDTree(lifted)
    index = np.empty((len(points), neighbours), dtype=np.int64)
    cost = np.empty((len(points), neighbours))
    for start in range(0, len(points), _QUERY_CHUNK):
        chunk = points[start:start + _QUERY_CHUNK]
        query = np.column_stack([chunk, np.zeros(len(chunk))])
        distance, found = tree.query(query, k=neighbours)
        found = found.reshape(len(chunk), neighbours)
        index[start:start + len(chunk)] = found
        # Recompute from the planar distance: exact, and free of the lift's rounding.
        d2 = ((chunk[:, None, :] - centres[found]) ** 2).sum(axis=2)
        cost[start:start + len(chunk)] = d2 - prices[found]
    return _cheapest(index, cost, neighbours)


def _cheapest(index, cost, count):
    """The `count` cheapest of each row's candidates, best first; equal costs go to the lower centre number,
    so the answer does not depend on how the candidates were found."""
    top_index, top_cost = index, cost
    if count < cost.shape[1]:  # the count + 1 cheapest, unordered: only those are sorted
        part = np.argpartition(cost, count, axis=1)[:, :count + 1]
        top_index, top_cost = np.take_along_axis(index, part, axis=1), np.take_along_axis(cost, part, axis=1)
    order = np.argsort(top_cost, axis=1, kind="stable")
    top_index, top_cost = np.take_along_axis(top_index, order, axis=1), np.take_along_axis(top_cost, order, axis=1)
    tied = np.flatnonzero((top_cost[:, 1:] == top_cost[:, :-1]).any(axis=1))
    if len(tied):  # rare: equal costs, maybe beyond the cut too; those rows sorted in full by (cost, centre)
        order = np.lexsort((index[tied], cost[tied]), axis=1)[:, :count]
        top_index[tied, :count] = np.take_along_axis(index[tied], order, axis=1)
        top_cost[tied, :count] = np.take_along_axis(cost[tied], order, axis=1)
    return top_index[:, :count], top_cost[:, :count]


class PowerNeighbours:
    """Exact power nearest centres for fixed centres and moving prices, from lists kept between passes.

    Each feature keeps its WIDTH best centres, queried over all centres (power_nearest) at the
    prices q of some earlier pass. Any other centre j cost at least the list's last entry then,
    and has become cheaper since by p_j − q_j. The RISERS centres whose prices rose most are
    costed for every feature; tau bounds p_j − q_j over all the others. A feature whose count-th
    best (over its list and the risers) costs less than last − tau has those as its exact best;
    the others are queried over all centres again. So a pass costs a few operations per feature
    instead of a tree query over every centre.
    """

    def __init__(self, points: np.ndarray, centres: np.ndarray):
        self.points, self.centres = points, centres
        self.width = min(WIDTH, len(centres))
        self.queried_at = []  # the prices of each pass that queried some lists
        self.epoch = self.index = self.d2 = self.last = None  # per feature: kept when first needed

    def nearest(self, prices: np.ndarray, count: int):
        """power_nearest(points, centres, prices, count), from the kept lists."""
        n, k = len(self.points), len(self.centres)
        if k < LIST_CENTRES:  # few centres: the tree query is cheaper than checking lists
            return power_nearest(self.points, self.centres, prices, count)
        count = min(count, self.width)
        if not self.queried_at or len(self.queried_at) > MAX_EPOCHS:  # afresh: one tree query for every list
            self.queried_at = []
            if self.index is None:
                self.epoch, self.last = np.zeros(n, dtype=np.int16), np.empty(n)
                self.index, self.d2 = np.empty((n, self.width), dtype=np.int32), np.empty((n, self.width))
            self._query(np.arange(n), prices)
        rises = np.array([prices - q for q in self.queried_at])
        risers = (np.argsort(-rises.max(axis=0), kind="stable")[:RISERS] if k > self.width
                  else np.zeros(0, dtype=np.int64))
        if k > len(risers):
            rises[:, risers] = -np.inf
            tau = rises.max(axis=1)
        else:
            tau = np.full(len(rises), -np.inf)
        index, cost = np.empty((n, count), dtype=np.int64), np.empty((n, count))
        for start in range(0, n, _LIST_CHUNK):
            rows = slice(start, min(start + _LIST_CHUNK, n))
            index[rows], cost[rows] = self._best(rows, prices, risers, count)
        stale = np.flatnonzero(~(cost[:, -1] < self.last - tau[self.epoch]))
        if len(stale):
            self._query(stale, prices)
            index[stale] = self.index[stale, :count]
            cost[stale] = self.d2[stale, :count] - prices[index[stale]]
        return index, cost

    def _best(self, rows, prices, risers, count):
        """Each row's `count` best over its list and the risers, at `prices` (a riser on the list counts once)."""
        index = self.index[rows]
        cost = self.d2[rows] - prices[index]
        best_index, best_cost = _cheapest(index, cost, count)
        if not len(risers):
            return best_index, best_cost
        x, y = self.points[rows, 0], self.points[rows, 1]
        riser_cost = (x[:, None] - self.centres[risers, 0]) ** 2
        riser_cost += (y[:, None] - self.centres[risers, 1]) ** 2
        riser_cost -= prices[risers]
        # Only where a riser is as cheap as the list's count-th best can the answer change (a riser that is
        # on the list and among its best counts there too).
        beaten = np.flatnonzero(riser_cost.min(axis=1) <= best_cost[:, -1])
        if len(beaten):
            merged_index = np.hstack([index[beaten], np.broadcast_to(risers, (len(beaten), len(risers)))])
            merged_cost = np.hstack([cost[beaten], riser_cost[beaten]])
            on_list = (index[beaten][:, :, None] == risers[None, None, :]).any(axis=1)
            merged_cost[:, index.shape[1]:][on_list] = np.inf  # never the same centre twice
            best_index[beaten], best_cost[beaten] = _cheapest(merged_index, merged_cost, count)
        return best_index, best_cost

    def _query(self, rows, prices):
        for start in range(0, len(rows), _LIST_CHUNK):  # (chunk x width x 2) arrays, not (n x width x 2)
            part = rows[start:start + _LIST_CHUNK]
            points = self.points[part]
            index, cost = power_nearest(points, self.centres, prices, self.width)
            # The squared distances as power_nearest computes them: list costs come out bit for bit the same.
            self.index[part], self.d2[part] = index, ((points[:, None, :] - self.centres[index]) ** 2).sum(axis=2)
            self.last[part] = cost[:, -1] if len(self.centres) > self.width else np.inf
        self.epoch[rows] = len(self.queried_at)
        self.queried_at.append(prices.copy())


class _Rprop:
    """Sign-based price steps: each grows while its sign holds and halves when it flips."""

    def __init__(self, steps, largest, mean, low, high, grow_inside=True):
        self.steps = steps
        self.largest = largest
        self.grow_inside = grow_inside
        self.previous = np.zeros(len(steps))
        self.mean, self.low, self.high = mean, low, high
        self.settle = SETTLE * 0.5 * (high - low)

    def done(self, weight) -> bool:
        return weight.min() >= self.low and weight.max() <= self.high

    def outside(self, weight) -> int:
        return int(((weight < self.low) | (weight > self.high)).sum())

    def update(self, prices, weight) -> float:
        """Move prices in place for these cluster weights: up when light, down when heavy.

        Prices only matter relative to each other: they stay centred. Returns the spread of
        the changes (largest rise + largest fall), which bounds how much any feature's
        preference between two centres can have moved.
        """
        change = self._move(weight)
        change -= (prices + change).mean()
        prices += change
        return float(change.max() - change.min())

    def _move(self, weight):
        sign = np.sign(self.mean - weight) * (np.abs(self.mean - weight) > self.settle)
        outside = (weight < self.low) | (weight > self.high)
        sign = np.where(weight < self.low, 1.0, np.where(weight > self.high, -1.0, sign))
        same = sign * self.previous
        # Only clusters outside the bounds speed up: neighbours inside them that sped up the same
        # way would move their prices in step and leave the outsider stuck.
        grow = (same > 0) & (outside | self.grow_inside)
        self.steps = np.where(grow, np.minimum(self.steps * STEP_GROWTH, self.largest),
                              np.where(same < 0, self.steps * STEP_SHRINK, self.steps))
        self.previous = sign
        return sign * self.steps


class _Stall:
    """Notices when the count of clusters outside the bounds stops falling: the ones left
    cannot reach the band (a pocket too light or too heavy for its cells), so stop there."""

    def __init__(self, patience):
        self.patience = patience
        self.fewest, self.since = None, 0

    def record(self, iteration, outside):
        if self.fewest is None or outside < self.fewest:
            self.fewest, self.since = outside, iteration

    def stuck(self, iteration) -> bool:
        return self.fewest is not None and iteration - self.since > self.patience


class PowerBalancer:
    """Prices that keep every cluster's weight within [low, high], for fixed centres.

    Holds the price steps between calls, so Lloyd rounds and neighbouring k warm-start.
    """

    def __init__(self, points: np.ndarray, weights: np.ndarray, should_stop: Optional[Callable[[], None]] = None):
        self.points = points
        self.w = weights
        self.should_stop = should_stop
        self.steps = None
        self.exact_passes = 0
        self.neighbours = None  # the last exact balance's kept lists (PowerNeighbours)

    def balance(self, centres: np.ndarray, prices: np.ndarray, low: float, high: float, max_iterations: int,
                exact: bool = True):
        """Adjust prices until every cluster weighs within [low, high] (or iterations run out).

        Returns (labels, prices, converged). With `exact`, labels are the power assignment of
        the returned prices over all centres; without, each feature only looks at its
        SHORTLIST nearest centres (a quick approximation for scoring trials).
        """
        k = len(centres)
        # Growing steps cross a sparse region fast; the cap stops one cell swallowing its neighbours.
        nearest = cKDTree(centres).query(centres, k=2)[0][:, 1] if k > 1 else np.ones(1)
        square = np.median(nearest) ** 2 + 1e-9
        if self.steps is None or len(self.steps) != k:
            self.steps = np.full(k, FIRST_STEP * square)
        rprop = _Rprop(np.minimum(self.steps, MAX_STEP * square), MAX_STEP * square, self.w.sum() / k, low, high,
                       grow_inside=not exact)
        prices = prices.astype(float).copy()
        self.neighbours = None  # (lists for other centres: never used again)
        patience = PATIENCE if exact else TRIAL_PATIENCE
        if len(self.points) * k <= DENSE_CELLS:
            labels, converged = self._dense(centres, prices, rprop, max_iterations, patience)
        elif not exact:
            labels, converged = self._shortlist(centres, prices, rprop, max_iterations, patience)
        else:
            labels, converged = self._boundary(centres, prices, rprop, max_iterations)
        self.steps = rprop.steps
        return labels, prices, converged

    def kept_neighbours(self, centres):
        """The last exact balance's kept lists if they belong to these centres (else None)."""
        return self.neighbours if self.neighbours is not None and self.neighbours.centres is centres else None

    def _poll(self, iteration):
        if self.should_stop is not None and iteration % 16 == 0:
            self.should_stop()

    def _dense(self, centres, prices, rprop, max_iterations, patience):
        """Small problems: every feature against every centre, every iteration."""
        k = len(centres)
        d2 = ((self.points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        return self._rprop_loop(lambda: np.argmin(d2 - prices, axis=1), k, prices, rprop, max_iterations, patience)

    def _shortlist(self, centres, prices, rprop, max_iterations, patience):
        """Each feature picks among its nearest centres only: cheap, not exact."""
        k = len(centres)
        _, candidates = cKDTree(centres).query(self.points, k=min(SHORTLIST, k))
        d2 = ((self.points[:, None, :] - centres[candidates]) ** 2).sum(axis=2)
        rows = np.arange(len(self.points))
        return self._rprop_loop(lambda: candidates[rows, np.argmin(d2 - prices[candidates], axis=1)], k, prices,
                                rprop, max_iterations, patience)

    def _rprop_loop(self, assign, k, prices, rprop, max_iterations, patience):
        """Price steps (prices change in place) around assign() until every cluster is in band,
        the iterations run out, or the count of clusters off the band stops falling."""
        stall = _Stall(patience)
        for iteration in range(max_iterations + 1):
            self._poll(iteration)
            labels = assign()
            weight = np.bincount(labels, self.w, minlength=k)
            if rprop.done(weight):
                return labels, True
            stall.record(iteration, rprop.outside(weight))
            if iteration == max_iterations or stall.stuck(iteration):
                return labels, False
            rprop.update(prices, weight)

    def _boundary(self, centres, prices, rprop, max_iterations):
        """Large problems: exact passes, and between them only the features near a boundary.

        Between exact passes an active feature picks among its shortlist; the next exact
        pass checks every shortlist against all centres, and only an exact pass may end
        the balance, so the labels returned are always exact.
        """
        k = len(centres)
        iteration = 0
        stall = _Stall(PATIENCE)
        neighbours = self.neighbours = PowerNeighbours(self.points, centres)
        while True:
            self.exact_passes += 1
            self._poll(0)
            # Every feature's shortlist at once: its first two columns are the best two.
            listed_index, listed_cost = neighbours.nearest(prices, SHORTLIST)
            labels = listed_index[:, 0].copy()
            weight = np.bincount(labels, self.w, minlength=k)
            if rprop.done(weight) or iteration >= max_iterations or stall.stuck(iteration):
                return labels, rprop.done(weight)
            # Features whose best and second-best centres are far apart in power cannot
            # change label until the prices' relative moves add up to that gap: leave them out.
            gap = listed_cost[:, 1] - listed_cost[:, 0] if k > 1 else np.full(len(labels), np.inf)
            threshold = max(float(np.quantile(gap, ACTIVE_SHARE)), 40.0 * float(rprop.steps.max()))
            active = np.flatnonzero(gap <= threshold)
            base = weight - np.bincount(labels[active], self.w[active], minlength=k)
            short_index, short_cost = listed_index[active], listed_cost[active]
            del listed_index, listed_cost  # (n x SHORTLIST each: not kept through the round)
            d2 = short_cost + prices[short_index]
            rows = np.arange(len(active))
            active_w = self.w[active]
            drift = 0.0
            while (not rprop.done(weight) and iteration < max_iterations and drift < threshold
                   and not stall.stuck(iteration)):
                iteration += 1
                stall.record(iteration, rprop.outside(weight))
                drift += rprop.update(prices, weight)
                best = short_index[rows, np.argmin(d2 - prices[short_index], axis=1)]
                weight = base + np.bincount(best, active_w, minlength=k)
