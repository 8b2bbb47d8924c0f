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


def band_excess(weight, low, high) -> float:
    """Total weight by which clusters sit outside [low, high]."""
    return float(np.maximum(low - weight, 0).sum() + np.maximum(weight - high, 0).sum())


def _cell_graph(cost, index, k, nudge):
    """Sparse k x k matrix: entry (j, i) = cheapest rise of moving a feature of j to i, + nudge."""
    labels = index[:, 0]
    rise = cost[:, 1:] - cost[:, :1]
    source = np.repeat(labels, index.shape[1] - 1)
    target = index[:, 1:].ravel()
    rise = rise.ravel()
    keep = source != target
    source, target, rise = source[keep], target[keep], rise[keep]
    order = np.lexsort((rise, target, source))
    key = source[order] * k + target[order]
    first = order[np.r_[True, key[1:] != key[:-1]]]
    return csr_matrix((np.maximum(rise[first], 0.0) + 1e-3 * nudge, (source[first], target[first])), shape=(k, k))


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


def finish_band(points, w, centres, prices, labels, low, high, max_moves=200):
    """Prices whose power diagram has no more weight outside [low, high] than `prices` had.

    `labels` are the power assignment of `prices`. Returns (labels, prices): labels are the
    power argmin over all centres of the returned prices.
    """
    k = len(centres)
    if k < 2 or band_excess(np.bincount(labels, w, minlength=k), low, high) == 0:
        return labels, prices
    prices = prices.astype(float).copy()
    index, cost = power_nearest(points, centres, prices, min(NEIGHBOURS, k))
    weight = np.bincount(index[:, 0], w, minlength=k)
    excess = band_excess(weight, low, high)
    spacing = np.median(cKDTree(centres).query(centres, k=2)[0][:, 1])
    nudge = NUDGE * (spacing ** 2 + np.abs(prices).max())
    typical = float(np.median(w))
    failed = set()
    for _ in range(max_moves):
        off = [(cell, excess_of) for cell, excess_of in
               enumerate(np.maximum(low - weight, 0) + np.maximum(weight - high, 0)) if excess_of > 0 and cell not in failed]
        if not off:
            break
        cell = max(off, key=lambda item: (item[1], -item[0]))[0]
        graph = _cell_graph(cost, index, k, nudge)
        trial = prices.copy()
        if weight[cell] < low:  # take a feature: from a cell that can spare one, along the cheapest chain
            distance, predecessor = dijkstra(graph.T.tocsr(), indices=cell, return_predecessors=True)
            donors = np.flatnonzero((weight - typical >= low) & np.isfinite(distance))
            donors = donors[donors != cell]
            if not len(donors):
                failed.add(cell)
                continue
            trial += _price_shift(distance, predecessor, donors[np.argmin(distance[donors])], nudge)
        else:  # give a feature away: to a cell that can take one
            distance, predecessor = dijkstra(graph, indices=cell, return_predecessors=True)
            takers = np.flatnonzero((weight + typical <= high) & np.isfinite(distance))
            takers = takers[takers != cell]
            if not len(takers):
                failed.add(cell)
                continue
            trial -= _price_shift(distance, predecessor, takers[np.argmin(distance[takers])], nudge)
        new_index, new_cost = power_nearest(points, centres, trial, min(NEIGHBOURS, k))
        new_weight = np.bincount(new_index[:, 0], w, minlength=k)
        new_excess = band_excess(new_weight, low, high)
        if new_excess < excess:
            prices, index, cost, weight, excess = trial, new_index, new_cost, new_weight, new_excess
            failed.clear()
        else:
            failed.add(cell)
    return index[:, 0], prices
