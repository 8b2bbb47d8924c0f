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

from .crs import utm_epsg
from .engine import cluster
from .params import ClusteringInputError, ClusteringParams
from .result import ClusteringResult

OUTPUT_FIELDS = ("cluster_id", "cluster_weight", "cluster_pass")
_LON_LAT_NAMES = [("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"), ("x", "y")]
_DRIVERS = {".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".geojson": "GeoJSON", ".json": "GeoJSON",
            ".fgb": "FlatGeobuf"}


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
            return gpd.read_parquet(path)
        if suffix == ".csv":
            return _read_csv_points(path)
        return gpd.read_file(path, layer=layer)
    except ClusteringInputError:
        raise
    except Exception as exc:  # the reader's own message says what is wrong with the file
        raise ClusteringInputError(f"cannot read {path.name}: {exc}") from None


def _read_csv_points(path: Path) -> gpd.GeoDataFrame:
    table = pd.read_csv(path)
    lower = {c.lower(): c for c in table.columns}
    for lon, lat in _LON_LAT_NAMES:
        if lon in lower and lat in lower:
            lon_col, lat_col = lower[lon], lower[lat]
            coords = table[[lon_col, lat_col]].apply(pd.to_numeric, errors="coerce")
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


def write_layer(frame: gpd.GeoDataFrame, path) -> None:
    path = Path(path)
    suffix = _suffix(path)
    if suffix not in (".parquet", ".geoparquet", ".csv") and suffix not in _DRIVERS:
        raise ClusteringInputError(
            f"unknown output format {suffix!r}: use .parquet, .gpkg, .shp, .geojson, .fgb or .csv"
        )
    if not path.parent.is_dir():
        raise ClusteringInputError(f"cannot write {path}: folder {path.parent} does not exist")
    try:
        _write(frame, path, suffix)
    except ClusteringInputError:
        raise
    except Exception as exc:  # the writer's own message says what went wrong
        raise ClusteringInputError(f"cannot write {path.name}: {exc}") from None


def _write(frame: gpd.GeoDataFrame, path: Path, suffix: str) -> None:
    if suffix in (".parquet", ".geoparquet"):
        frame.to_parquet(path, index=False)
    elif suffix == ".csv":
        table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        table["wkt"] = frame.geometry.to_wkt()
        table.to_csv(path, index=False)
    elif suffix in _DRIVERS:
        if path.exists():
            path.unlink()
        options = {}
        if suffix == ".fgb":
            # A FlatGeobuf spatial index stores rows in Hilbert order; without it rows keep input order.
            options["layer_options"] = {"SPATIAL_INDEX": "NO"}
        frame.to_file(path, driver=_DRIVERS[suffix], **options)


def metric_crs(frame: gpd.GeoDataFrame, epsg: Optional[int] = None) -> CRS:
    """The CRS to measure in: the given EPSG, the layer's own if metric, else its UTM zone."""
    if epsg is not None:
        try:
            crs = CRS.from_epsg(int(epsg))
        except (CRSError, TypeError, ValueError):
            raise ClusteringInputError(f"EPSG:{epsg} is not a known coordinate reference system") from None
        if crs.is_geographic:
            raise ClusteringInputError(f"EPSG:{epsg} is geographic (degrees); give a projected CRS in metres")
        _require_metres(crs)
        return crs
    if frame.crs is None:
        raise ClusteringInputError("the input has no coordinate reference system; set one or pass an EPSG code")
    if frame.crs.is_geographic:
        # The extent's box, not every geometry, goes to lon/lat: the plugin does the same.
        west, south, east, north = frame.geometry.dropna().total_bounds
        if not frame.crs.equals(CRS.from_epsg(4326)):
            west, south, east, north = Transformer.from_crs(frame.crs, 4326, always_xy=True).transform_bounds(
                west, south, east, north)
        try:
            return CRS.from_epsg(utm_epsg((west + east) / 2, (south + north) / 2))
        except ValueError:
            raise ClusteringInputError(
                f"the layer says its CRS is {frame.crs.name} (degrees) but its coordinates are not "
                "longitudes/latitudes; fix the layer's CRS or pass --epsg"
            ) from None
    _require_metres(frame.crs)
    return frame.crs


def _require_metres(crs: CRS) -> None:
    units = {axis.unit_name for axis in crs.axis_info}
    if not units <= {"metre", "meter", "m"}:
        raise ClusteringInputError(f"{crs.name} measures in {', '.join(sorted(units))}, not metres")


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


def geometry_arrays(geometry: gpd.GeoSeries):
    """Centroid x, y and every vertex (with its feature's index) of projected geometries."""
    centroids = geometry.centroid
    points_only = bool((geometry.geom_type == "Point").all())
    if points_only:
        return centroids.x.to_numpy(), centroids.y.to_numpy(), None, None
    vertex_xy, owner = shapely.get_coordinates(geometry.values, return_index=True)
    return centroids.x.to_numpy(), centroids.y.to_numpy(), vertex_xy, owner


def cluster_frame(frame: gpd.GeoDataFrame, params: ClusteringParams, weight_field: Optional[str] = None,
                  epsg: Optional[int] = None, keep_null_geometries: bool = False, progress=None,
                  is_cancelled=None, strata=None):
    """Cluster a GeoDataFrame. Returns (every input row + cluster fields, clusters frame, result).

    Rows keep their order and columns. Null or empty geometries raise an error that
    counts them, unless keep_null_geometries, where they stay with empty cluster fields.
    strata: a core.strata.StrataOptions to cluster each stratum on its own.
    """
    weights = weights_from(frame, weight_field)
    valid = valid_geometries(frame, keep_null_geometries)
    crs = metric_crs(frame, epsg)
    projected = frame.geometry[valid].to_crs(crs)
    x, y, vertex_xy, owner = geometry_arrays(projected.reset_index(drop=True))
    if strata is None:
        result = cluster(x, y, None if weights is None else weights[valid], params, vertex_xy=vertex_xy,
                         vertex_owner=owner, progress=progress, is_cancelled=is_cancelled)
    else:
        from .strata_io import cluster_frame_strata

        result = cluster_frame_strata(frame[valid], strata, params, x, y, None if weights is None else weights[valid],
                                      vertex_xy, owner, progress, is_cancelled)
    out = with_cluster_fields(frame, valid, result.cluster_id.astype(str), result.cluster_weight,
                              result.cluster_pass)
    clusters = clusters_frame(result, projected.reset_index(drop=True), frame.crs or crs)
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


def with_cluster_fields(frame, valid: np.ndarray, ids, weights, passes):
    """A copy of frame with cluster_id/weight/pass filled on the valid rows, empty elsewhere."""
    out = frame.copy()
    out["cluster_id"] = pd.Series(pd.NA, index=out.index, dtype="string")
    out.loc[valid, "cluster_id"] = ids
    out["cluster_weight"] = np.nan
    out.loc[valid, "cluster_weight"] = weights
    out["cluster_pass"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    out.loc[valid, "cluster_pass"] = passes
    return out


_DEGENERATE_HULL_BUFFER_M = 1.0


def clusters_frame(result: ClusteringResult, projected: gpd.GeoSeries, output_crs) -> gpd.GeoDataFrame:
    """One convex-hull polygon per cluster with its figures, in the input's CRS.

    A cluster whose hull is a point or a line (one feature, or features in a row) gets
    that hull buffered by 1 metre instead, so the layer holds polygons only.
    """
    table = result.clusters.to_frame()
    coords, owner = shapely.get_coordinates(projected.values, return_index=True)
    names, inverse = np.unique(result.cluster_id.astype(str), return_inverse=True)
    vertex_cluster = inverse[owner]
    order = np.argsort(vertex_cluster, kind="stable")  # multipoints wants grouped indices
    hulls = shapely.convex_hull(shapely.multipoints(coords[order], indices=vertex_cluster[order]))
    # One point or points in a line have a point or line hull; a 1 m buffer keeps every
    # summary feature a polygon (one geometry type, which Shapefile and QGIS styles need).
    degenerate = shapely.get_type_id(hulls) != 3
    hulls[degenerate] = shapely.buffer(hulls[degenerate], _DEGENERATE_HULL_BUFFER_M)
    by_name = dict(zip(names, hulls))
    hull_series = gpd.GeoSeries([by_name[c] for c in table["cluster_id"]], crs=projected.crs)
    return gpd.GeoDataFrame(table, geometry=hull_series.to_crs(output_crs).values, crs=output_crs)
