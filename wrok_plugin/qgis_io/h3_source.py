"""H3 cells as the algorithm's input: each row of a table (or layer) becomes its cell's hexagon.

`HexagonSource` looks like the feature source the algorithm reads (fields, wkbType, sourceCrs,
getFeatures, featureCount), so the rest of the run is the polygon path unchanged: radius measured
on the hexagons, outputs as hexagon polygons in EPSG:4326. Hexagons come from core.frame.h3cells (the
`h3` package: no PROJ or GEOS, safe in the desktop), built here as QGIS geometries.
"""

from __future__ import annotations

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsGeometry,
    QgsLineString,
    QgsMultiPolygon,
    QgsPoint,
    QgsPolygon,
    QgsProcessingException,
    QgsWkbTypes,
)

WGS84 = "EPSG:4326"


def _polygon(ring) -> QgsPolygon:
    polygon = QgsPolygon()
    polygon.setExteriorRing(QgsLineString([QgsPoint(lon, lat) for lon, lat in ring]))
    return polygon


def _hexagon(rings) -> QgsGeometry:
    multi = QgsMultiPolygon()  # one geometry type for every cell, split at the antimeridian or not
    for ring in rings:
        multi.addGeometry(_polygon(ring))
    return QgsGeometry(multi)


class HexagonSource:
    """The source's rows with their H3 cell's hexagon as geometry (ids and attributes kept)."""

    def __init__(self, source, h3_field: str, is_cancelled=lambda: False):
        from core import ClusteringInputError
        from core.frame.h3cells import cell_centres, cell_rings, measuring_epsg, parse_cells

        self._fields = source.fields()
        index = self._fields.lookupField(h3_field)
        if index < 0:
            raise QgsProcessingException(f"H3 field '{h3_field}' is not in the input layer.")
        rows = sorted(source.getFeatures(), key=lambda feature: feature.id())
        values = [None if _is_null(row.attribute(index)) else row.attribute(index) for row in rows]
        try:
            self.cells = parse_cells(values, h3_field)
        except ClusteringInputError as exc:
            raise QgsProcessingException(f"Cannot read H3 cells: {exc}.") from None
        self.features = []
        for row, rings in zip(rows, cell_rings(self.cells)):
            if is_cancelled():
                break
            feature = QgsFeature(row)
            feature.setGeometry(_hexagon(rings))
            self.features.append(feature)
        self.measuring_crs = QgsCoordinateReferenceSystem(f"EPSG:{measuring_epsg(*cell_centres(self.cells))}")

    def fields(self):
        return self._fields

    def wkbType(self):
        return QgsWkbTypes.Type.MultiPolygon

    def sourceCrs(self):
        return QgsCoordinateReferenceSystem(WGS84)

    def featureCount(self):
        return len(self.features)

    def getFeatures(self):
        return iter(self.features)


def _is_null(value) -> bool:
    return value is None or (hasattr(value, "isNull") and value.isNull())


def contiguity_message(cells, cluster_ids):
    """(share of clusters whose cells are H3-connected, a line for the log)."""
    from core.frame.h3cells import connected_clusters

    connected, total = connected_clusters(cells, cluster_ids)
    return connected / total, f"{connected} of {total} clusters are H3-connected ({connected / total:.1%})"
