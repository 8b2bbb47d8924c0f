"""Turning an engine result into QGIS fields, features, cluster outlines and layer edits."""

from __future__ import annotations

import numpy as np
from qgis.core import (
    Qgis,
    QgsFeature,
    QgsFields,
    QgsGeometry,
    QgsPointXY,
)

from core.frame.fields import INTEGER, PASS_FIELD, REAL, TEXT

from ..writeback.in_place import ID_LENGTH, cluster_fields, cluster_values, new_field, planned_names

DEGENERATE_HULL_BUFFER_M = 1.0  # a one-feature cluster's hull is a point: give it a visible outline


def output_fields(input_fields: QgsFields, id_field: str):
    """Input fields plus the cluster fields; an earlier run's cluster field (same name and kind) is replaced.

    Returns (fields, indices of the kept input fields). A clash with a field of another kind is refused.
    """
    names = planned_names(input_fields, id_field)
    replaced = {name.lower() for name in names}
    fields, kept = QgsFields(), []
    for index, field in enumerate(input_fields):
        if field.name().lower() not in replaced:
            fields.append(field)
            kept.append(index)
    for field in cluster_fields(names):
        fields.append(field)
    return fields, kept


def clustered_features(features, result, fields: QgsFields, kept):
    """One output feature per input feature: its geometry, kept attributes, then the cluster fields."""
    for i, feature in enumerate(features):
        attributes = feature.attributes()
        out = QgsFeature(fields)
        out.setGeometry(feature.geometry())
        out.setAttributes([attributes[k] for k in kept] + cluster_values(result, i))
        yield out


def cluster_table_fields(id_field: str, with_stratum: bool = False) -> QgsFields:
    fields = QgsFields()
    for name, kind in ((id_field, TEXT), ("weight", REAL), ("n_features", INTEGER), ("radius_m", REAL),
                       (PASS_FIELD, INTEGER)) + ((("stratum", TEXT),) if with_stratum else ()):
        # Stratum keys make IDs long: a Shapefile would otherwise cut them.
        fields.append(new_field(name, kind, length=ID_LENGTH if kind == TEXT else 0))
    return fields


def cluster_row_values(table, row: int) -> list:
    """One cluster table row as the values of cluster_table_fields (stratum last when present)."""
    values = [str(table["cluster_id"][row]), float(table["weight"][row]), int(table["n_features"][row]),
              float(table["radius_m"][row]), int(table["cluster_pass"][row])]
    return values + ([str(table["stratum"][row])] if "stratum" in table else [])


def cluster_outline_features(arrays, result, id_field: str, is_cancelled):
    """One convex-hull polygon per cluster (in the input CRS) with its figures."""
    from core.engine.hulls import convex_hulls

    coords, owner = arrays.hull_coordinates()
    names, inverse = np.unique(result.cluster_id.astype(str), return_inverse=True)
    hulls = convex_hulls(coords[:, 0], coords[:, 1], inverse[owner], len(names))
    table = result.clusters
    row_of = {str(name): row for row, name in enumerate(table["cluster_id"])}
    fields = cluster_table_fields(id_field, "stratum" in table)
    for name, vertices in zip(names, hulls):
        if is_cancelled():
            return
        points = [QgsPointXY(px, py) for px, py in vertices]
        if len(points) >= 3:
            hull = QgsGeometry.fromPolygonXY([points + points[:1]])
        else:  # one point or a segment: a 1 m buffer keeps the layer polygons only
            hull = QgsGeometry.fromPolylineXY(points) if len(points) == 2 else QgsGeometry.fromPointXY(points[0])
            hull = hull.buffer(DEGENERATE_HULL_BUFFER_M, 8)
        hull.transform(arrays.to_measuring, Qgis.TransformDirection.Reverse)
        row = row_of[str(name)]
        feature = QgsFeature(fields)
        feature.setGeometry(hull)
        feature.setAttributes(cluster_row_values(table, row))
        yield feature
