"""The CLI side of the report: cluster outlines from the clusters GeoDataFrame, in metres."""

from __future__ import annotations

from pathlib import Path

import shapely

from .hulls import convex_hulls
from .params import ClusteringInputError
from .report import write_report


def check_report_path(path) -> None:
    """Before any work: the report's folder exists and the name ends in .html."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ClusteringInputError(f"the report is an HTML file: give a name ending in .html (got {path.name})")
    if not path.parent.is_dir():
        raise ClusteringInputError(f"cannot write the report {path}: folder {path.parent} does not exist")


def outlines_in_metres(geometry, measuring_crs) -> list:
    """One convex hull per row of a GeoSeries, in the measuring CRS."""
    projected = geometry.to_crs(measuring_crs)
    coords, owner = shapely.get_coordinates(projected.values, return_index=True)
    return convex_hulls(coords[:, 0], coords[:, 1], owner, len(geometry))


def write_cli_report(path, clusters, result, measuring_crs, inputs: dict) -> None:
    """clusters: the hull GeoDataFrame in result.clusters order (io.clusters_frame)."""
    outlines = outlines_in_metres(clusters.geometry, measuring_crs)
    write_report(path, result, outlines=outlines, inputs={**inputs, "measuring CRS": measuring_crs.to_string()})
