"""A one-file HTML report of a PPS draw: the design per stratum, the PSUs, and a map of where they are.

Same rules as core.report.html (numpy + matplotlib's Agg canvas; no geopandas, shapely or pyproj).
"""

from __future__ import annotations

import html
from typing import Mapping, Optional, Sequence

import numpy as np

from ..io.layer_style import SAMPLE_COLOURS
from .html import new_figure, page, png, table, write_html

NOT_SELECTED = "#e6e6e6"
SELECTED_EDGE = "#202020"
STATUS_COLOURS = {"not selected": NOT_SELECTED, "selected": SAMPLE_COLOURS["PSU"],
                  "certainty": SAMPLE_COLOURS["certainty"], "replacement": SAMPLE_COLOURS["replacement"]}


def _stratum_rows(sample, sizes) -> list:
    rows = []
    for stratum in sample.strata:
        main = (sample.stratum == stratum["stratum"]) & ~sample.replacement
        # Horvitz-Thompson estimate of the stratum's total size from its PSUs: exact under PPS, so it
        # checks the design weights.
        estimate = float(np.sum(sizes[sample.index[main]] * sample.design_weight[main]))
        sampled = stratum["sampled"]
        rows.append({"stratum": stratum["stratum"] or "(one stratum)", "clusters": stratum["clusters"],
                     "total size": stratum["total_size"], "PSUs": stratum["n"] if sampled else "not sampled",
                     "certainty": stratum["certainty"], "interval": stratum["interval"] if sampled else "-",
                     "random start": stratum["start"] if sampled else "-", "replacements": stratum["replacements"],
                     "size estimated from the PSUs": estimate if sampled else "not estimated"})
    return rows


def _psu_rows(sample, ids, sizes) -> list:
    return [{"stratum": sample.stratum[k] or "-", "order": int(sample.selection_order[k]), "cluster": ids[row],
             "size": float(sizes[row]), "inclusion probability": f"{sample.inclusion_prob[k]:.4f}",
             "design weight": f"{sample.design_weight[k]:.3f}", "certainty": "yes" if sample.certainty[k] else "",
             "replacement": "yes" if sample.replacement[k] else "",
             "reserve probability given the PSUs": f"{sample.reserve_prob[k]:.4f}" if sample.replacement[k] else ""}
            for k, row in enumerate(sample.index)]


def sample_status(sample, n_clusters: int) -> np.ndarray:
    status = np.full(n_clusters, "not selected", dtype=object)
    status[sample.index] = np.where(sample.replacement, "replacement",
                                    np.where(sample.certainty, "certainty", "selected"))
    return status


def sample_map(outlines, sample, ids, y_stretch: float = 1.0) -> str:
    """The frame in grey, PSUs and replacements in their colours, each labelled with its selection order
    (and its cluster ID where that fits)."""
    from matplotlib.patches import Patch

    from .maps import MapLayer, draw_map, short_id

    status = sample_status(sample, len(ids))
    order = np.zeros(len(ids), dtype=np.int64)
    order[sample.index] = sample.selection_order
    labels = [(f"{short_id(name)} #{number}", f"#{number}") if number else () for name, number in zip(ids, order)]
    strata = np.full(len(ids), "", dtype=object)
    strata[sample.index] = sample.stratum
    style = MapLayer([STATUS_COLOURS[kind] for kind in status],
                     ["#a0a0a0" if kind == "not selected" else SELECTED_EDGE for kind in status],
                     [0.3 if kind == "not selected" else 0.7 for kind in status],
                     ["..." if kind == "replacement" else None for kind in status], labels, alpha=0.85,
                     groups=strata if len(sample.strata) > 1 else None)
    figure = new_figure(7.0, 7.0)
    axes = draw_map(figure, outlines, style, y_stretch)
    counts = {kind: int(np.sum(status == kind)) for kind in STATUS_COLOURS}
    names = {"not selected": "not selected", "selected": "PSU", "certainty": "PSU (certainty)",
             "replacement": "replacement"}
    axes.legend(handles=[Patch(facecolor=colour, edgecolor=SELECTED_EDGE, hatch="..." if kind == "replacement" else None,
                               label=f"{names[kind]} ({counts[kind]})") for kind, colour in STATUS_COLOURS.items()],
                frameon=False, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=4)
    return png(figure)


def render_sample_report(sample, ids, sizes, *, outlines: Optional[Sequence[np.ndarray]] = None,
                         y_stretch: float = 1.0, inputs: Optional[Mapping] = None,
                         title: str = "wrok PPS sample") -> str:
    """ids, sizes, outlines: one per cluster of the frame, in the order select_pps was given."""
    ids, sizes = np.asarray(ids, dtype=object), np.asarray(sizes, dtype=float)
    parts = [f"<h1>{html.escape(title)}</h1>", "<h2>Parameters</h2>",
             table([{"parameter": k, "value": v} for k, v in (inputs or {}).items()]),
             "<h2>Design per stratum</h2>", table(_stratum_rows(sample, sizes)),
             "<p class=note>Systematic PPS: clusters at least as heavy as the interval are certainty selections; "
             "the rest are hit at the random start plus multiples of the interval along the cumulated sizes. "
             "The estimate from the PSUs (size times design weight, summed) equals the total when the design "
             "weights are right.</p>"]
    if outlines is not None:
        parts += ["<h2>Map</h2><p class=note>Every cluster of the frame; the PSUs and the replacements in colour, "
                  "each labelled with its cluster number and selection order (#1…#n the PSUs, #n+1… the "
                  "replacements of its stratum, in the order to use them); with strata, the stratum's name stands "
                  "at the centre of its PSUs.</p>",
                  f"<img alt='map of the sample' src='data:image/png;base64,{sample_map(outlines, sample, ids, y_stretch)}'>"]
    parts += [f"<h2>PSUs ({int((~sample.replacement).sum())} selected, {int(sample.replacement.sum())} "
              "replacements)</h2>", table(_psu_rows(sample, ids, sizes)),
              "<p class=note>Replacements are a second systematic PPS draw among the clusters not selected, listed "
              "in a random order. Each carries the inclusion probability and design weight it has under the main "
              "design (the weight it takes when it stands in for a PSU); its reserve probability is the chance it "
              "had of entering the reserve list given the PSUs drawn: replacements × size / the total size of the "
              "clusters not selected.</p>"]
    return page(title, parts)


def write_sample_report(path, sample, ids, sizes, **kwargs):
    return write_html(path, render_sample_report(sample, ids, sizes, **kwargs))
