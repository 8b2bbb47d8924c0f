"""File adapters: read a layer, cluster it with the engine, write it back with cluster fields.

Uses geopandas (GeoParquet through pyarrow, everything else through pyogrio).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from ..engine.hulls import convex_hulls
from ..engine.result import ClusteringResult
from ..engine.run import cluster
from ..frame.crs import CrsFacts, MeasuringChoice, choose_measuring_crs, remeasure_radii_locally
from ..frame.fields import PASS_FIELD, WEIGHT_FIELD, kind_of_dtype, plan_cluster_fields
from ..params import INVALID_GEOMETRY_CHOICES, ClusteringInputError, ClusteringParams
from .writing import check_target, write_frame

OUTPUT_FIELDS = ("cluster_id", WEIGHT_FIELD, PASS_FIELD)
_LON_LAT_NAMES = [("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"), ("x", "y")]


def _suffix(path) -> str:
    return Path(path).suffix.lower()


def read_layer(path, layer: Optional[str] = None) -> gpd.GeoDataFrame:
    """Read GeoParquet, any OGR vector format, or CSV with lon/lat columns (EPSG:4326)."""
    path = Path(path)
    if not path.exists():
        raise ClusteringInputError(f"input file not found: {path}")
    suffix = _suffix(path)
    try:
        if suffix in (".parquet", ".geoparquet"):
            return _index_as_columns(gpd.read_parquet(path))
        if suffix == ".csv":
            return _read_csv_points(path)
        return gpd.read_file(path, layer=input_layer_name(path, layer))
    except ClusteringInputError:
        raise
    except Exception as exc:  # the reader's own message says what is wrong with the file
        raise ClusteringInputError(f"cannot read {path.name}: {exc}") from None


def input_layer_name(path, layer: Optional[str]) -> Optional[str]:
    """The layer read from a GeoPackage: the one named, else its first (QGIS's layer_styles table is no data)."""
    if layer or _suffix(path) != ".gpkg" or not Path(path).exists():
        return layer
    import pyogrio

    try:
        names = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except Exception:  # reading it will report what is wrong
        return None
    data = [name for name in names if name != "layer_styles"]
    return (data or names or [None])[0]


def _index_as_columns(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A GeoParquet's named index (e.g. a cell id) becomes a column, so every output keeps it."""
    if all(name is None for name in frame.index.names):
        return frame
    return frame.reset_index()


def _read_csv_points(path: Path) -> gpd.GeoDataFrame:
    table = pd.read_csv(path)
    lower = {c.lower(): c for c in table.columns}
    for lon, lat in _LON_LAT_NAMES:
        if lon in lower and lat in lower:
            lon_col, lat_col = lower[lon], lower[lat]
            coords = table[[lon_col, lat_col]].apply(pd.to_numeric, errors="coerce")
            not_numbers = (coords.isna() & table[[lon_col, lat_col]].notna()).any(axis=1)
            if not_numbers.any():
                row = int(np.flatnonzero(not_numbers.to_numpy())[0])
                raise ClusteringInputError(
                    f"{path.name}: {int(not_numbers.sum())} row(s) have a {lon_col}/{lat_col} that is not a number "
                    f"(first: row {row + 2}, {table[lon_col].iloc[row]!r}, {table[lat_col].iloc[row]!r})"
                )
            outside = int(((coords[lon_col].abs() > 180) | (coords[lat_col].abs() > 90)).sum())
            if outside:
                raise ClusteringInputError(
                    f"{path.name}: {outside} row(s) have {lon_col}/{lat_col} outside longitude/latitude range; "
                    "CSV coordinates must be WGS 84 degrees (convert projected x/y to another format first)"
                )
            geometry = gpd.points_from_xy(coords[lon_col], coords[lat_col])
            geometry = np.where(coords.isna().any(axis=1), None, geometry)
            return gpd.GeoDataFrame(table, geometry=list(geometry), crs="EPSG:4326")
    raise ClusteringInputError(
        f"{path.name}: a CSV needs longitude/latitude columns named lon/lat, longitude/latitude or x/y "
        f"(found: {', '.join(table.columns)})"
    )


def write_layer(frame: gpd.GeoDataFrame, path, layer: Optional[str] = None, style=None) -> None:
    """Write to a temporary file beside path, check it, move it into place (see core.io.writing)."""
    write_frame(frame, check_target(path, layer), style)


def _facts(crs: CRS) -> CrsFacts:
    units = sorted({axis.unit_name for axis in crs.axis_info})
    return CrsFacts(label=f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else crs.name, geographic=crs.is_geographic,
                    in_metres=set(units) <= {"metre", "meter", "m"}, units=", ".join(units))


def requested_crs(epsg) -> Optional[CRS]:
    if epsg is None:
        return None
    try:
        return CRS.from_epsg(int(epsg))
    except (CRSError, TypeError, ValueError):
        raise ClusteringInputError(f"EPSG:{epsg} is not a known coordinate reference system") from None


def measuring_choice(frame: gpd.GeoDataFrame, epsg: Optional[int] = None) -> MeasuringChoice:
    """core.frame.crs's rule, fed with pyproj facts about this frame."""
    requested = requested_crs(epsg)
    bounds = tuple(frame.geometry.dropna().total_bounds)
    lonlat = None
    if frame.crs is not None and frame.crs.is_geographic and requested is None:
        lonlat = bounds
        if not frame.crs.equals(CRS.from_epsg(4326)):
            lonlat = Transformer.from_crs(frame.crs, 4326, always_xy=True).transform_bounds(*bounds)
    return choose_measuring_crs(None if requested is None else _facts(requested),
                                None if frame.crs is None else _facts(frame.crs), bounds, lonlat,
                                crs_option="--epsg")


def metric_crs(frame: gpd.GeoDataFrame, epsg: Optional[int] = None) -> CRS:
    """The CRS to measure in (see core.frame.crs.choose_measuring_crs)."""
    choice = measuring_choice(frame, epsg)
    return frame.crs if choice.reason == "layer" else CRS.from_user_input(choice.crs)


def weights_from(frame: pd.DataFrame, weight_field: Optional[str]) -> Optional[np.ndarray]:
    if not weight_field:
        return None
    if weight_field not in frame.columns:
        numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        raise ClusteringInputError(
            f"weight field {weight_field!r} not found; numeric fields are: {', '.join(numeric) or 'none'}"
        )
    column = frame[weight_field]
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise ClusteringInputError(f"weight field {weight_field!r} is not numeric (type {column.dtype})")
    return column.to_numpy(dtype=float, na_value=np.nan)


def previous_ids_from(frame: pd.DataFrame, previous_field: Optional[str], strata=None) -> Optional[np.ndarray]:
    """The previous frame's cluster IDs (nulls: features new since), checked before any work."""
    if not previous_field:
        return None
    if previous_field not in frame.columns or previous_field == frame.geometry.name:
        fields = [str(c) for c in frame.columns if c != frame.geometry.name]
        raise ClusteringInputError(f"previous cluster field {previous_field!r} not found; fields are: "
                                   f"{', '.join(fields) or 'none'}")
    if strata is not None:
        raise ClusteringInputError("updating a previous frame does not combine with strata yet: update each "
                                   "stratum's layer on its own")
    return frame[previous_field].to_numpy(dtype=object)


def geometry_arrays(geometry: gpd.GeoSeries):
    """Centroid x, y and every vertex (with its feature's index) of projected geometries."""
    centroids = geometry.centroid
    points_only = bool((geometry.geom_type == "Point").all())
    if points_only:
        return centroids.x.to_numpy(), centroids.y.to_numpy(), None, None
    vertex_xy, owner = shapely.get_coordinates(geometry.values, return_index=True)
    return centroids.x.to_numpy(), centroids.y.to_numpy(), vertex_xy, owner


def repaired_geometries(geometry: gpd.GeoSeries, invalid_geometries: str = "repair", log=None) -> gpd.GeoSeries:
    """Invalid geometries (self-intersecting polygons) repaired with make_valid, or an error.

    A bowtie's centroid can land far outside it, so it is never clustered as it is. The repaired
    shapes are used for measuring only; the output keeps every geometry as the user gave it.
    """
    if invalid_geometries not in INVALID_GEOMETRY_CHOICES:
        raise ClusteringInputError(f"invalid geometries: choose {' or '.join(INVALID_GEOMETRY_CHOICES)}")
    invalid = ~shapely.is_valid(geometry.values)
    count = int(invalid.sum())
    if not count:
        return geometry
    if invalid_geometries == "error":
        first = int(np.flatnonzero(invalid)[0])
        reason = shapely.is_valid_reason(geometry.values[first])
        raise ClusteringInputError(
            f"{count} feature(s) have an invalid geometry (first: row {first}, {reason}); repair them "
            "(e.g. ogr2ogr -makevalid, or QGIS 'Fix geometries') or let wrok repair them (--invalid-geometries repair)"
        )
    repaired = geometry.copy()
    repaired[invalid] = shapely.make_valid(geometry.values[invalid])
    if log is not None:
        log(f"repaired {count} invalid geometr{'y' if count == 1 else 'ies'} (make_valid) for measuring; "
            "the output keeps the original geometries")
    return repaired


def cluster_field_names(frame: pd.DataFrame, id_field: str = "cluster_id", max_name_length=None):
    """Where the cluster fields go in this frame (core.frame.fields' rule, with pandas column kinds)."""
    existing = [(str(name), kind_of_dtype(frame[name].dtype)) for name in frame.columns
                if name != frame.geometry.name]
    return plan_cluster_fields(existing, id_field, max_name_length)


def cluster_frame(frame: gpd.GeoDataFrame, params: ClusteringParams, weight_field: Optional[str] = None,
                  epsg: Optional[int] = None, keep_null_geometries: bool = False, progress=None,
                  is_cancelled=None, invalid_geometries: str = "repair", log=None, field_names=None, strata=None,
                  previous_field: Optional[str] = None):
    """Cluster a GeoDataFrame. Returns (every input row + cluster fields, clusters frame, result).

    Rows keep their order and columns. Null or empty geometries raise an error that
    counts them, unless keep_null_geometries, where they stay with empty cluster fields.
    field_names: where the cluster fields go (cluster_field_names), checked before any work.
    strata: a core.strata.StrataOptions to cluster each stratum on its own.
    previous_field: a column of cluster IDs from a previous frame to update (core.engine.update).
    """
    valid = valid_geometries(frame, keep_null_geometries)
    names = field_names or cluster_field_names(frame)
    weights = weights_from(frame, weight_field)
    previous = previous_ids_from(frame, previous_field, strata)
    choice = measuring_choice(frame, epsg)
    layer_crs = frame.crs if choice.layer_crs is None else CRS.from_user_input(choice.layer_crs)
    measuring = layer_crs if choice.reason == "layer" else CRS.from_user_input(choice.crs)
    shapes = repaired_geometries(frame.geometry[valid].set_crs(layer_crs, allow_override=True),
                                 invalid_geometries, log)
    projected = shapes.to_crs(measuring)
    x, y, vertex_xy, owner = geometry_arrays(projected.reset_index(drop=True))
    if strata is None:
        result = cluster(x, y, None if weights is None else weights[valid], params, vertex_xy=vertex_xy,
                         vertex_owner=owner, progress=progress, is_cancelled=is_cancelled,
                         previous_ids=None if previous is None else previous[valid])
    else:
        from .strata import cluster_frame_strata

        result = cluster_frame_strata(frame[valid], strata, params, x, y, None if weights is None else weights[valid],
                                      vertex_xy, owner, progress, is_cancelled)
    if choice.per_cluster_local:
        lonlat = shapes.to_crs(4326).reset_index(drop=True)
        lon, lat, _, lonlat_owner = _lonlat_positions(lonlat, vertex_xy is not None)
        remeasure_radii_locally(result, lon, lat, lonlat_owner)
        if log is not None:
            log("the layer is wider than one UTM zone: each cluster's radius was measured around its own centre")
    out = with_cluster_fields(frame, valid, result.cluster_id.astype(str), result.cluster_weight,
                              result.cluster_pass, names)
    if choice.layer_crs is not None:
        out = out.set_crs(layer_crs, allow_override=True)
    clusters = clusters_frame(result, projected.reset_index(drop=True), layer_crs)
    return out, clusters, result


def valid_geometries(frame: gpd.GeoDataFrame, keep_null_geometries: bool) -> np.ndarray:
    """Mask of rows with a geometry; null or empty ones are an error unless kept unclustered."""
    if len(frame) == 0:
        raise ClusteringInputError("the input layer has no features")
    missing_geometry = frame.geometry.isna().to_numpy() | frame.geometry.is_empty.to_numpy()
    if missing_geometry.any() and not keep_null_geometries:
        raise ClusteringInputError(
            f"{int(missing_geometry.sum())} feature(s) have a null or empty geometry; remove or fix them, "
            "or keep them unclustered (--keep-null-geometries)"
        )
    valid = ~missing_geometry
    if not valid.any():
        raise ClusteringInputError("no feature has a geometry")
    return valid


def with_cluster_fields(frame, valid: np.ndarray, ids, weights, passes, names=OUTPUT_FIELDS):
    """A copy of frame with the cluster fields (named `names`) filled on the valid rows, empty elsewhere."""
    id_name, weight_name, pass_name = names
    out = frame.copy()
    out[id_name] = pd.Series(pd.NA, index=out.index, dtype="string")
    out.loc[valid, id_name] = ids
    out[weight_name] = np.nan
    out.loc[valid, weight_name] = weights
    out[pass_name] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    out.loc[valid, pass_name] = passes
    return out


def _lonlat_positions(lonlat: gpd.GeoSeries, with_vertices: bool):
    if not with_vertices:
        return lonlat.x.to_numpy(), lonlat.y.to_numpy(), None, None
    xy, owner = shapely.get_coordinates(lonlat.values, return_index=True)
    return xy[:, 0], xy[:, 1], None, owner


_DEGENERATE_HULL_BUFFER_M = 1.0


def clusters_frame(result: ClusteringResult, projected: gpd.GeoSeries, output_crs) -> gpd.GeoDataFrame:
    """One convex-hull polygon per cluster with its figures, in the input's CRS.

    A cluster whose hull is a point or a line (one feature, or features in a row) gets
    that hull buffered by 1 metre instead, so the layer holds polygons only.
    """
    table = result.clusters.to_frame()
    coords, owner = shapely.get_coordinates(projected.values, return_index=True)
    names, inverse = np.unique(result.cluster_id.astype(str), return_inverse=True)
    rings = convex_hulls(coords[:, 0], coords[:, 1], inverse[owner], len(names))
    hulls = np.array([shapely.Polygon(ring) if len(ring) >= 3 else shapely.MultiPoint(ring).convex_hull
                      for ring in rings], dtype=object)
    # One point or points in a line have a point or line hull; a 1 m buffer keeps every
    # summary feature a polygon (one geometry type, which Shapefile and QGIS styles need).
    degenerate = shapely.get_type_id(hulls) != 3
    hulls[degenerate] = shapely.buffer(hulls[degenerate], _DEGENERATE_HULL_BUFFER_M)
    by_name = dict(zip(names, hulls))
    hull_series = gpd.GeoSeries([by_name[c] for c in table["cluster_id"]], crs=projected.crs)
    return gpd.GeoDataFrame(table, geometry=hull_series.to_crs(output_crs).values, crs=output_crs)
