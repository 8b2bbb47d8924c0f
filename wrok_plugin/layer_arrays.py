"""QgsFeatures -> the engine's numpy arrays, in a measuring CRS in metres.

Shared by the Processing algorithm and the write-back task so both feed the engine
identically (and like the CLI: centroid positions, every vertex for non-point layers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional

import numpy as np
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCsException,
    QgsFields,
    QgsGeometry,
    QgsProcessingException,
    QgsRectangle,
    QgsUnitTypes,
    QgsWkbTypes,
)

CANCEL_CHECK_EVERY = 500  # features between cancel checks: well under a second of work


@dataclass
class LayerArrays:
    features: List  # the QgsFeatures read, in order (source CRS, all attributes)
    x: np.ndarray  # centroid positions in the measuring CRS, metres
    y: np.ndarray
    weights: Optional[np.ndarray]
    vertex_xy: Optional[np.ndarray]  # every vertex (polygons, multipoints), else None
    vertex_owner: Optional[np.ndarray]
    measuring_crs: QgsCoordinateReferenceSystem
    to_measuring: QgsCoordinateTransform
    source_crs: QgsCoordinateReferenceSystem  # the layer's, or the measuring CRS when the layer has none
    repaired: int = 0  # invalid geometries repaired (makeValid) for measuring
    lonlat: Optional[np.ndarray] = None  # positions in degrees when radii are re-measured per cluster
    lonlat_owner: Optional[np.ndarray] = None

    @property
    def feature_ids(self) -> List[int]:
        return [feature.id() for feature in self.features]

    def hull_coordinates(self):
        """(coordinates, owning feature index) to build each cluster's outline from."""
        if self.vertex_xy is None:
            return np.column_stack([self.x, self.y]), np.arange(len(self.x))
        return self.vertex_xy, self.vertex_owner


def check_geometry_type(wkb_type) -> None:
    """Points, lines, polygons and mixed collections are clustered, as in the CLI; a table is not."""
    if wkb_type == QgsWkbTypes.NoGeometry:
        raise QgsProcessingException(
            "The input layer has no geometry column (it is a table); wrok clusters layers with geometries, or a "
            "table of H3 cells: pick its cell field as 'H3 cell field'."
        )


def weight_field_index(fields: QgsFields, weight_field: Optional[str]) -> int:
    """Index of the weight field, or -1 for 'every feature weighs 1'."""
    if not weight_field:
        return -1
    index = fields.lookupField(weight_field)
    numeric = [field.name() for field in fields if field.isNumeric()]
    if index < 0:
        raise QgsProcessingException(
            f"Weight field '{weight_field}' is not in the input layer. "
            f"Numeric fields there: {', '.join(numeric) or 'none'}; or leave the weight field empty "
            "to count every feature as 1."
        )
    field = fields.at(index)
    if not field.isNumeric():
        raise QgsProcessingException(
            f"Weight field '{weight_field}' holds {field.typeName()} values, not numbers. Pick a numeric "
            f"field ({', '.join(numeric) or 'none in this layer'}) or convert it with the field calculator "
            "(e.g. to_real(\"field\"))."
        )
    return index


def _cancelled():
    from core import ClusteringCancelled

    return ClusteringCancelled("cancelled while reading features")


def _is_null(value) -> bool:
    return value is None or (hasattr(value, "isNull") and value.isNull())


def read_features(features, count: int, fields: QgsFields, wkb_type, weight_field: Optional[str],
                  progress: Callable[[float], None], is_cancelled: Callable[[], bool]):
    """Read and check features: returns (features, weights or None, extent in source CRS)."""
    check_geometry_type(wkb_type)
    weight_index = weight_field_index(fields, weight_field)
    kept, weights = [], []
    extent = QgsRectangle()
    extent.setMinimal()
    null_geometries = null_weights = 0
    for i, feature in enumerate(features):
        if i % CANCEL_CHECK_EVERY == 0:
            if is_cancelled():
                raise _cancelled()
            progress(i / max(count, 1))
        geometry = feature.geometry()
        if geometry.isNull() or geometry.isEmpty():
            null_geometries += 1
        else:
            extent.combineExtentWith(geometry.boundingBox())
        if weight_index >= 0:
            value = feature.attribute(weight_index)
            if _is_null(value):
                null_weights += 1
                value = float("nan")
            weights.append(float(value))
        kept.append(feature)
    # A selection iterates in hash order: sort by feature ID so runs are repeatable and in layer order.
    order = sorted(range(len(kept)), key=lambda i: kept[i].id())
    kept = [kept[i] for i in order]
    weights = [weights[i] for i in order] if weight_index >= 0 else weights
    if not kept:
        raise QgsProcessingException(
            "The input has no features to cluster (is the layer empty, or is 'selected features only' "
            "on with nothing selected?)."
        )
    if null_geometries:
        raise QgsProcessingException(
            f"{null_geometries} of {len(kept)} feature(s) have no geometry (null or empty). Remove them "
            "(e.g. 'Remove null geometries', native:removenullgeometries) or fix them, then run again."
        )
    if null_weights:
        raise QgsProcessingException(
            f"{null_weights} of {len(kept)} feature(s) have a NULL weight in field '{weight_field}'. Fill "
            "them (e.g. with 0 in the field calculator) or filter those features out, then run again."
        )
    return kept, (np.asarray(weights, dtype=float) if weight_index >= 0 else None), extent


def crs_facts(crs: QgsCoordinateReferenceSystem):
    from core.crs import CrsFacts

    return CrsFacts(label=crs.authid() or crs.description() or crs.toProj(), known=crs.isValid(),
                    geographic=crs.isGeographic(), in_metres=crs.mapUnits() == QgsUnitTypes.DistanceMeters,
                    units=QgsUnitTypes.toString(crs.mapUnits()))


def measuring_choice(requested: Optional[QgsCoordinateReferenceSystem], source_crs: QgsCoordinateReferenceSystem,
                     extent: QgsRectangle, transform_context):
    """core.crs's rule (the CLI's) fed with QGIS facts: returns (choice, measuring CRS, layer CRS)."""
    from core import ClusteringInputError
    from core.crs import choose_measuring_crs

    requested = requested if requested is not None and requested.isValid() else None
    bounds = (extent.xMinimum(), extent.yMinimum(), extent.xMaximum(), extent.yMaximum())
    lonlat = None
    if source_crs.isValid() and source_crs.isGeographic() and requested is None:
        box = extent
        wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
        if source_crs != wgs84:
            box = QgsCoordinateTransform(source_crs, wgs84, transform_context).transformBoundingBox(extent)
        lonlat = (box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum())
    try:
        choice = choose_measuring_crs(None if requested is None else crs_facts(requested),
                                      crs_facts(source_crs) if source_crs.isValid() else None, bounds, lonlat,
                                      crs_option="a 'Measuring CRS' under Advanced parameters")
    except ClusteringInputError as exc:
        raise QgsProcessingException(f"{str(exc)[0].upper()}{str(exc)[1:]}.") from None
    layer_crs = requested if choice.layer_crs is not None else source_crs
    measuring = source_crs if choice.reason == "layer" else (requested if choice.reason == "requested"
                                                             else QgsCoordinateReferenceSystem(choice.crs))
    return choice, measuring, layer_crs


def project_features(features, source_crs, measuring_crs, wkb_type, transform_context,
                     progress: Callable[[float], None], is_cancelled: Callable[[], bool],
                     invalid_geometries: str = "repair", with_lonlat: bool = False):
    """Centroids (and, unless single points, every vertex) in the measuring CRS.

    Invalid polygons are repaired with makeValid for measuring (their centroid can fly far off
    otherwise), or refused; lon/lat positions come too when radii are re-measured per cluster.
    """
    transform = QgsCoordinateTransform(source_crs, measuring_crs, transform_context)
    to_lonlat = QgsCoordinateTransform(source_crs, QgsCoordinateReferenceSystem("EPSG:4326"), transform_context)
    single_points = QgsWkbTypes.flatType(wkb_type) == QgsWkbTypes.Point
    n = len(features)
    x, y = np.empty(n), np.empty(n)
    vertex_x, vertex_y, owner, lonlat = [], [], [], []
    repaired = 0
    for i, feature in enumerate(features):
        if i % CANCEL_CHECK_EVERY == 0:
            if is_cancelled():
                raise _cancelled()
            progress(i / max(n, 1))
        geometry = feature.geometry()  # a copy: transforming it leaves the feature as read
        if not single_points and not geometry.isGeosValid():
            if invalid_geometries == "error":
                errors = geometry.validateGeometry()
                raise QgsProcessingException(
                    f"Feature {feature.id()} has an invalid geometry ({errors[0].what() if errors else 'not valid'}). "
                    "Repair it ('Fix geometries', native:fixgeometries) or set 'Invalid geometries' to repair.")
            geometry = geometry.makeValid()
            repaired += 1
        if with_lonlat:
            degrees = QgsGeometry(geometry)
            degrees.transform(to_lonlat)
            lonlat.extend((v.x(), v.y()) for v in (degrees.vertices() if not single_points else [degrees.asPoint()]))
        try:
            geometry.transform(transform)
        except QgsCsException as exc:
            raise QgsProcessingException(
                f"Feature {feature.id()} cannot be transformed to {measuring_crs.authid()}: {exc}. Check the "
                "layer's CRS or pick another measuring CRS."
            ) from None
        centre = geometry.asPoint() if single_points else geometry.centroid().asPoint()
        x[i], y[i] = centre.x(), centre.y()
        if not single_points:
            for vertex in geometry.vertices():
                vertex_x.append(vertex.x())
                vertex_y.append(vertex.y())
                owner.append(i)
    lonlat = np.asarray(lonlat, dtype=float).reshape(-1, 2) if with_lonlat else None
    if single_points:
        return x, y, None, None, transform, repaired, lonlat
    return (x, y, np.column_stack([vertex_x, vertex_y]), np.asarray(owner, dtype=np.int64), transform, repaired,
            lonlat)


def layer_arrays(features, count, fields, wkb_type, source_crs, weight_field, requested_crs, transform_context,
                 progress=lambda fraction: None, is_cancelled=lambda: False,
                 invalid_geometries: str = "repair") -> LayerArrays:
    """Everything the engine needs from a feature iterator; progress fraction 0..1 over both passes."""
    kept, weights, extent = read_features(features, count, fields, wkb_type, weight_field,
                                          lambda f: progress(0.5 * f), is_cancelled)
    choice, crs, layer_crs = measuring_choice(requested_crs, source_crs, extent, transform_context)
    x, y, vertex_xy, owner, transform, repaired, lonlat = project_features(
        kept, layer_crs, crs, wkb_type, transform_context, lambda f: progress(0.5 + 0.5 * f), is_cancelled,
        invalid_geometries, with_lonlat=choice.per_cluster_local)
    progress(1.0)
    arrays = LayerArrays(kept, x, y, weights, vertex_xy, owner, crs, transform, layer_crs, repaired)
    if lonlat is not None:
        arrays.lonlat, arrays.lonlat_owner = lonlat, owner
    return arrays
