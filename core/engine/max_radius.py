"""The hard maximum cluster radius: split every cluster wider than the cap until none is.

Like PostGIS `ST_ClusterKMeans(geom, k, max_radius)`, the cap is a promise: a cluster
whose radius (minimum bounding circle, footprints included) exceeds it is cut in two
across its weighted principal axis, into halves of equal weight, and each half that is
still too wide is cut again. Only a single feature wider than the cap on its own cannot
be split; its cluster ID is reported.
"""

from __future__ import annotations

import numpy as np

from .data import Features, RunContext
from .partition import bisection_labels
from .result import factorize_ids, name_pieces


def _pieces_within(features: Features, members: np.ndarray, cap: float, context: RunContext):
    """Split members into pieces of radius <= cap (a lone feature may stay wider); level by level."""
    done, pending = [], [members]
    while pending:
        context.check_cancelled()
        labels = np.repeat(np.arange(len(pending)), [len(p) for p in pending])
        group = features.subset(np.concatenate(pending))
        radii = group.outer_circles(labels, len(pending))[2]
        still_wide = []
        for piece, radius in zip(pending, radii):
            if radius <= cap or len(piece) == 1:
                done.append(piece)
                continue
            halves = bisection_labels(features.x[piece], features.y[piece], features.w[piece], 2)
            still_wide += [piece[halves == 0], piece[halves == 1]]
        pending = still_wide
    # Number the pieces along the cluster (bisection order is spatially coherent).
    done.sort(key=lambda piece: int(piece.min()))
    return done


def split_wide_clusters(features: Features, ids: np.ndarray, passes: np.ndarray, cap: float,
                        context: RunContext):
    """(ids, passes, IDs of lone features wider than the cap) after splitting clusters wider than cap.

    Pieces of cluster NAME are named NAME_1..NAME_k (zero-padded) and get the next pass number.
    """
    names, inverse = factorize_ids(ids)
    radii = features.outer_circles(inverse, len(names))[2]
    wide = np.flatnonzero(radii > cap)
    ids, passes = ids.copy(), passes.copy()
    unsplittable = []
    if len(wide) == 0:
        return ids, passes, np.array([], dtype=object)
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(len(names) + 1))
    for cluster_index in wide:
        members = order[starts[cluster_index]:starts[cluster_index + 1]]
        pieces = _pieces_within(features, members, cap, context)
        if len(pieces) == 1:
            unsplittable.append(names[cluster_index])
            continue
        name_pieces(ids, passes, names[cluster_index], members, pieces)
        unsplittable += [ids[piece[0]] for piece in pieces if len(piece) == 1
                         and features.subset(piece).outer_circles(np.zeros(1, np.int64), 1)[2][0] > cap]
    return ids, passes, np.array(sorted(unsplittable), dtype=object)
