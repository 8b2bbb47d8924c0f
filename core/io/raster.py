"""Population rasters as weighted features, with GDAL only (osgeo, the GDAL QGIS itself loads).

Every pixel with a positive value that is not nodata is one feature: its centre is the
position, its value the weight and its square the footprint counted in radii. Pixels are
read in row-major order, a block of rows at a time, so memory follows the pixels kept,
not the raster's size. Outputs: a raster of cluster numbers aligned to the input, and
one (multi)polygon per cluster dissolved from its pixel squares (areas that tile).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from osgeo import gdal, ogr, osr

from ..frame.crs import utm_epsg
from ..params import ClusteringCancelled, ClusteringInputError, worker_threads

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img", ".asc")
_ROWS_PER_READ = 512  # rows read at a time: bounded memory on any width of raster
_TRANSFORM_CHUNK = 500_000  # points per osr call (it returns Python tuples)


def is_raster_path(path) -> bool:
    return str(path).lower().endswith(RASTER_SUFFIXES)


@dataclass
class RasterPixels:
    rows: np.ndarray  # int32, row-major order
    cols: np.ndarray
    values: np.ndarray  # float64 weights
    geotransform: tuple
    crs_wkt: str
    width: int
    height: int

    def __len__(self):
        return len(self.values)

    def centres(self):
        """Pixel centres in the raster's CRS."""
        x0, dx, _, y0, _, dy = self.geotransform
        return x0 + (self.cols + 0.5) * dx, y0 + (self.rows + 0.5) * dy


def _spatial_ref(wkt_or_epsg) -> osr.SpatialReference:
    ref = osr.SpatialReference()
    if isinstance(wkt_or_epsg, int):
        ref.ImportFromEPSG(wkt_or_epsg)
    else:
        ref.ImportFromWkt(wkt_or_epsg)
    ref.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return ref


def open_band(path, band: int = 1):
    try:
        dataset = gdal.Open(str(path))
    except RuntimeError as exc:
        raise ClusteringInputError(f"cannot read raster {path}: {exc}") from None
    if band < 1 or band > dataset.RasterCount:
        raise ClusteringInputError(f"{path} has {dataset.RasterCount} band(s); band {band} does not exist")
    return dataset, dataset.GetRasterBand(band)


def read_pixels(path, band: int = 1, progress: Optional[Callable[[float], None]] = None,
                is_cancelled: Callable[[], bool] = lambda: False, positive_only: bool = True) -> RasterPixels:
    """The raster's weighted pixels (value > 0, not nodata, finite), read a block of rows at a time.

    positive_only=False keeps every finite value that is not nodata (values as features, e.g. NDVI).
    """
    dataset, raster_band = open_band(path, band)
    geotransform = dataset.GetGeoTransform()
    if geotransform[2] != 0 or geotransform[4] != 0:
        raise ClusteringInputError(f"{path} is rotated (its geotransform has rotation terms); warp it north-up first")
    crs_wkt = dataset.GetProjection()
    if not crs_wkt:
        raise ClusteringInputError(f"{path} has no coordinate reference system; assign one first")
    nodata = raster_band.GetNoDataValue()
    width, height = dataset.RasterXSize, dataset.RasterYSize
    rows, cols, values = [], [], []
    for top in range(0, height, _ROWS_PER_READ):
        if is_cancelled():
            raise ClusteringCancelled("cancelled while reading the raster")
        count = min(_ROWS_PER_READ, height - top)
        block = raster_band.ReadAsArray(0, top, width, count).astype(np.float64, copy=False)
        keep = np.isfinite(block) & (block > 0) if positive_only else np.isfinite(block)
        if nodata is not None:
            keep &= block != nodata
        r, c = np.nonzero(keep)
        rows.append((r + top).astype(np.int32))
        cols.append(c.astype(np.int32))
        values.append(block[r, c])
        if progress is not None:
            progress((top + count) / height)
    pixels = RasterPixels(np.concatenate(rows), np.concatenate(cols), np.concatenate(values), geotransform, crs_wkt,
                          width, height)
    if len(pixels) == 0:
        raise ClusteringInputError(f"{path} has no pixel with a {'positive ' if positive_only else ''}value "
                                   "(nodata is skipped)")
    return pixels


def measuring_epsg(pixels: RasterPixels, epsg: Optional[int] = None) -> Optional[int]:
    """EPSG to measure in: the given one, None for the raster's own CRS if in metres, else its UTM zone."""
    source = _spatial_ref(pixels.crs_wkt)
    if epsg is not None:
        target = _spatial_ref(int(epsg))
        if target.IsGeographic() or abs(target.GetLinearUnits() - 1.0) > 1e-12:
            raise ClusteringInputError(f"EPSG:{epsg} does not measure in metres; give a projected CRS in metres")
        return int(epsg)
    if source.IsProjected() and abs(source.GetLinearUnits() - 1.0) <= 1e-12:
        return None
    if not source.IsGeographic():
        raise ClusteringInputError("the raster's CRS does not measure in metres; give a projected CRS in metres")
    x0, dx, _, y0, _, dy = pixels.geotransform
    corners = np.array([[x0, y0], [x0 + dx * pixels.width, y0 + dy * pixels.height]])
    lon, lat = _transform(corners[:, 0], corners[:, 1], source, _spatial_ref(4326))
    try:
        return utm_epsg(float(lon.mean()), float(lat.mean()))
    except ValueError:
        raise ClusteringInputError("the raster's coordinates are not longitudes/latitudes; fix its CRS") from None


def _transform(x, y, source, target):
    if source.IsSame(target):
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    transform = osr.CoordinateTransformation(source, target)
    out_x, out_y = np.empty(len(x)), np.empty(len(x))
    for start in range(0, len(x), _TRANSFORM_CHUNK):
        stop = start + _TRANSFORM_CHUNK
        points = np.asarray(transform.TransformPoints(np.column_stack([x[start:stop], y[start:stop]])))
        out_x[start:stop], out_y[start:stop] = points[:, 0], points[:, 1]
    return out_x, out_y


def positions_in_metres(pixels: RasterPixels, epsg: Optional[int]):
    """(x, y, footprint half sizes) of the pixels in the measuring CRS (the raster's own if epsg is None).

    In another CRS a pixel is not an exact square: the footprint is the largest half
    width and height of projected pixels sampled over the raster, so radii err on the
    side of covering it.
    """
    x, y = pixels.centres()
    _, dx, _, _, _, dy = pixels.geotransform
    if epsg is None:
        return x, y, (abs(dx) / 2, abs(dy) / 2)
    source, target = _spatial_ref(pixels.crs_wkt), _spatial_ref(int(epsg))
    mx, my = _transform(x, y, source, target)
    sample = np.unique(np.linspace(0, len(x) - 1, 64).astype(int))
    sx, sy = x[sample], y[sample]
    half_w = half_h = 0.0
    centre_x, centre_y = _transform(sx, sy, source, target)
    for ox, oy in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)):
        cx, cy = _transform(sx + ox * dx, sy + oy * dy, source, target)
        half_w = max(half_w, float(np.abs(cx - centre_x).max()))
        half_h = max(half_h, float(np.abs(cy - centre_y).max()))
    return mx, my, (half_w, half_h)


def check_raster_target(path, input_path, option: str) -> Path:
    """A GeoTIFF target that is writable and is not the input raster; checked before any work."""
    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise ClusteringInputError(f"{option} must be a GeoTIFF (.tif), not {path.suffix or 'no extension'}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ClusteringInputError(f"cannot write {path}: folder {folder} does not exist or is not writable")
    if path.exists() and Path(input_path).exists() and os.path.samefile(path, input_path):
        raise ClusteringInputError(f"{option} {path.name} is the input raster; writing it would replace your data")
    return path


def write_cluster_raster(path, pixels: RasterPixels, numbers: np.ndarray, driver: str = "GTiff") -> None:
    """A raster aligned to the input: each pixel's cluster number (1..k), 0 (nodata) elsewhere.

    Written beside the target under a temporary name and moved into place when complete.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise ClusteringInputError(f"cannot write {path}: folder {path.parent} does not exist")
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        _write_numbers(partial, pixels, numbers, driver)
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()


def _write_numbers(path, pixels: RasterPixels, numbers: np.ndarray, driver: str) -> None:
    options = ["COMPRESS=DEFLATE", "TILED=YES", "BIGTIFF=IF_SAFER"] if driver == "GTiff" else []
    dataset = gdal.GetDriverByName(driver).Create(str(path), pixels.width, pixels.height, 1, gdal.GDT_Int32, options)
    dataset.SetGeoTransform(pixels.geotransform)
    dataset.SetProjection(pixels.crs_wkt)
    band = dataset.GetRasterBand(1)
    band.SetNoDataValue(0)
    bounds = np.searchsorted(pixels.rows, np.arange(0, pixels.height + _ROWS_PER_READ, _ROWS_PER_READ))
    for block, top in enumerate(range(0, pixels.height, _ROWS_PER_READ)):
        count = min(_ROWS_PER_READ, pixels.height - top)
        window = np.zeros((count, pixels.width), dtype=np.int32)
        take = slice(bounds[block], bounds[block + 1])
        window[pixels.rows[take] - top, pixels.cols[take]] = numbers[take]
        band.WriteArray(window, 0, top)
    band.FlushCache()
    dataset = None  # closes and writes the file


def memory_vector_source(name: str):
    """An in-memory OGR data source: GDAL 3.11 made "MEM" take vectors and deprecated "Memory" (a warning each use)."""
    driver = "MEM" if int(gdal.VersionInfo()) >= 3110000 else "Memory"
    return ogr.GetDriverByName(driver).CreateDataSource(name)


def cluster_polygons(cluster_raster_path, n_jobs: int = 1):
    """{cluster number: WKB of its pixel squares dissolved into one (multi)polygon}, in the raster's CRS.

    Pieces are repaired on n_jobs threads (GDAL releases the GIL); the result is the same for any count.
    """
    dataset, band = open_band(cluster_raster_path)
    layer_source = memory_vector_source("polygons")
    layer = layer_source.CreateLayer("polygons", _spatial_ref(dataset.GetProjection()), ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("number", ogr.OFTInteger))
    # Pixels of a cluster touching only at a corner become separate parts of one multipolygon.
    gdal.Polygonize(band, band.GetMaskBand(), layer, 0, ["8CONNECTED=4"])
    parts = {}
    for feature in layer:
        parts.setdefault(feature.GetField(0), []).append(feature.GetGeometryRef().Clone())
    layer_source = None

    def dissolve(pieces):
        gdal.PushErrorHandler("CPLQuietErrorHandler")  # per thread; IsValid would print each self-touch
        try:
            multi = ogr.Geometry(ogr.wkbMultiPolygon)
            for piece in pieces:
                _add_polygons(multi, _valid(piece))
            return bytes(multi.ExportToWkb())
        finally:
            gdal.PopErrorHandler()

    numbers = list(parts)
    threads = max(1, min(worker_threads(n_jobs), len(numbers)))
    if threads == 1:
        return {number: dissolve(parts[number]) for number in numbers}
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return dict(zip(numbers, pool.map(dissolve, (parts[number] for number in numbers), chunksize=256)))


def _valid(polygon):
    """Polygonize traces a hole or part that touches another at a pixel corner as one self-touching
    ring, which GEOS (and Processing's invalid-geometry check) rejects; this splits it there.

    Each traced piece is repaired on its own: pieces of one number are disjoint 4-connected
    areas, so only a piece can be invalid. Buffer(0) splits a self-touching ring in a fraction
    of MakeValid's time; its rings never cross, so it keeps the area exactly, which is checked,
    and MakeValid takes over if not.
    """
    if polygon.IsValid():
        return polygon
    fixed = polygon.Buffer(0)
    area = polygon.GetArea()
    if fixed.IsValid() and abs(fixed.GetArea() - area) <= 1e-9 * area:
        return fixed
    return polygon.MakeValid()


def _add_polygons(multi, root):
    """Add the polygons of `root` (a polygon or whatever collection MakeValid returns) to `multi`.

    GetGeometryRef returns views into `root`, so `root` stays referenced here until they are copied.
    """
    stack = [root]
    while stack:
        geometry = stack.pop()
        kind = ogr.GT_Flatten(geometry.GetGeometryType())
        if kind == ogr.wkbPolygon:
            multi.AddGeometry(geometry)  # copies
        elif kind in (ogr.wkbMultiPolygon, ogr.wkbGeometryCollection):
            stack += [geometry.GetGeometryRef(i) for i in reversed(range(geometry.GetGeometryCount()))]


def cluster_numbers(result) -> np.ndarray:
    """Each feature's cluster as 1..k, the row of its cluster in result.clusters plus one."""
    return (result.cluster_row + 1).astype(np.int32)


def cluster_raster(pixels: RasterPixels, params, epsg: Optional[int] = None, strata=None, progress=None,
                   is_cancelled=None):
    """Cluster a raster's pixels; returns (result, cluster number per pixel, EPSG measured in or None).

    strata: optional (keys per pixel, params by stratum, n_jobs, ...) for core.frame.strata.cluster_strata.
    """
    from ..engine.run import cluster
    from ..frame.strata import cluster_strata

    measured_in = measuring_epsg(pixels, epsg)
    x, y, footprint = positions_in_metres(pixels, measured_in)
    if strata is None:
        result = cluster(x, y, pixels.values, params, footprint=footprint, progress=progress,
                         is_cancelled=is_cancelled)
    else:
        keys, by_stratum, n_jobs = strata[:3]
        result = cluster_strata(x, y, pixels.values, keys, by_stratum, params, footprint=footprint, n_jobs=n_jobs,
                                progress=progress, is_cancelled=is_cancelled)
    return result, cluster_numbers(result), measured_in
