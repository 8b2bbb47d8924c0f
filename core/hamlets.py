"""Remote hamlets: light groups of features too far from everything else to join a cluster.

Such a group cannot reach the weight band on its own, and joining it to a neighbour would
stretch that cluster across the gap; the compact strategy keeps it as its own cluster
and reports it (or merges it when a minimum weight asks for that).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

_NEIGHBOURS = 4  # nearest neighbours linking spots into candidate groups (then checked exactly)


def remote_hamlets(x, y, w, gap: float, light_below: float):
    """Groups of features lighter than `light_below` with no other feature within `gap`.

    Links to each spot's nearest neighbours within gap give candidate groups (spots:
    distinct positions, so stacked features count once). Each light candidate is then
    checked exactly: its size + 1 nearest spots include the nearest outsider.
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
    if count == 1:
        return []
    weight = np.bincount(component[spot_of], w, minlength=count)
    order = np.argsort(component, kind="stable")
    bounds = np.searchsorted(component[order], np.arange(count + 1))
    remote = []
    for c in np.flatnonzero(weight < light_below):
        members = order[bounds[c]:bounds[c + 1]]
        if len(members) == m:
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
