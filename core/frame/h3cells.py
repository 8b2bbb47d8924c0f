"""H3 cells as input: check cell indexes, build their hexagons, aggregate points, measure H3 contiguity.

Pure numpy + the `h3` package (v4, a self-contained C library: no PROJ or GEOS, safe in QGIS).
The CLI and the plugin build their own geometries from `cell_rings`, so both get the same hexagons.
"""

from __future__ import annotations

import math
from typing import List, Sequence, Tuple

import numpy as np

from ..params import ClusteringInputError
from .crs import utm_epsg

Ring = List[Tuple[float, float]]  # closed (lon, lat) ring


def _h3():
    try:
        from h3.api import basic_int
    except ImportError:
        raise ClusteringInputError("H3 input needs the h3 package (v4): pip install h3") from None
    return basic_int


def _as_index(value) -> int:
    """An H3 index from a hex string or an integer; -1 when it is neither."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        return -1
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else -1
    text = str(value).strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    try:
        return int(text, 16)
    except ValueError:
        return -1


def parse_cells(values: Sequence, field: str = "h3") -> np.ndarray:
    """Each row's H3 cell as uint64; refuses nulls, invalid indexes, mixed resolutions and duplicates."""
    h3 = _h3()
    if len(values) == 0:
        raise ClusteringInputError("the input layer has no features")
    indexes = [_as_index(v) for v in values]
    nulls = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and math.isnan(v))]
    if nulls:
        raise ClusteringInputError(f"{len(nulls)} row(s) have no H3 index in field {field!r} (first: row {nulls[0]})")
    invalid = [i for i, index in enumerate(indexes) if not (0 < index < 2**64 and h3.is_valid_cell(index))]
    if invalid:
        examples = ", ".join(f"row {i}: {values[i]!r}" for i in invalid[:3])
        raise ClusteringInputError(
            f"{len(invalid)} value(s) in field {field!r} are not valid H3 cell indexes ({examples}); "
            "give H3 cells as hex strings such as '8928308280fffff' or as 64-bit integers")
    cells = np.array(indexes, dtype=np.uint64)
    resolutions = np.array([h3.get_resolution(int(c)) for c in cells])
    found = np.unique(resolutions)
    if len(found) > 1:
        counts = ", ".join(f"{int((resolutions == r).sum())} at resolution {r}" for r in found)
        raise ClusteringInputError(
            f"field {field!r} mixes H3 resolutions ({counts}); bring every cell to one resolution first "
            "(e.g. h3.cell_to_parent, summing the weights)")
    unique, counts = np.unique(cells, return_counts=True)
    if (counts > 1).any():
        repeated = unique[counts > 1]
        raise ClusteringInputError(
            f"{int((counts[counts > 1] - 1).sum())} duplicate H3 cell row(s) in field {field!r} "
            f"(e.g. {h3.int_to_str(int(repeated[0]))} appears {int(counts[counts > 1][0])} times); "
            "sum their weights into one row per cell first")
    return cells


def cell_centres(cells: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(lon, lat) of each cell's centre."""
    h3 = _h3()
    lat_lng = np.array([h3.cell_to_latlng(int(c)) for c in cells], dtype=float).reshape(-1, 2)
    return lat_lng[:, 1], lat_lng[:, 0]


def _clip(ring: Ring, keep_west: bool) -> Ring:
    """Sutherland-Hodgman clip of a ring against the line lon = 180 (ring in unwrapped 0..360 longitudes)."""
    inside = (lambda p: p[0] <= 180.0) if keep_west else (lambda p: p[0] >= 180.0)
    out = []
    for a, b in zip(ring, ring[1:] + ring[:1]):
        if inside(b):
            if not inside(a):
                out.append(_cross(a, b))
            out.append(b)
        elif inside(a):
            out.append(_cross(a, b))
    return out


def _cross(a, b):
    t = (180.0 - a[0]) / (b[0] - a[0])
    return (180.0, a[1] + t * (b[1] - a[1]))


def _closed(ring: Ring) -> Ring:
    return ring + ring[:1] if ring and ring[0] != ring[-1] else ring


def cell_rings(cells: np.ndarray) -> List[List[Ring]]:
    """Each cell's outline as closed (lon, lat) rings: one, or two for a cell the antimeridian cuts."""
    h3 = _h3()
    polygons = []
    for cell in cells:
        ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(int(cell))]
        lons = [p[0] for p in ring]
        if max(lons) - min(lons) <= 180.0:
            polygons.append([_closed(ring)])
            continue
        # The cell straddles lon = ±180: unwrap to 0..360, cut at 180, and put the east part back at -180.
        unwrapped = [(lng + 360.0 if lng < 0 else lng, lat) for lng, lat in ring]
        west = _clip(unwrapped, keep_west=True)
        east = [(lng - 360.0, lat) for lng, lat in _clip(unwrapped, keep_west=False)]
        polygons.append([_closed(part) for part in (west, east) if len(part) >= 3])
    return polygons


def measuring_epsg(lon: np.ndarray, lat: np.ndarray) -> int:
    """UTM zone for cells, from their circular mean longitude, so a set across ±180 lands near it."""
    angle = np.radians(lon)
    mean_lon = math.degrees(math.atan2(np.sin(angle).mean(), np.cos(angle).mean()))
    return utm_epsg(max(-180.0, min(180.0, mean_lon)), float(np.mean(lat)))


def check_resolution(resolution) -> int:
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or not 0 <= resolution <= 15:
        raise ClusteringInputError(f"H3 resolution must be an integer from 0 to 15, got {resolution!r}")
    return int(resolution)


def points_to_cells(lon: np.ndarray, lat: np.ndarray, weights, resolution: int):
    """Aggregate points to H3 cells: (cells, each point's cell index into them, summed weight per cell)."""
    h3 = _h3()
    resolution = check_resolution(resolution)
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise ClusteringInputError("some points have no finite longitude/latitude")
    if (np.abs(lat) > 90).any() or (np.abs(lon) > 180).any():
        raise ClusteringInputError("point coordinates are not longitude/latitude degrees")
    per_point = np.fromiter((h3.latlng_to_cell(a, b, resolution) for a, b in zip(lat.tolist(), lon.tolist())),
                            dtype=np.uint64, count=len(lon))
    cells, inverse = np.unique(per_point, return_inverse=True)
    w = np.ones(len(lon)) if weights is None else np.asarray(weights, dtype=float)
    return cells, inverse, np.bincount(inverse, weights=w, minlength=len(cells))


def connected_clusters(cells: np.ndarray, labels: np.ndarray) -> Tuple[int, int]:
    """(clusters whose cells form one H3-adjacent piece, clusters); labels: each cell's cluster."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    h3 = _h3()
    labels = np.asarray(labels)
    _, cluster_of = np.unique(labels, return_inverse=True)
    position = {int(c): i for i, c in enumerate(cells)}
    rows, cols = [], []
    for i, cell in enumerate(cells):
        for neighbour in h3.grid_disk(int(cell), 1):  # grid_disk, unlike grid_ring, works at pentagons
            j = position.get(neighbour)
            if j is not None and j != i and cluster_of[j] == cluster_of[i]:
                rows.append(i)
                cols.append(j)
    n = len(cells)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    pieces = np.zeros(cluster_of.max() + 1, dtype=np.int64)
    for cluster in np.unique(np.column_stack([cluster_of, component]), axis=0)[:, 0]:
        pieces[cluster] += 1
    return int((pieces == 1).sum()), len(pieces)
