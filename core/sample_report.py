"""A one-file HTML report of a PPS draw: the design per stratum, the PSUs, and a map of where they are.

Same rules as core.report (numpy + matplotlib's Agg canvas; no geopandas, shapely or pyproj).
"""

from __future__ import annotations

import html
from typing import Mapping, Optional, Sequence

import numpy as np

from .report import map_thumbnail, page, table, write_html

SAMPLE_COLOURS = {"not selected": "#dddddd", "selected": "#377eb8", "certainty": "#984ea3",
                  "replacement": "#ff7f00"}


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
             "replacement": "yes" if sample.replacement[k] else ""}
            for k, row in enumerate(sample.index)]


def sample_status(sample, n_clusters: int) -> np.ndarray:
    status = np.full(n_clusters, "not selected", dtype=object)
    status[sample.index] = np.where(sample.replacement, "replacement",
                                    np.where(sample.certainty, "certainty", "selected"))
    return status


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
        status = sample_status(sample, len(ids))
        parts += ["<h2>Map</h2>", f"<img alt='map of the sample' src='data:image/png;base64,"
                                  f"{map_thumbnail(outlines, status, SAMPLE_COLOURS, y_stretch)}'>"]
    parts += [f"<h2>PSUs ({int((~sample.replacement).sum())} selected, {int(sample.replacement.sum())} "
              "replacements)</h2>", table(_psu_rows(sample, ids, sizes))]
    return page(title, parts)


def write_sample_report(path, sample, ids, sizes, **kwargs):
    return write_html(path, render_sample_report(sample, ids, sizes, **kwargs))
