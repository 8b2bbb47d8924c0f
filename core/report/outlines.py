"""The CLI side of the report: cluster outlines from the clusters GeoDataFrame, in metres."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

from ..engine.hulls import convex_hulls
from ..params import ClusteringInputError
from .html import write_report


def check_report_path(path) -> None:
    """Before any work: the report's folder exists and the name ends in .html."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ClusteringInputError(f"the report is an HTML file: give a name ending in .html (got {path.name})")
    if not path.parent.is_dir():
        raise ClusteringInputError(f"cannot write the report {path}: folder {path.parent} does not exist")


def outlines_in_metres(geometry, measuring_crs) -> list:
    """Per row of a GeoSeries, in the measuring CRS: its polygons' outer rings (hulls or dissolved pixel
    polygons, drawn as they are), or the convex hull of its points."""
    outlines = []
    for shape in geometry.to_crs(measuring_crs).values:
        parts = shapely.get_parts(shape)
        rings = [np.asarray(part.exterior.coords) for part in parts if part.geom_type == "Polygon"]
        if not rings:
            points = shapely.get_coordinates(shape)
            rings = convex_hulls(points[:, 0], points[:, 1], np.zeros(len(points), dtype=np.int64), 1)
        outlines.append(rings)
    return outlines


def write_cli_report(path, clusters, result, measuring_crs, inputs: dict, outline_kind: str) -> None:
    """clusters: the clusters GeoDataFrame in result.clusters order (io.clusters_frame, or raster polygons)."""
    outlines = outlines_in_metres(clusters.geometry, measuring_crs)
    write_report(path, result, outlines=outlines, inputs={**inputs, "measuring CRS": measuring_crs.to_string()},
                 outline_kind=outline_kind)
