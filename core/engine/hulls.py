"""Per-cluster convex hulls and the figures measured on them, in plain numpy/SciPy.

The one hull builder for the engine, the CLI summary and the plugin: no shapely here,
so the QGIS desktop process can use it too (shapely must never load there).

- `convex_hulls`: each group's hull as a counter-clockwise vertex array (no closing
  vertex). One distinct point gives a 1-vertex hull, collinear points a 2-vertex
  segment; both have zero area.
- `hull_overlap_share`: (sum of hull areas − area of their union) / sum of hull areas,
  from the pairwise intersections of hulls whose bounding boxes overlap.
- `weighted_rms_spread`: weighted RMS distance of features to their cluster's centre.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from .data import weighted_centroids
from .radius import minimum_bounding_circles

_PAIR_CHUNK = 20_000  # candidate pairs tested at once: bounds the (pairs x vertices x vertices) arrays


def _segment_or_point(px, py):
    """Hull of points that span no area: the two extremes along their longest direction."""
    if np.ptp(px) == 0 and np.ptp(py) == 0:
        return np.array([[px[0], py[0]]])
    axis = (px - px.mean(), py - py.mean())
    direction = (1.0, 0.0) if np.ptp(px) >= np.ptp(py) else (0.0, 1.0)
    along = axis[0] * direction[0] + axis[1] * direction[1]
    ends = [int(np.argmin(along)), int(np.argmax(along))]
    return np.column_stack([px[ends], py[ends]])


def _hull_of(px, py):
    if len(px) >= 3:
        try:
            # Local origin keeps Qhull's precision at UTM-sized coordinates.
            ox, oy = px.min(), py.min()
            hull = ConvexHull(np.column_stack([px - ox, py - oy]))
            return hull.points[hull.vertices] + (ox, oy)  # 2-D hull vertices come counter-clockwise
        except QhullError:  # collinear or coincident: no area
            pass
    return _segment_or_point(px, py)


def convex_hulls(x, y, group, n_groups):
    """List of n_groups (m, 2) arrays: each group's convex hull, counter-clockwise.

    A group with no points gets an empty (0, 2) array.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    group = np.asarray(group, dtype=np.int64)
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
    xs, ys = x[order], y[order]
    hulls = []
    for g in range(n_groups):
        start, end = bounds[g], bounds[g + 1]
        if start == end:
            hulls.append(np.zeros((0, 2)))
        else:
            hulls.append(_hull_of(xs[start:end], ys[start:end]))
    return hulls


def hull_radii(hulls, half_size=None) -> np.ndarray:
    """Each hull's minimum bounding circle radius (every hull must have a vertex).

    A set's minimum bounding circle is its hull vertices' one, so this is the groups' exact
    radius from a few points each instead of all their members. half_size=(hx, hy): every
    point is the centre of a rectangle (a pixel), as in minimum_bounding_circles; the union
    of such rectangles has its hull's vertices at the point hull's vertices, moved to corners.
    """
    vertices = np.concatenate(hulls)
    group = np.repeat(np.arange(len(hulls)), [len(h) for h in hulls])
    return minimum_bounding_circles(vertices[:, 0], vertices[:, 1], group, len(hulls), half_size)[2]


def polygon_area(vertices) -> float:
    """Shoelace area of a simple polygon given as an (m, 2) vertex array (0 below 3 vertices)."""
    if len(vertices) < 3:
        return 0.0
    px, py = vertices[:, 0] - vertices[0, 0], vertices[:, 1] - vertices[0, 1]
    return 0.5 * abs(float(np.dot(px, np.roll(py, -1)) - np.dot(py, np.roll(px, -1))))


def clip_convex(subject, clip):
    """Intersection of two counter-clockwise convex polygons (Sutherland–Hodgman)."""
    polygon = subject
    for i in range(len(clip)):
        if len(polygon) == 0:
            break
        a, b = clip[i], clip[(i + 1) % len(clip)]
        edge = b - a
        side = edge[0] * (polygon[:, 1] - a[1]) - edge[1] * (polygon[:, 0] - a[0])  # >= 0: inside
        inside = side >= 0
        if inside.all():
            continue
        previous = np.roll(polygon, 1, axis=0)
        previous_side = np.roll(side, 1)
        crossing = inside != np.roll(inside, 1)
        out = []
        for j in range(len(polygon)):
            if crossing[j]:
                t = previous_side[j] / (previous_side[j] - side[j])
                out.append(previous[j] + t * (polygon[j] - previous[j]))
            if inside[j]:
                out.append(polygon[j])
        polygon = np.array(out).reshape(-1, 2)
    return polygon


def _bbox_pairs(lo, hi):
    """Index pairs (i, j), i < j, of boxes that overlap with positive area (sweep on x)."""
    order = np.argsort(lo[:, 0], kind="stable")
    xmin = lo[order, 0]
    # Boxes whose xmin falls strictly inside box i's x range, after i in sweep order.
    stop = np.searchsorted(xmin, hi[order, 0], side="left")
    first = np.arange(len(order)) + 1
    counts = np.maximum(stop - first, 0)
    i = np.repeat(np.arange(len(order)), counts)
    j = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(first, counts)
    i, j = order[i], order[j]
    keep = (lo[i, 1] < hi[j, 1]) & (lo[j, 1] < hi[i, 1]) & (lo[j, 0] < hi[i, 0])
    return i[keep], j[keep]


def _padded(hulls, index):
    """Vertices of the given hulls in one (len(index), m, 2) array, each padded with its last vertex."""
    sizes = np.array([len(hulls[i]) for i in index])
    width = int(sizes.max())
    out = np.empty((len(index), width, 2))
    for row, i in enumerate(index):
        h = hulls[i]
        out[row, : len(h)] = h
        out[row, len(h):] = h[-1]
    return out


def _separated(a, b):
    """For padded CCW polygons a[p], b[p]: True where an edge of a has all of b on its outside (or on it)."""
    start = a
    edge = np.roll(a, -1, axis=1) - a  # padded vertices give zero edges, which separate nothing
    # cross(edge, v - start) for every edge of a and every vertex of b: (pairs, edges, vertices)
    rel_x = b[:, None, :, 0] - start[:, :, None, 0]
    rel_y = b[:, None, :, 1] - start[:, :, None, 1]
    cross = edge[:, :, None, 0] * rel_y - edge[:, :, None, 1] * rel_x
    length = np.hypot(edge[..., 0], edge[..., 1])
    scale = np.abs(a).max(axis=(1, 2)) + np.abs(b).max(axis=(1, 2)) + 1.0
    tolerance = 1e-12 * length * scale[:, None]
    return ((cross.max(axis=2) <= tolerance) & (length > 0)).any(axis=1)


def overlapping_pairs(hulls):
    """(i, j, intersection area) for every pair of hulls that share area."""
    areas = np.array([polygon_area(h) for h in hulls])
    solid = np.flatnonzero(areas > 0)
    if len(solid) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    lo = np.array([hulls[i].min(axis=0) for i in solid])
    hi = np.array([hulls[i].max(axis=0) for i in solid])
    pi, pj = _bbox_pairs(lo, hi)
    pi, pj = solid[pi], solid[pj]
    found_i, found_j, found_area = [], [], []
    for start in range(0, len(pi), _PAIR_CHUNK):
        ci, cj = pi[start:start + _PAIR_CHUNK], pj[start:start + _PAIR_CHUNK]
        a, b = _padded(hulls, ci), _padded(hulls, cj)
        touching = ~(_separated(a, b) | _separated(b, a))
        for i, j in zip(ci[touching].tolist(), cj[touching].tolist()):
            area = polygon_area(clip_convex(hulls[i], hulls[j]))
            if area > 0:
                found_i.append(i)
                found_j.append(j)
                found_area.append(area)
    return np.array(found_i, dtype=np.int64), np.array(found_j, dtype=np.int64), np.array(found_area)


def hull_overlap_share(hulls) -> float:
    """(sum of hull areas − area of their union) / sum of hull areas; 0 when hulls have no area.

    Computed as the sum of pairwise intersection areas, which is exact unless some spot
    lies in three or more hulls (then it over-reports, never under-reports).
    """
    total = sum(polygon_area(h) for h in hulls)
    if total <= 0:
        return 0.0
    return float(overlapping_pairs(hulls)[2].sum() / total)


def weighted_rms_spread(x, y, w, labels, n_groups) -> float:
    """sqrt(sum w·d² / sum w), d the distance to the cluster's weighted centroid.

    With no weight at all, every feature counts once.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.asarray(w, dtype=float)
    if w.sum() <= 0:
        w = np.ones_like(x)
    cx, cy = weighted_centroids(x, y, w, labels, n_groups)
    d2 = (x - cx[labels]) ** 2 + (y - cy[labels]) ** 2
    return float(np.sqrt(np.dot(w, d2) / w.sum()))
