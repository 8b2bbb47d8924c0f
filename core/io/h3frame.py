"""H3 inputs for the CLI (geopandas): tables of H3 cells, and points aggregated to H3 cells.

Cells become their hexagons in EPSG:4326 and go through the same `cluster_frame` as any
polygon layer, so radius is measured on the hexagons; contiguity is counted on H3 adjacency.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..frame.h3cells import cell_centres, cell_rings, connected_clusters, measuring_epsg, parse_cells, points_to_cells
from ..params import ClusteringInputError, ClusteringParams
from .files import OUTPUT_FIELDS, cluster_frame, read_layer, valid_geometries, weights_from, with_cluster_fields

H3_CELL_FIELD = "h3_cell"  # added to each point's row by the points-to-H3 path


def read_table(path, layer: Optional[str] = None) -> pd.DataFrame:
    """Any input the CLI reads, with or without a geometry column (an H3 table usually has none)."""
    path = Path(path)
    if path.exists() and path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    if path.exists() and path.suffix.lower() in (".parquet", ".geoparquet"):
        try:
            return gpd.read_parquet(path)
        except ValueError:  # plain Parquet: no geometry metadata
            return pd.read_parquet(path)
    return read_layer(path, layer)


def hexagons(cells: np.ndarray) -> np.ndarray:
    """Shapely (Multi)Polygons of the cells; a cell cut by the antimeridian is a MultiPolygon."""
    all_rings = cell_rings(cells)
    single = np.array([len(rings) == 1 for rings in all_rings], dtype=bool)
    shapes = np.empty(len(cells), dtype=object)
    # One vectorised call for the (usual) single-ring cells: building 10^5 Polygons one by one is slow.
    rings = [all_rings[i][0] for i in np.flatnonzero(single)]
    if rings:
        lengths = np.array([len(ring) for ring in rings])
        coords = np.array([point for ring in rings for point in ring], dtype=float)
        shapes[single] = shapely.polygons(shapely.linearrings(coords, indices=np.repeat(np.arange(len(rings)),
                                                                                       lengths)))
    for i in np.flatnonzero(~single):
        shapes[i] = shapely.MultiPolygon([shapely.Polygon(ring) for ring in all_rings[i]])
    return shapes


def h3_cell_frame(table: pd.DataFrame, h3_field: str) -> tuple:
    """(GeoDataFrame of the rows with their hexagons in EPSG:4326, cells as uint64)."""
    if h3_field not in table.columns:
        raise ClusteringInputError(f"H3 field {h3_field!r} not found; fields are: {', '.join(map(str, table.columns))}")
    cells = parse_cells(table[h3_field].tolist(), h3_field)
    attributes = pd.DataFrame(table.drop(columns=[table.geometry.name])) if isinstance(table, gpd.GeoDataFrame) \
        else pd.DataFrame(table)
    return gpd.GeoDataFrame(attributes, geometry=hexagons(cells), crs="EPSG:4326"), cells


def _default_epsg(cells: np.ndarray, epsg: Optional[int]) -> int:
    return epsg if epsg is not None else measuring_epsg(*cell_centres(cells))


def cluster_h3_table(table: pd.DataFrame, h3_field: str, params: ClusteringParams, weight_field=None,
                     epsg=None, progress=None, is_cancelled=None):
    """Cluster one row per H3 cell. Returns (hexagons + cluster fields, clusters, result, H3 contiguity)."""
    frame, cells = h3_cell_frame(table, h3_field)
    out, clusters, result = cluster_frame(frame, params, weight_field, _default_epsg(cells, epsg),
                                          progress=progress, is_cancelled=is_cancelled)
    return out, clusters, result, contiguity(cells, result.cluster_id)


def contiguity(cells: np.ndarray, cluster_ids) -> dict:
    connected, total = connected_clusters(cells, np.asarray(cluster_ids).astype(str))
    return {"h3_connected_clusters": connected, "h3_connected_share": connected / total}


def point_lon_lat(frame: gpd.GeoDataFrame, valid: np.ndarray):
    geometry = frame.geometry[valid]
    if not (geometry.geom_type == "Point").all():
        raise ClusteringInputError("aggregating to H3 cells needs a point layer; take centroids of other shapes first")
    if frame.crs is None:
        raise ClusteringInputError("the input has no coordinate reference system; set one first")
    if not frame.crs.equals("EPSG:4326"):
        geometry = geometry.to_crs(4326)
    return geometry.x.to_numpy(), geometry.y.to_numpy()


def cluster_points_by_h3(frame: gpd.GeoDataFrame, resolution: int, params: ClusteringParams, weight_field=None,
                         epsg=None, keep_null_geometries=False, progress=None, is_cancelled=None):
    """Sum point weights per H3 cell, cluster the cells, give every point its cell's cluster fields.

    Returns (every input row + cluster fields + h3_cell, clusters, result on the cells, H3 contiguity).
    """
    weights = weights_from(frame, weight_field)
    valid = valid_geometries(frame, keep_null_geometries)
    if weights is not None and not np.isfinite(weights[valid]).all():
        raise ClusteringInputError(f"weight field {weight_field!r} has missing or non-finite values")
    lon, lat = point_lon_lat(frame, valid)
    cells, cell_of_point, cell_weight = points_to_cells(lon, lat, None if weights is None else weights[valid],
                                                        resolution)
    cell_table = pd.DataFrame({"h3": cells, "weight": cell_weight})
    cell_out, clusters, result, connected = cluster_h3_table(cell_table, "h3", params, "weight", epsg, progress,
                                                             is_cancelled)
    out = with_cluster_fields(frame, valid, *(cell_out[name].to_numpy()[cell_of_point] for name in OUTPUT_FIELDS))
    from h3.api import basic_int

    out[H3_CELL_FIELD] = pd.Series(pd.NA, index=out.index, dtype="string")
    out.loc[valid, H3_CELL_FIELD] = np.array([basic_int.int_to_str(int(c)) for c in cells])[cell_of_point]
    return out, clusters, result, connected
