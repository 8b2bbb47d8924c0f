"""Exact minimum bounding circles of many groups of points at once.

A cluster's radius is the radius of the minimum bounding circle (MBC) of the convex
hull of its members' geometries, which equals the MBC of all their vertices. Running
Welzl's algorithm on every point of every cluster in Python would be slow, so we grow
a small *core set* per group instead: start from the group's extreme points in eight
directions, solve the MBC of the core set exactly (Welzl, a few points), then add the
farthest point outside the circle and repeat until no point lies outside. The heavy
work (distances, per-group maxima) is vectorised over all groups; the result is exact.
"""

from __future__ import annotations

import math

import numpy as np

_DIRECTIONS = np.array(
    [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1)], dtype=float
)


def _circle_from_two(ax, ay, bx, by):
    cx, cy = (ax + bx) / 2.0, (ay + by) / 2.0
    return cx, cy, math.hypot(ax - cx, ay - cy)


def _circle_from_three(ax, ay, bx, by, cx, cy):
    d = 2.0 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    extent = max((bx - ax) ** 2 + (by - ay) ** 2, (cx - ax) ** 2 + (cy - ay) ** 2, (cx - bx) ** 2 + (cy - by) ** 2)
    if abs(d) <= 1e-12 * extent:  # collinear (relative to the triangle's size): the widest pair spans it
        pairs = [(ax, ay, bx, by), (ax, ay, cx, cy), (bx, by, cx, cy)]
        return max((_circle_from_two(*p) for p in pairs), key=lambda c: c[2])
    a2, b2, c2 = ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy
    ux = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d
    uy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d
    return ux, uy, math.hypot(ax - ux, ay - uy)


def _inside(circle, px, py):
    # Relative slack absorbs rounding at any scale; the absolute part covers r == 0.
    return math.hypot(px - circle[0], py - circle[1]) <= circle[2] * (1 + 1e-10) + 1e-12


def welzl(points):
    """Exact MBC (cx, cy, r) of a short list of (x, y) tuples (iterative Welzl)."""
    circle = (points[0][0], points[0][1], 0.0)
    for i in range(1, len(points)):
        px, py = points[i]
        if _inside(circle, px, py):
            continue
        circle = (px, py, 0.0)
        for j in range(i):
            qx, qy = points[j]
            if _inside(circle, qx, qy):
                continue
            circle = _circle_from_two(px, py, qx, qy)
            for k in range(j):
                sx, sy = points[k]
                if not _inside(circle, sx, sy):
                    circle = _circle_from_three(px, py, qx, qy, sx, sy)
    return circle


def _first_argmax_per_group(values, group_sorted, starts, active_groups=None):
    """Index (in sorted order) of the first maximum of `values` in each group."""
    group_max = np.maximum.reduceat(values, starts)
    hits = np.flatnonzero(values == group_max[group_sorted])
    groups_hit, first = np.unique(group_sorted[hits], return_index=True)
    idx = hits[first]
    if active_groups is not None:
        keep = active_groups[groups_hit]
        return groups_hit[keep], idx[keep], group_max
    return groups_hit, idx, group_max


def minimum_bounding_circles(x, y, group, n_groups, half_size=None):
    """MBC centre and radius for groups 0..n_groups-1 (every group must be non-empty).

    half_size=(hx, hy) makes each point the centre of an axis-aligned rectangle of that
    half width and height (a raster pixel's footprint): the circle then covers every
    rectangle in full. The farthest point of such a rectangle from a centre is the corner
    at hypot(|dx| + hx, |dy| + hy), so the core-set search stays exact and vectorised.
    Returns arrays (cx, cy, r) of length n_groups, in the units of x and y.
    """
    hx, hy = (0.0, 0.0) if half_size is None else (float(half_size[0]), float(half_size[1]))
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    group = np.asarray(group)
    order = np.argsort(group, kind="stable")
    gs = group[order]
    starts = np.searchsorted(gs, np.arange(n_groups))
    if len(starts) and (np.any(np.diff(np.append(starts, len(gs))) == 0)):
        raise ValueError("minimum_bounding_circles: every group must have at least one point")
    # Work in per-group local coordinates so circumcircles keep their precision.
    x0 = np.minimum.reduceat(x[order], starts)
    y0 = np.minimum.reduceat(y[order], starts)
    xs = x[order] - x0[gs]
    ys = y[order] - y0[gs]
    core = [set() for _ in range(n_groups)]
    for dx, dy in _DIRECTIONS:
        # Core-set members are (point, corner sign x, corner sign y); a point is its one corner (0, 0).
        # A rectangle's extreme corners in direction (dx, dy): its signs, both ways along a zero component.
        corners = [(0, 0)] if half_size is None else [
            (sx, sy) for sx in ((int(np.sign(dx)),) if dx else (-1, 1)) for sy in ((int(np.sign(dy)),) if dy else (-1, 1))]
        groups_hit, idx, _ = _first_argmax_per_group(xs * dx + ys * dy, gs, starts)
        for g, i in zip(groups_hit.tolist(), idx.tolist()):
            core[g].update((i, sx, sy) for sx, sy in corners)

    cx = np.zeros(n_groups)
    cy = np.zeros(n_groups)
    r = np.zeros(n_groups)
    pending = np.ones(n_groups, dtype=bool)
    while True:
        for g in np.flatnonzero(pending).tolist():
            pts = [(xs[i] + sx * hx, ys[i] + sy * hy) for i, sx, sy in sorted(core[g])]
            cx[g], cy[g], r[g] = welzl(pts)
        offset_x, offset_y = xs - cx[gs], ys - cy[gs]
        excess = np.hypot(np.abs(offset_x) + hx, np.abs(offset_y) + hy) - r[gs]
        tolerance = 1e-9 * r + 1e-9  # a nanometre in metres: far below any real radius
        outside = excess > tolerance[gs]
        if not outside.any():
            break
        excess = np.where(outside, excess, -np.inf)
        pending = np.zeros(n_groups, dtype=bool)
        groups_hit, idx, group_max = _first_argmax_per_group(excess, gs, starts)
        for g, i in zip(groups_hit.tolist(), idx.tolist()):
            farthest = (i, 0, 0) if half_size is None else (i, 1 if offset_x[i] >= 0 else -1,
                                                            1 if offset_y[i] >= 0 else -1)
            # A point already in the core set cannot tighten the circle: rounding, so stop there.
            if np.isfinite(group_max[g]) and farthest not in core[g]:
                core[g].add(farthest)
                pending[g] = True
        if not pending.any():
            break
    return cx + x0, cy + y0, r


def extreme_points(x, y, group, n_groups):
    """Each group's extreme points in eight directions: hull vertices that stand in for the group.

    Returns (x, y, group) of those points; the MBC of a union of groups computed from
    them is a close lower bound of the exact one, cheap enough to score tuning trials.
    """
    group = np.asarray(group)
    order = np.argsort(group, kind="stable")
    gs = group[order]
    starts = np.searchsorted(gs, np.arange(n_groups))
    xs, ys = np.asarray(x, dtype=float)[order], np.asarray(y, dtype=float)[order]
    picked = [_first_argmax_per_group(xs * dx + ys * dy, gs, starts)[1] for dx, dy in _DIRECTIONS]
    keep = np.unique(np.concatenate(picked))
    return xs[keep], ys[keep], gs[keep]
