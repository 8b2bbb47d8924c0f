"""A one-file HTML report of a clustering run: parameters, summary per stratum, plots, map, outliers.

Plain numpy + matplotlib (imported on use, through the Agg canvas only: no pyplot, so a QGIS desktop
whose other plugins use matplotlib keeps its backend). No geopandas, shapely or pyproj: callers pass
plain coordinate arrays. Plots are PNG embedded as base64, so the report is a single file that QGIS's
Results Viewer, a browser or an e-mail can open.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import tempfile
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from ..params import BAND, ClusteringInputError

COLOURS = {"in band": "#4daf4a", "out of band": "#ff7f00", "over a maximum": "#e41a1c"}


def _optional(value) -> float:
    return math.nan if value is None else float(value)


class Targets:
    """Each cluster's targets and caps (NaN where there is none): a stratified run has its own per stratum.

    Works with a plain ClusteringResult and with one whose `strata` maps stratum key -> (params, result)
    and whose cluster table has a `stratum` column.
    """

    def __init__(self, result, cluster_strata=None):
        clusters = result.clusters
        n = len(clusters["weight"])
        if cluster_strata is None and "stratum" in clusters:
            cluster_strata = clusters["stratum"]
        self.strata = None if cluster_strata is None else np.asarray(cluster_strata).astype(str)
        by_stratum = {str(k): v[0] for k, v in (getattr(result, "strata", None) or {}).items()}
        keys = self.strata if self.strata is not None else np.full(n, "", dtype=object)
        params = [by_stratum.get(key, result.params) for key in keys]
        self.params_by_stratum = {key: by_stratum.get(key, result.params) for key in dict.fromkeys(keys.tolist())}
        self.weight = np.array([p.desired_cluster_weight for p in params], dtype=float)
        self.radius = np.array([p.desired_cluster_radius for p in params], dtype=float)
        self.max_weight = np.array([_optional(p.max_cluster_weight) for p in params], dtype=float)
        # A hard radius cap, where the engine has one.
        self.max_radius = np.array([_optional(getattr(p, "max_cluster_radius", None)) for p in params], dtype=float)

    def uniform(self) -> bool:
        """One set of targets for every cluster (then the plots use real units)."""
        return all(len(np.unique(a)) <= 1 for a in (self.weight, self.radius, self.max_weight, self.max_radius))


def flag_clusters(clusters, targets: Targets) -> list:
    """(row, reasons) for every cluster out of the ±20 % band, over the max weight or over the max radius."""
    flagged = []
    for row, (weight, radius) in enumerate(zip(clusters["weight"], clusters["radius_m"])):
        target, max_weight, max_radius = targets.weight[row], targets.max_weight[row], targets.max_radius[row]
        reasons = []
        share = (weight - target) / target
        if abs(share) > BAND:
            side = "above" if share > 0 else "below"
            reasons.append(f"weight {weight:,.1f} is {abs(share):.0%} {side} the target {target:,.6g} "
                           f"(band {target * (1 - BAND):,.6g} to {target * (1 + BAND):,.6g})")
        if weight > max_weight:  # False against NaN (no cap)
            reasons.append(f"weight {weight:,.1f} is over the max weight {max_weight:,.6g}")
        if radius > max_radius:
            reasons.append(f"radius {radius:,.0f} m is over the max radius {max_radius:,.6g} m")
        if reasons:
            flagged.append((row, reasons))
    return flagged


def _status(clusters, targets: Targets) -> np.ndarray:
    """Per cluster: 'in band', 'out of band' or 'over a maximum' (for the map colours)."""
    weights, radii = clusters["weight"], clusters["radius_m"]
    status = np.where(np.abs(weights - targets.weight) > BAND * targets.weight, "out of band", "in band")
    status = status.astype(object)
    status[(weights > targets.max_weight) | (radii > targets.max_radius)] = "over a maximum"
    return status


def summary_rows(clusters, targets: Targets) -> list:
    """One dict of figures for all clusters, then one per stratum."""
    groups = [("all", np.ones(len(clusters["weight"]), dtype=bool))]
    if targets.strata is not None:
        groups += [(key, targets.strata == key) for key in dict.fromkeys(targets.strata.tolist())]
    rows = []
    for name, mask in groups:
        weights, radii, target = clusters["weight"][mask], clusters["radius_m"][mask], targets.weight[mask]
        rows.append({
            "stratum": name, "clusters": int(mask.sum()), "total weight": float(weights.sum()),
            "median weight": float(np.median(weights)),
            "within ±20 % of its target": f"{np.mean(np.abs(weights - target) <= BAND * target):.0%}",
            "weight p10 to p90": f"{np.percentile(weights, 10):,.1f} to {np.percentile(weights, 90):,.1f}",
            "median radius (m)": float(np.median(radii)), "p90 radius (m)": float(np.percentile(radii, 90)),
            "over max weight": int((weights > targets.max_weight[mask]).sum()),
            "over max radius": int((radii > targets.max_radius[mask]).sum()),
        })
    return rows


def parameter_rows(params) -> dict:
    """{label users set: value} for the settings that applied to this run (core.params.PARAMETER_LABELS)."""
    from ..params import PARAMETER_LABELS

    values = params.as_dict()
    capped = values.get("max_cluster_weight") is not None
    applies = {"max_passes": capped, "subsequent_max_trials": capped,
               "minibatch_reassignment_ratio": values.get("strategy") == "seed",
               "initial_max_trials": values.get("n_clusters") is None}
    return {PARAMETER_LABELS.get(name, name): "none" if value is None else value for name, value in values.items()
            if applies.get(name, True)}


def stratum_parameter_rows(targets: Targets) -> list:
    return [{"stratum": key, "target weight": p.desired_cluster_weight, "target radius (m)": p.desired_cluster_radius,
             "max weight": p.max_cluster_weight or "none", "max radius (m)": getattr(p, "max_cluster_radius", None)
             or "none", "clusters asked": getattr(p, "n_clusters", None) or "tuned"}
            for key, p in targets.params_by_stratum.items()]


def new_figure(width=5.4, height=3.6):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ClusteringInputError("the report draws its plots with matplotlib, which is not installed here: "
                                   "install python3-matplotlib (apt) or matplotlib (pip)") from None

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _legend_below(axes):
    axes.legend(frameon=False, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)


def _axes_values(clusters, targets: Targets):
    """(weights, radii, targets, caps, unit labels): real units, or each cluster's value ÷ its own target."""
    if targets.uniform():
        return (clusters["weight"], clusters["radius_m"], targets.weight[0], targets.radius[0], targets.max_weight[0],
                targets.max_radius[0], "cluster weight", "cluster radius (m)", "")
    # Strata with their own targets: one picture on a common scale, 1 = the stratum's target.
    return (clusters["weight"] / targets.weight, clusters["radius_m"] / targets.radius, 1.0, 1.0,
            _common(targets.max_weight / targets.weight), _common(targets.max_radius / targets.radius),
            "cluster weight ÷ its stratum's target", "cluster radius ÷ its stratum's target", " (relative)")


def _common(ratios) -> float:
    """The one ratio every stratum shares, else NaN (no line drawn)."""
    finite = np.unique(np.round(ratios, 9))
    return float(finite[0]) if len(finite) == 1 else math.nan


def weight_histogram(clusters, targets: Targets) -> str:
    weights, _, target, _, max_weight, _, weight_label, _, relative = _axes_values(clusters, targets)
    figure = new_figure()
    axes = figure.add_subplot()
    axes.axvspan(target * (1 - BAND), target * (1 + BAND), color=COLOURS["in band"], alpha=0.15,
                 label="target ±20 %")
    axes.hist(weights, bins=min(60, max(10, len(weights) // 5)), color="#377eb8")
    axes.axvline(target, color=COLOURS["in band"], label=f"target {target:,.6g}{relative}")
    if math.isfinite(max_weight):
        axes.axvline(max_weight, color=COLOURS["over a maximum"], linestyle="--", label=f"max {max_weight:,.6g}")
    axes.set_xlabel(weight_label)
    axes.set_ylabel("clusters")
    _legend_below(axes)
    return png(figure)


def weight_radius_scatter(clusters, targets: Targets) -> str:
    weights, radii, target, radius, max_weight, max_radius, weight_label, radius_label, relative = \
        _axes_values(clusters, targets)
    figure = new_figure()
    axes = figure.add_subplot()
    axes.axhspan(target * (1 - BAND), target * (1 + BAND), color=COLOURS["in band"], alpha=0.15,
                 label="target weight ±20 %")
    axes.scatter(radii, weights, s=8, alpha=0.6, color="#377eb8", linewidths=0)
    axes.axhline(target, color=COLOURS["in band"], label=f"target weight {target:,.6g}{relative}")
    axes.axvline(radius, color="#984ea3", label=f"target radius {radius:,.6g}{relative or ' m'}")
    if math.isfinite(max_weight):
        axes.axhline(max_weight, color=COLOURS["over a maximum"], linestyle="--", label=f"max weight {max_weight:,.6g}")
    if math.isfinite(max_radius):
        axes.axvline(max_radius, color=COLOURS["over a maximum"], linestyle=":",
                     label=f"max radius {max_radius:,.6g}{relative or ' m'}")
    axes.set_xlabel(radius_label)
    axes.set_ylabel(weight_label)
    _legend_below(axes)
    return png(figure)


def degree_stretch(latitudes) -> float:
    """y_stretch for longitude/latitude coordinates: a degree of longitude is shorter than one of latitude."""
    return 1.0 / max(math.cos(math.radians(float(np.mean(latitudes)))), 0.01)


def cluster_map_style(clusters, targets: Targets):
    """Per cluster: its own fill colour, its number as label; flagged clusters a hatched orange or red border."""
    from ..io.layer_style import cluster_rgb
    from .maps import MapLayer, short_id

    status = _status(clusters, targets)
    fills = [tuple(c / 255 for c in cluster_rgb(i)) for i in range(len(status))]
    flag_edges = {"out of band": COLOURS["out of band"], "over a maximum": COLOURS["over a maximum"]}
    edges = [flag_edges.get(kind, tuple(0.55 * c for c in fill)) for kind, fill in zip(status, fills)]
    return MapLayer(fills, edges, [2.0 if kind in flag_edges else 0.6 for kind in status],
                    [{"out of band": "///", "over a maximum": "xxx"}.get(kind) for kind in status],
                    [(short_id(name),) for name in clusters["cluster_id"]], alpha=0.7, groups=targets.strata)


def cluster_map(outlines: Sequence, clusters, targets: Targets, y_stretch: float = 1.0) -> str:
    """Every cluster in its own colour with its border, labelled with its ID where that fits; clusters out of
    the band get an orange hatched border, those over a maximum a red one. y_stretch: height of a y unit
    against an x unit (1 when the coordinates are metres)."""
    from matplotlib.patches import Patch

    from .maps import draw_map

    status = _status(clusters, targets)
    style = cluster_map_style(clusters, targets)
    fills = style.faces
    figure = new_figure(7.0, 7.0)
    axes = draw_map(figure, outlines, style, y_stretch)
    counts = {kind: int(np.sum(status == kind)) for kind in ("in band", "out of band", "over a maximum")}
    axes.legend(handles=[
        Patch(facecolor=fills[0] if fills else "white", edgecolor="#333333", label=f"in band ({counts['in band']}): "
              "one colour per cluster"),
        Patch(facecolor="white", edgecolor=COLOURS["out of band"], hatch="///", linewidth=2,
              label=f"out of band ({counts['out of band']})"),
        Patch(facecolor="white", edgecolor=COLOURS["over a maximum"], hatch="xxx", linewidth=2,
              label=f"over a maximum ({counts['over a maximum']})")],
        frameon=False, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=3)
    return png(figure)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.3g}"
    return html.escape(str(value))


def table(rows: Sequence[Mapping]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row.values()) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222;max-width:70em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f0f0f0}td{font-variant-numeric:tabular-nums}img{max-width:100%}
.plots{display:flex;flex-wrap:wrap;gap:1em}.note{color:#555;font-size:.9em}"""


def render_report(result, *, outlines: Optional[Sequence] = None, cluster_strata=None,
                  inputs: Optional[Mapping] = None, title: str = "wrok clustering report",
                  outline_kind: str = "convex hulls", y_stretch: float = 1.0) -> str:
    """The report as HTML text. outlines: one per row of result.clusters (rings, see core.report.maps), in metres
    or with y_stretch for degrees.

    cluster_strata: each cluster's stratum (default: the cluster table's `stratum` column, if any).
    """
    clusters, params = result.clusters, result.params
    targets = Targets(result, cluster_strata)
    flagged = flag_clusters(clusters, targets)
    parts = [f"<h1>{html.escape(title)}</h1>"]
    settings = [{"parameter": k, "value": v} for k, v in {**(inputs or {}), **parameter_rows(params)}.items()]
    parts += ["<h2>Parameters</h2>", table(settings)]
    if targets.strata is not None:
        parts.append("<p class=note>The targets per stratum below take the place of these target weight, "
                     "radius and maximums where the strata table or fields give them.</p>")
    if targets.strata is not None:
        parts += ["<h2>Targets per stratum</h2>", table(stratum_parameter_rows(targets))]
    parts += ["<h2>Summary</h2>", table(summary_rows(clusters, targets))]
    if len(result.heavy_features):
        parts.append(f"<p class=note>{len(result.heavy_features)} feature(s) alone outweigh the max weight; "
                     "each is its own cluster.</p>")
    parts += ["<h2>Cluster weights and radii</h2><div class=plots>",
              f"<img alt='histogram of cluster weights' src='data:image/png;base64,{weight_histogram(clusters, targets)}'>",
              f"<img alt='weight against radius' src='data:image/png;base64,"
              f"{weight_radius_scatter(clusters, targets)}'>", "</div>"]
    if outlines is not None:
        parts += [f"<h2>Map</h2><p class=note>Cluster outlines ({html.escape(outline_kind)}), one colour per "
                  "cluster, labelled with its number (the part of its ID after CLUSTER_) where the label fits; with "
                  "strata, numbers restart in each stratum, whose name stands at the centre of its clusters. An orange hatched border marks a cluster outside the ±20 % band around its stratum's "
                  "target weight; a red cross-hatched one a cluster over a maximum.</p>",
                  f"<img alt='map of the clusters' src='data:image/png;base64,"
                  f"{cluster_map(outlines, clusters, targets, y_stretch)}'>"]
    parts.append(f"<h2>Clusters out of band or over a maximum ({len(flagged)} of {len(clusters['weight'])})</h2>")
    rows = []
    for row, reasons in flagged:
        entry = {"cluster": clusters["cluster_id"][row]}
        if targets.strata is not None:
            entry["stratum"] = targets.strata[row]
        entry.update({"weight": float(clusters["weight"][row]), "radius (m)": float(clusters["radius_m"][row]),
                      "features": int(clusters["n_features"][row]), "reason": "; ".join(reasons)})
        rows.append(entry)
    parts.append(table(rows))
    return page(title, parts)


def page(title: str, parts: Sequence[str]) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")


def write_report(path, result, **kwargs) -> Path:
    """Render the clustering report and write it (see write_html)."""
    return write_html(path, render_report(result, **kwargs))


def write_html(path, text: str) -> Path:
    """Written beside the target then moved in, so a failure leaves no half file and an old report intact."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ClusteringInputError(f"cannot write the report {path}: folder {path.parent} does not exist")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".html")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; a report is an ordinary file
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path
