"""The reports' maps: every cluster outlined in its own colour, labelled where its label fits, flags drawn on top.

Same rules as core.report.html (numpy + matplotlib's Agg canvas; no shapely): outlines come as rings of
(x, y) coordinates, one ring or a list of rings (the parts of a polygon) per cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

FIGURE_INCHES, DPI = 7.0, 110
LABEL_POINTS = 6.5
MAX_LABELS = 400  # more text than this on a 7-inch map is unreadable; the largest clusters keep theirs


@dataclass
class MapLayer:
    """How each outline is drawn: one entry per cluster (colours as '#rrggbb' or (r, g, b) 0-1)."""

    faces: Sequence
    edges: Sequence
    widths: Sequence[float]
    hatches: Sequence[Optional[str]]
    labels: Sequence[Sequence[str]]  # per cluster: label candidates, longest first ('' for none)
    alpha: float = 0.6
    groups: Optional[Sequence[str]] = None  # per cluster: its stratum, named once at its clusters' centre


def _rings(outline):
    return [np.asarray(ring, dtype=float) for ring in (outline if isinstance(outline, (list, tuple)) else [outline])
            if len(ring)]


def _area_and_centre(ring):
    x, y = ring[:, 0], ring[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    area = cross.sum() / 2
    if abs(area) < 1e-12:
        return 0.0, ring.mean(axis=0)
    return abs(area), np.array([((x + np.roll(x, -1)) * cross).sum(), ((y + np.roll(y, -1)) * cross).sum()]) / (6 * area)


def draw_map(figure, outlines, style: MapLayer, y_stretch: float = 1.0):
    """Draw on a new axes of figure; returns the axes. Labels go where their text fits inside the cluster."""
    from matplotlib.collections import PolyCollection

    axes = figure.add_subplot()
    rings, owner = [], []
    for index, outline in enumerate(outlines):
        for ring in _rings(outline):
            rings.append(ring)
            owner.append(index)
    owner = np.asarray(owner, dtype=np.int64)
    areas = [k for k, ring in enumerate(rings) if len(ring) >= 3]
    pick = lambda values: [values[owner[k]] for k in areas]  # noqa: E731
    axes.add_collection(PolyCollection([rings[k] for k in areas], facecolors=pick(style.faces), alpha=style.alpha,
                                       edgecolors="none"))
    # Borders and hatches unfaded on top, so every outline is sharp.
    hatched = [k for k in areas if style.hatches[owner[k]]]
    for hatch in sorted({style.hatches[owner[k]] for k in hatched}):
        chosen = [k for k in hatched if style.hatches[owner[k]] == hatch]
        axes.add_collection(PolyCollection([rings[k] for k in chosen], facecolors="none", hatch=hatch,
                                           edgecolors=[style.edges[owner[k]] for k in chosen], linewidths=0))
    axes.add_collection(PolyCollection([rings[k] for k in areas], facecolors="none", edgecolors=pick(style.edges),
                                       linewidths=pick(style.widths)))
    dots = [k for k, ring in enumerate(rings) if len(ring) < 3]
    if dots:
        points = np.vstack([rings[k].mean(axis=0) for k in dots])
        axes.scatter(points[:, 0], points[:, 1], s=8, c=[style.faces[owner[k]] for k in dots],
                     edgecolors=[style.edges[owner[k]] for k in dots], linewidths=0.5)
    everything = np.vstack(rings)
    low, high = everything.min(axis=0), everything.max(axis=0)
    axes.set_xlim(low[0], high[0])
    axes.set_ylim(low[1], high[1])
    axes.set_aspect(y_stretch, adjustable="datalim")
    axes.set_xticks([])
    axes.set_yticks([])
    _label(axes, figure, rings, owner, style.labels, low, high, y_stretch)
    if style.groups is not None:
        _name_groups(axes, rings, owner, style.groups)
    return axes


def _name_groups(axes, rings, owner, groups):
    """Each stratum's name at the area-weighted centre of its clusters, large and in italics."""
    groups = np.asarray(groups, dtype=object)
    sums = {}
    for k, ring in enumerate(rings):
        area, centre = _area_and_centre(ring)
        key = groups[owner[k]]
        if key is None or key == "":
            continue
        total, weighted = sums.get(key, (0.0, np.zeros(2)))
        sums[key] = (total + max(area, 1e-9), weighted + max(area, 1e-9) * centre)
    for key, (total, weighted) in sums.items():
        x, y = weighted / total
        axes.text(x, y, str(key), fontsize=11, fontstyle="italic", fontweight="bold", ha="center", va="center",
                  color="#222222", alpha=0.8,
                  bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.55, "linewidth": 0})


def _label(axes, figure, rings, owner, labels, low, high, y_stretch):
    """Each cluster's first label candidate whose text fits its extent, at the area-weighted centre of its
    parts; bigger clusters first, and no label over another."""
    width_px = figure.get_figwidth() * figure.dpi * 0.75  # the axes' share of the figure
    span = np.maximum(high - low, 1e-9)
    scale = np.array([1.0, y_stretch]) * width_px / max(span[0], span[1] * y_stretch)  # pixels per unit
    text_height = LABEL_POINTS * figure.dpi / 72
    parts = {}
    for k, ring in enumerate(rings):
        area, centre = _area_and_centre(ring)
        total, weighted, lows, highs = parts.get(owner[k], (0.0, np.zeros(2), [], []))
        parts[owner[k]] = (total + area, weighted + area * centre, lows + [ring.min(axis=0)], highs + [ring.max(axis=0)])
    candidates = []
    for index, (area, weighted, lows, highs) in parts.items():
        box = (np.max(highs, axis=0) - np.min(lows, axis=0)) * scale
        centre = weighted / area if area > 0 else (np.min(lows, axis=0) + np.max(highs, axis=0)) / 2
        for text in labels[index]:
            size = np.array([len(text) * 0.6 * text_height, text_height])
            if text and size[0] <= 0.9 * box[0] and size[1] <= 0.9 * box[1]:
                candidates.append((area, centre, text, size))
                break
    candidates.sort(key=lambda item: -item[0])
    taken = []  # (centre in pixels, half size)
    for _, centre, text, size in candidates:
        at = centre * scale
        if any(np.all(np.abs(at - other) < (size + other_size) / 2 + 1) for other, other_size in taken):
            continue
        taken.append((at, size))
        axes.text(centre[0], centre[1], text, fontsize=LABEL_POINTS, ha="center", va="center", color="#111111",
                  bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "alpha": 0.7, "linewidth": 0})
        if len(taken) == MAX_LABELS:
            break


def short_id(cluster_id: str) -> str:
    """'North_CLUSTER_04' -> '04': the part a map label can afford when the full ID does not fit."""
    text = str(cluster_id)
    return text.rsplit("CLUSTER_", 1)[-1] if "CLUSTER_" in text else text
