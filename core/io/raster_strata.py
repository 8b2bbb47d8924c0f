"""Strata for rasters: each pixel belongs to the stratum polygon (e.g. a district) holding its centre.

The polygons are burnt onto the raster's grid with GDAL (the pixel-centre rule), so this
works the same in the CLI and inside QGIS. A populated pixel outside every polygon is an
error that counts them: no pixel is left out silently.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np
from osgeo import gdal, ogr

from ..params import ClusteringInputError
from .raster import RasterPixels, _spatial_ref, memory_vector_source


def polygon_of_pixels(pixels: RasterPixels, polygons_wkb: Sequence[bytes], polygons_crs_wkt: str) -> np.ndarray:
    """Index of the polygon holding each pixel's centre (the first one where polygons overlap)."""
    source = memory_vector_source("strata")
    layer = source.CreateLayer("strata", _spatial_ref(pixels.crs_wkt), ogr.wkbMultiPolygon)
    layer.CreateField(ogr.FieldDefn("ordinal", ogr.OFTInteger))
    to_raster = None
    polygon_ref, raster_ref = _spatial_ref(polygons_crs_wkt), _spatial_ref(pixels.crs_wkt)
    if not polygon_ref.IsSame(raster_ref):
        from osgeo import osr

        to_raster = osr.CoordinateTransformation(polygon_ref, raster_ref)
    # Burnt in reverse so that, where polygons overlap, the first one listed wins.
    for ordinal in range(len(polygons_wkb), 0, -1):
        geometry = ogr.CreateGeometryFromWkb(bytes(polygons_wkb[ordinal - 1]))
        if to_raster is not None:
            geometry.Transform(to_raster)
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("ordinal", ordinal)
        feature.SetGeometry(geometry)
        layer.CreateFeature(feature)
    grid = gdal.GetDriverByName("MEM").Create("", pixels.width, pixels.height, 1, gdal.GDT_Int32)
    grid.SetGeoTransform(pixels.geotransform)
    grid.SetProjection(pixels.crs_wkt)
    gdal.RasterizeLayer(grid, [1], layer, options=["ATTRIBUTE=ordinal"])
    ordinals = grid.GetRasterBand(1).ReadAsArray()[pixels.rows, pixels.cols].astype(np.int64) - 1
    outside = ordinals < 0
    if outside.any():
        raise ClusteringInputError(
            f"{int(outside.sum()):,} populated pixel(s) (weight {pixels.values[outside].sum():,.1f}) lie outside "
            "every stratum polygon; extend the strata layer (e.g. buffer it a little) so it covers them")
    return ordinals


def pixel_strata(pixels: RasterPixels, polygons_wkb, polygons_crs_wkt: str, polygon_columns: Dict[str, List],
                 options, base):
    """(keys per pixel, params by stratum, warnings) for cluster_raster's strata argument.

    polygon_columns: every field of the polygons, {name: values in polygon order}; options a
    core.strata.StrataOptions whose fields (and setting fields) name polygon fields.
    """
    def column(name):
        if name not in polygon_columns:
            raise ClusteringInputError(f"field {name!r} is not in the strata layer; its fields are "
                                       f"{', '.join(polygon_columns)}")
        return polygon_columns[name]

    polygon_keys, by_stratum, warnings = options.plan(column, base)
    keys = np.asarray(polygon_keys, dtype=object)[polygon_of_pixels(pixels, polygons_wkb, polygons_crs_wkt)]
    return keys, by_stratum, warnings
