"""QgsFeatures -> the engine's numpy arrays, in a measuring CRS in metres.

Features are streamed: no QgsFeature is kept (points keep two floats, other shapes their geometry
until projected). Outputs read the source again, in the same ID order (features_in_order).

Shared by the Processing algorithm and the write-back task so both feed the engine
identically (and like the CLI: centroid positions, every vertex for non-point layers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCsException,
    QgsFeatureRequest,
    QgsFields,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    QgsRectangle,
    QgsUnitTypes,
    QgsWkbTypes,
)

CANCEL_CHECK_EVERY = 500  # features between cancel checks: well under a second of work


@dataclass
class LayerArrays:
    ids: np.ndarray  # feature IDs, ascending: the order of every array here and of the outputs
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
    columns: Dict[str, list] = field(default_factory=dict)  # attribute values asked for (strata), in ids' order
    read_in_order: bool = True  # the source gave its features by ascending ID (not a selection's hash order)

    @property
    def count(self) -> int:
        return len(self.ids)

    @property
    def feature_ids(self) -> List[int]:
        return self.ids.tolist()

    def column(self, name: str) -> list:
        if name not in self.columns:
            raise QgsProcessingException(f"Field '{name}' is not in the input layer.")
        return self.columns[name]

    def hull_coordinates(self):
        """(coordinates, owning feature index) to build each cluster's outline from."""
        if self.vertex_xy is None:
            return np.column_stack([self.x, self.y]), np.arange(len(self.x))
        return self.vertex_xy, self.vertex_owner


def check_geometry_type(wkb_type) -> None:
    """Points, lines, polygons and mixed collections are clustered, as in the CLI; a table is not."""
    if wkb_type == QgsWkbTypes.Type.NoGeometry:
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


@dataclass
class ReadFeatures:
    """What the first pass keeps of each feature, in ascending ID order."""

    ids: np.ndarray
    weights: Optional[np.ndarray]
    extent: QgsRectangle
    geometries: Optional[list]  # QgsGeometry per feature; None for single points (point_xy instead)
    point_xy: Optional[np.ndarray]  # single points: their coordinates in the source CRS
    columns: Dict[str, list]
    in_order: bool


def read_features(features, count: int, fields: QgsFields, wkb_type, weight_field: Optional[str],
                  progress: Callable[[float], None], is_cancelled: Callable[[], bool],
                  columns: Sequence[str] = ()) -> ReadFeatures:
    """Read and check features, keeping IDs, weights, geometries (or point coordinates) and asked-for columns."""
    check_geometry_type(wkb_type)
    weight_index = weight_field_index(fields, weight_field)
    column_index = {name: fields.lookupField(name) for name in columns}
    missing = [name for name, index in column_index.items() if index < 0]
    if missing:
        raise QgsProcessingException(f"Field '{missing[0]}' is not in the input layer.")
    # 2D points keep two floats; anything else (3D points too: z can matter to a datum shift) its geometry.
    single_points = QgsWkbTypes.flatType(wkb_type) == QgsWkbTypes.Type.Point and not QgsWkbTypes.hasZ(wkb_type)
    ids, weights, geometries, point_x, point_y = [], [], [], [], []
    values = {name: [] for name in columns}
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
            point_x.append(np.nan)
            point_y.append(np.nan)
        else:
            extent.combineExtentWith(geometry.boundingBox())
            if single_points:
                point = geometry.asPoint()
                point_x.append(point.x())
                point_y.append(point.y())
        if not single_points:
            geometries.append(geometry)
        if weight_index >= 0:
            value = feature.attribute(weight_index)
            if _is_null(value):
                null_weights += 1
                value = float("nan")
            weights.append(float(value))
        for name, index in column_index.items():
            value = feature.attribute(index)
            values[name].append(None if _is_null(value) else value)
        ids.append(feature.id())
    if not ids:
        raise QgsProcessingException(
            "The input has no features to cluster (is the layer empty, or is 'selected features only' "
            "on with nothing selected?)."
        )
    if null_geometries:
        raise QgsProcessingException(
            f"{null_geometries} of {len(ids)} feature(s) have no geometry (null or empty). Remove them "
            "(e.g. 'Remove null geometries', native:removenullgeometries) or fix them, then run again."
        )
    if null_weights:
        raise QgsProcessingException(
            f"{null_weights} of {len(ids)} feature(s) have a NULL weight in field '{weight_field}'. Fill "
            "them (e.g. with 0 in the field calculator) or filter those features out, then run again."
        )
    # A selection iterates in hash order: sort by feature ID so runs are repeatable and in layer order.
    ids = np.asarray(ids, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    in_order = bool(np.all(order == np.arange(len(ids))))
    ids = ids[order]
    return ReadFeatures(
        ids=ids,
        weights=np.asarray(weights, dtype=float)[order] if weight_index >= 0 else None,
        extent=extent,
        geometries=None if single_points else [geometries[i] for i in order],
        point_xy=np.column_stack([np.asarray(point_x)[order], np.asarray(point_y)[order]]) if single_points else None,
        columns={name: [column[i] for i in order] for name, column in values.items()},
        in_order=in_order,
    )


def crs_facts(crs: QgsCoordinateReferenceSystem):
    from core.frame.crs import CrsFacts

    return CrsFacts(label=crs.authid() or crs.description() or crs.toProj(), known=crs.isValid(),
                    geographic=crs.isGeographic(), in_metres=crs.mapUnits() == QgsUnitTypes.DistanceUnit.DistanceMeters,
                    units=QgsUnitTypes.toString(crs.mapUnits()))


def measuring_choice(requested: Optional[QgsCoordinateReferenceSystem], source_crs: QgsCoordinateReferenceSystem,
                     extent: QgsRectangle, transform_context):
    """core.frame.crs's rule (the CLI's) fed with QGIS facts: returns (choice, measuring CRS, layer CRS)."""
    from core import ClusteringInputError
    from core.frame.crs import choose_measuring_crs

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


def project_features(read: ReadFeatures, source_crs, measuring_crs, wkb_type, transform_context,
                     progress: Callable[[float], None], is_cancelled: Callable[[], bool],
                     invalid_geometries: str = "repair", with_lonlat: bool = False):
    """Centroids (and, unless single points, every vertex) in the measuring CRS.

    Invalid polygons are repaired with makeValid for measuring (their centroid can fly far off
    otherwise), or refused; lon/lat positions come too when radii are re-measured per cluster.
    Each geometry is let go once projected, so they are never all held twice.
    """
    transform = QgsCoordinateTransform(source_crs, measuring_crs, transform_context)
    to_lonlat = QgsCoordinateTransform(source_crs, QgsCoordinateReferenceSystem("EPSG:4326"), transform_context)
    single_points = QgsWkbTypes.flatType(wkb_type) == QgsWkbTypes.Type.Point
    n = len(read.ids)
    x, y = np.empty(n), np.empty(n)
    vertex_x, vertex_y, owner, lonlat = [], [], [], []
    repaired = 0
    for i in range(n):
        if i % CANCEL_CHECK_EVERY == 0:
            if is_cancelled():
                raise _cancelled()
            progress(i / max(n, 1))
        try:
            if read.point_xy is not None:  # the same PROJ call QgsGeometry.transform makes for a 2D point
                point = QgsPointXY(read.point_xy[i, 0], read.point_xy[i, 1])
                if with_lonlat:
                    degrees = to_lonlat.transform(point)
                    lonlat.append((degrees.x(), degrees.y()))
                centre = transform.transform(point)
                x[i], y[i] = centre.x(), centre.y()
                continue
            geometry, read.geometries[i] = read.geometries[i], None
            if not single_points and not geometry.isGeosValid():
                if invalid_geometries == "error":
                    errors = geometry.validateGeometry()
                    raise QgsProcessingException(
                        f"Feature {read.ids[i]} has an invalid geometry "
                        f"({errors[0].what() if errors else 'not valid'}). "
                        "Repair it ('Fix geometries', native:fixgeometries) or set 'Invalid geometries' to repair.")
                geometry = geometry.makeValid()
                repaired += 1
            if with_lonlat:
                degrees = QgsGeometry(geometry)
                degrees.transform(to_lonlat)
                lonlat.extend((v.x(), v.y()) for v in (degrees.vertices() if not single_points
                                                       else [degrees.asPoint()]))
            geometry.transform(transform)
        except QgsCsException as exc:
            raise QgsProcessingException(
                f"Feature {read.ids[i]} cannot be transformed to {measuring_crs.authid()}: {exc}. Check the "
                "layer's CRS or pick another measuring CRS."
            ) from None
        centre = geometry.asPoint() if single_points else geometry.centroid().asPoint()
        x[i], y[i] = centre.x(), centre.y()
        if single_points:
            continue
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
                 invalid_geometries: str = "repair", columns: Sequence[str] = ()) -> LayerArrays:
    """Everything the engine needs from a feature iterator; progress fraction 0..1 over both passes.

    columns: attribute values to keep (the strata fields), read in the same pass.
    """
    read = read_features(features, count, fields, wkb_type, weight_field, lambda f: progress(0.5 * f),
                         is_cancelled, columns)
    choice, crs, layer_crs = measuring_choice(requested_crs, source_crs, read.extent, transform_context)
    x, y, vertex_xy, owner, transform, repaired, lonlat = project_features(
        read, layer_crs, crs, wkb_type, transform_context, lambda f: progress(0.5 + 0.5 * f), is_cancelled,
        invalid_geometries, with_lonlat=choice.per_cluster_local)
    progress(1.0)
    arrays = LayerArrays(read.ids, x, y, read.weights, vertex_xy, owner, crs, transform, layer_crs, repaired,
                         columns=read.columns, read_in_order=read.in_order)
    if lonlat is not None:
        arrays.lonlat, arrays.lonlat_owner = lonlat, owner
    return arrays


READ_BACK_CHUNK = 10_000  # features fetched by ID at a time when the source's own order was not by ID


def features_in_order(source, arrays: LayerArrays, is_cancelled: Callable[[], bool] = lambda: False):
    """The source's features read again, in arrays.ids' order, each checked to be the one clustered.

    A source that gave its features by ascending ID is simply iterated again; a selection (hash order)
    is fetched by ID in chunks, so only a chunk of features is held at a time.
    """
    ids = arrays.ids
    if arrays.read_in_order:
        batches = [source.getFeatures()]
    else:
        batches = (_chunk_in_order(source, ids[start:start + READ_BACK_CHUNK])
                   for start in range(0, len(ids), READ_BACK_CHUNK))
    i = 0
    for batch in batches:
        for feature in batch:
            if i % CANCEL_CHECK_EVERY == 0 and is_cancelled():
                raise _cancelled()
            if i >= len(ids) or feature.id() != ids[i]:
                raise _changed_while_clustering(i, len(ids))
            yield feature
            i += 1
    if i != len(ids):
        raise _changed_while_clustering(i, len(ids))


def _chunk_in_order(source, chunk_ids):
    request = QgsFeatureRequest().setFilterFids(chunk_ids.tolist())
    by_id = {feature.id(): feature for feature in source.getFeatures(request)}
    return [by_id[fid] for fid in chunk_ids.tolist() if fid in by_id]


def _changed_while_clustering(position: int, expected: int):
    return QgsProcessingException(
        f"The input changed while clustering (feature {position + 1} of {expected} is not the one read first); "
        "nothing more is written. Run again on a layer that is not being edited.")
