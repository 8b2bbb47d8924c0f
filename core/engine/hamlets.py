"""Remote hamlets: light groups of features too far from everything else to join a cluster.

Such a group cannot reach the weight band on its own, and joining it to a neighbour would
stretch that cluster across the gap; the compact strategy keeps it as its own cluster
and reports it (or merges it when a minimum weight asks for that).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

_NEIGHBOURS = 4  # nearest neighbours linking spots into candidate groups (then checked exactly)
_CELLS_PER_GAP = 3  # screening grid: cells this many to the gap, so a 3 x 3 block spans less than the gap


def remote_hamlets(x, y, w, gap: float, light_below: float):
    """Groups of features lighter than `light_below` with no other feature within `gap`.

    A screening grid first rules out most features (all of them in a country's
    population raster): the search then runs on the few that might be remote, and on
    whatever lies within the gap of them.
    """
    key = _cell_keys(x, y, gap / _CELLS_PER_GAP)
    possible = _possibly_remote(key, w, light_below)
    if not possible.any():
        return []
    local = np.flatnonzero(_within_cells(key, np.unique(key[possible]), _CELLS_PER_GAP))
    groups = _isolated_light_groups(x[local], y[local], w[local], ~possible[local], gap, light_below,
                                    whole=len(local) == len(x))
    return [local[group] for group in groups]


_ROW = 1 << 31  # a cell's key: column * _ROW + row, both from 0 (rows never reach 2**31)


def _cell_keys(x, y, size):
    """Each feature's cell in a grid of `size` squares, as one integer (one array: millions of features)."""
    key = np.floor((x - x.min()) / size).astype(np.int64) * _ROW
    key += np.floor((y - y.min()) / size).astype(np.int64)
    return key


def _within_cells(key, centres, reach):
    """Mask of features whose cell is within `reach` cells (either way, both axes) of a cell in `centres`."""
    steps = np.arange(-reach, reach + 1)
    offsets = (steps[:, None] * _ROW + steps[None, :]).ravel()
    return np.isin(key, np.unique((centres[:, None] + offsets[None, :]).ravel()))


def _possibly_remote(key, w, light_below):
    """Mask of features that might be in a remote hamlet.

    The screening cells are a third of the gap, so any two features in one 3 x 3 block of
    them are within the gap of each other: a feature whose block weighs `light_below` or
    more is linked to that much weight, and its group can never be light.
    """
    keys, cell_of = np.unique(key, return_inverse=True)
    cell_of = cell_of.ravel()
    cell_weight = np.bincount(cell_of, w, minlength=len(keys))
    block = np.zeros(len(keys))
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            neighbour = keys + dx * _ROW + dy
            at = np.minimum(np.searchsorted(keys, neighbour), len(keys) - 1)
            block += np.where(keys[at] == neighbour, cell_weight[at], 0.0)
    return (block < light_below)[cell_of]


def _isolated_light_groups(x, y, w, heavy, gap: float, light_below: float, whole: bool):
    """The exact search: groups lighter than `light_below` with no other feature within `gap`.

    `heavy` features never belong to a light group (the screening showed their surroundings
    weigh more). Links to each spot's nearest neighbours within gap give candidate groups
    (spots: distinct positions, so stacked features count once). Each light candidate is
    then checked exactly: its size + 1 nearest spots include the nearest outsider. When
    these features are the `whole` input, one group of all of them is not remote.
    """
    spots, spot_of = np.unique(np.column_stack([x, y]), axis=0, return_inverse=True)
    spot_of = spot_of.ravel()
    m = len(spots)
    if m < 2:
        return []
    tree = cKDTree(spots)
    distance, neighbour = tree.query(spots, k=min(_NEIGHBOURS + 1, m), distance_upper_bound=gap)
    linked = np.isfinite(distance)
    rows = np.repeat(np.arange(m), distance.shape[1])[linked.ravel()]
    count, component = connected_components(coo_matrix((np.ones(len(rows)), (rows, neighbour[linked])),
                                                       shape=(m, m)), directed=False)
    if count == 1 and whole:
        return []
    weight = np.bincount(component[spot_of], np.where(heavy, math.inf, w), minlength=count)
    order = np.argsort(component, kind="stable")
    bounds = np.searchsorted(component[order], np.arange(count + 1))
    remote = []
    for c in np.flatnonzero(weight < light_below):
        members = order[bounds[c]:bounds[c + 1]]
        if len(members) == m and whole:
            continue
        nearest = tree.query(spots[members], k=len(members) + 1, distance_upper_bound=gap)[1]
        found = nearest[nearest < m]
        if np.all(component[found] == c):
            remote.append(c)
    if not remote:
        return []
    hamlet_of_spot = np.full(count, -1)
    hamlet_of_spot[remote] = np.arange(len(remote))
    hamlet_of = hamlet_of_spot[component[spot_of]]
    inside = np.flatnonzero(hamlet_of >= 0)
    groups = np.argsort(hamlet_of[inside], kind="stable")
    return np.split(inside[groups], np.cumsum(np.bincount(hamlet_of[inside], minlength=len(remote)))[:-1])
