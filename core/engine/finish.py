"""Closing the band after the price balance: moves along the cheapest chains of neighbouring cells.

The Rprop balance can stall a feature or two short of the bounds in a dense village: every
neighbour is itself at an edge, so no single price step helps. The fix is a chain: the light
cell takes one boundary feature from a neighbour, which takes one from its neighbour, ...
until a cell that can spare one. This is one augmenting path of a min-cost flow.

It is done by price moves only, so the result stays a true power diagram. In the cell graph
an edge j -> i costs the smallest rise in power distance of moving one feature of j to i
(its reduced cost, >= 0 in a power diagram) plus a tiny `nudge`. Dijkstra from the light cell
over reversed edges gives distances D; raising the price of every cell closer than the chosen
donor by (D_donor − D_j) makes each edge of the path cost −nudge (its feature changes cell)
and keeps every other reduced cost >= −nudge, i.e. nothing else moves but exact ties. A heavy
cell is the mirror image: Dijkstra forward, prices lowered. After each move the labels are
recomputed over ALL centres; a move is kept only if it lowers the total distance to the bounds.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from .power import power_nearest

NEIGHBOURS = 6  # candidate cells per feature for the edges of the cell graph
NUDGE = 1e-7  # past the tie, in squared median spacing between centres
GIVE_UP = 3  # a move that would push other features around (cells too far apart for the graph) is undone
MAX_MOVED = 16  # centres with moved prices after which every feature's candidates are queried again


def band_excess(weight, low, high) -> float:
    """Total weight by which clusters sit outside [low, high]."""
    return float(np.maximum(low - weight, 0).sum() + np.maximum(weight - high, 0).sum())


def _own_cost(labels, index, cost):
    return cost[np.arange(len(labels)), np.argmax(index == labels[:, None], axis=1)]


def _edges_into(cell, points, centres, prices, labels, own):
    """Every feature's rise for moving to `cell`: an isolated cell is in few candidate lists."""
    rise = ((points - centres[cell]) ** 2).sum(axis=1) - prices[cell] - own
    return labels, np.full(len(labels), cell), rise


def _cell_graph(labels, index, cost, k, tie, extra=None):
    """Sparse k x k matrix: entry (j, i) = cheapest rise of moving a feature of j to i (+ `tie`, so no edge is 0).

    `extra`: more (source, target, rise) triples."""
    own = _own_cost(labels, index, cost)
    source = np.repeat(labels, index.shape[1])
    target = index.ravel()
    rise = (cost - own[:, None]).ravel()
    if extra is not None:
        source, target, rise = (np.concatenate([a, b]) for a, b in zip((source, target, rise), extra))
    keep = source != target
    source, target, rise = source[keep], target[keep], rise[keep]
    key = source * k + target
    order = np.argsort(key)  # any order within a key: only its minimum is kept
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    cheapest = np.minimum.reduceat(rise[order], starts)
    source, target = key[starts] // k, key[starts] % k
    return csr_matrix((np.maximum(cheapest, 0.0) + tie, (source, target)), shape=(k, k))


class _Candidates:
    """Each feature's NEIGHBOURS best centres at reference prices, plus every centre moved since.

    A centre whose price has not moved and that is not in a feature's list costs at least the
    list's last entry at the reference prices; a feature whose best now costs more than that is
    queried again over all centres. So the assignment stays exact over all centres.
    """

    def __init__(self, points, centres, prices, neighbours=None):
        self.points, self.centres, self.neighbours = points, centres, neighbours
        self.rebase(prices)

    def rebase(self, prices):
        """Query every feature afresh at these prices (from the balance's kept lists when given)."""
        self.reference = prices.copy()
        count = min(NEIGHBOURS, len(self.centres))
        self.index, cost = (self.neighbours.nearest(prices, count) if self.neighbours is not None
                            else power_nearest(self.points, self.centres, prices, count))
        self.d2 = cost + prices[self.index]
        self.last = cost[:, -1]

    def moved(self, prices):
        return np.flatnonzero(prices != self.reference)

    def assign(self, prices):
        """(labels, index, cost): the power assignment of `prices`, and every feature's candidates' costs."""
        moved = self.moved(prices)
        n = len(self.points)
        index = np.hstack([self.index, np.broadcast_to(moved, (n, len(moved)))])
        cost = np.empty(index.shape)
        cost[:, :self.index.shape[1]] = self.d2 - prices[self.index]
        for column, cell in enumerate(moved, start=self.index.shape[1]):
            cost[:, column] = ((self.points - self.centres[cell]) ** 2).sum(axis=1) - prices[cell]
        rows = np.arange(n)
        best = np.argmin(cost, axis=1)
        stale = np.flatnonzero(cost[rows, best] > self.last)
        if len(stale):  # an unmoved centre off the list might now be nearer: ask all centres
            found, found_cost = power_nearest(self.points[stale], self.centres, prices, self.index.shape[1])
            width = found.shape[1]
            index[stale, :width], cost[stale, :width] = found, found_cost
            best[stale] = 0
        if index.shape[1] > NEIGHBOURS:  # the graph needs only each feature's best few
            keep = np.argpartition(cost, NEIGHBOURS - 1, axis=1)[:, :NEIGHBOURS]
            keep[stale] = np.arange(NEIGHBOURS)  # their exact best few sit first
            best_label = index[rows, best]
            index, cost = np.take_along_axis(index, keep, axis=1), np.take_along_axis(cost, keep, axis=1)
            return best_label, index, cost
        return index[rows, best], index, cost


def _price_shift(distance, predecessor, chosen, nudge):
    """How much each cell's price moves so that exactly the features on the path to `chosen` change cell.

    Cells closer than `chosen` move by (D_chosen − D): every edge of the shortest-path tree
    becomes a tie. A tie is then broken by `nudge` per step: along the path towards the far end,
    so each path feature changes cell; off the path away from it, so no other feature does.
    """
    reach = distance[chosen]
    closer = np.flatnonzero(distance < reach)
    shift = np.zeros(len(distance))
    shift[closer] = reach - distance[closer]
    path = [chosen]
    while predecessor[path[-1]] >= 0:
        path.append(predecessor[path[-1]])
    extra = np.full(len(distance), np.nan)
    extra[path] = nudge * np.arange(len(path))  # 0 at `chosen`, growing back to the root
    for cell in closer[np.argsort(distance[closer], kind="stable")]:
        if np.isnan(extra[cell]):
            extra[cell] = extra[predecessor[cell]] + nudge
    shift[closer] += extra[closer]
    return shift


def finish_band(points, w, centres, prices, labels, low, high, max_moves=200, neighbours=None):
    """Prices whose power diagram has no more weight outside [low, high] than `prices` had.

    `labels` are the power assignment of `prices`. Returns (labels, prices): labels are the
    power argmin over all centres of the returned prices. `neighbours`: the balance's
    PowerNeighbours for these points and centres, which answer the exact queries for less.
    """
    k = len(centres)
    if k < 2 or band_excess(np.bincount(labels, w, minlength=k), low, high) == 0:
        return labels, prices
    prices = prices.astype(float).copy()
    candidates = _Candidates(points, centres, prices, neighbours)
    labels, index, cost = candidates.assign(prices)
    weight = np.bincount(labels, w, minlength=k)
    excess = band_excess(weight, low, high)
    spacing = np.median(cKDTree(centres).query(centres, k=2)[0][:, 1])
    nudge = NUDGE * (spacing ** 2 + np.abs(prices).max())
    typical = float(np.median(w))
    failures = np.zeros(k, dtype=np.int64)  # moves tried and undone, per cell: a cell is given up after a few
    graph = None
    for _ in range(max_moves):
        off = [(cell, excess_of) for cell, excess_of in
               enumerate(np.maximum(low - weight, 0) + np.maximum(weight - high, 0)) if excess_of > 0 and failures[cell] < GIVE_UP]
        if not off:
            break
        cell = max(off, key=lambda item: (item[1], -item[0]))[0]
        if graph is None:  # rebuilt only after a move is kept
            graph = _cell_graph(labels, index, cost, k, 1e-3 * nudge)
        trial = prices.copy()
        if weight[cell] < low:  # take a feature: from a cell that can spare one, along the cheapest chain
            into = _edges_into(cell, points, centres, prices, labels, _own_cost(labels, index, cost))
            reverse = _cell_graph(labels, index, cost, k, 1e-3 * nudge, into).T.tocsr()
            distance, predecessor = dijkstra(reverse, indices=cell, return_predecessors=True)
            donors = np.flatnonzero((weight - typical >= low) & np.isfinite(distance))
            donors = donors[donors != cell]
            if not len(donors):
                failures[cell] = GIVE_UP
                continue
            trial += _price_shift(distance, predecessor, donors[np.argmin(distance[donors])], nudge)
        else:  # give a feature away: to a cell that can take one
            distance, predecessor = dijkstra(graph, indices=cell, return_predecessors=True)
            takers = np.flatnonzero((weight + typical <= high) & np.isfinite(distance))
            takers = takers[takers != cell]
            if not len(takers):
                failures[cell] = GIVE_UP
                continue
            trial -= _price_shift(distance, predecessor, takers[np.argmin(distance[takers])], nudge)
        new_labels, new_index, new_cost = candidates.assign(trial)
        new_weight = np.bincount(new_labels, w, minlength=k)
        new_excess = band_excess(new_weight, low, high)
        if new_excess < excess:
            prices, labels, index, cost, weight, excess = trial, new_labels, new_index, new_cost, new_weight, new_excess
            graph = None
            if len(candidates.moved(prices)) > MAX_MOVED:  # every moved centre costs a pass over the features
                candidates.rebase(prices)
        else:
            failures[cell] += 1
    return labels, prices
