"""Turning an engine result into QGIS fields, features, cluster outlines and layer edits."""

from __future__ import annotations

import numpy as np
from qgis.core import (
    QgsCoordinateTransform,
    QgsFeature,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    QgsVectorDataProvider,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

WEIGHT_FIELD_NAME = "cluster_weight"
PASS_FIELD_NAME = "cluster_pass"
DEGENERATE_HULL_BUFFER_M = 1.0
ID_LENGTH = 254  # stratum keys make IDs long; a Shapefile would otherwise cut them  # a one-feature cluster's hull is a point: give it a visible outline


def cluster_fields(id_field: str) -> QgsFields:
    fields = QgsFields()
    fields.append(QgsField(id_field, QVariant.String, "string", ID_LENGTH))
    fields.append(QgsField(WEIGHT_FIELD_NAME, QVariant.Double, "double"))
    fields.append(QgsField(PASS_FIELD_NAME, QVariant.Int, "integer"))
    return fields


def output_fields(input_fields: QgsFields, id_field: str):
    """Input fields plus the cluster fields; an input field with a cluster field's name is replaced.

    Returns (fields, indices of the kept input fields).
    """
    added = cluster_fields(id_field)
    replaced = {field.name().lower() for field in added}
    fields, kept = QgsFields(), []
    for index, field in enumerate(input_fields):
        if field.name().lower() not in replaced:
            fields.append(field)
            kept.append(index)
    for field in added:
        fields.append(field)
    return fields, kept


def cluster_values(result, i: int):
    """The three cluster values of feature i as plain Python types."""
    return [str(result.cluster_id[i]), float(result.cluster_weight[i]), int(result.cluster_pass[i])]


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
    fields.append(QgsField(id_field, QVariant.String, "string", ID_LENGTH))
    fields.append(QgsField("weight", QVariant.Double, "double"))
    fields.append(QgsField("n_features", QVariant.Int, "integer"))
    fields.append(QgsField("radius_m", QVariant.Double, "double"))
    fields.append(QgsField(PASS_FIELD_NAME, QVariant.Int, "integer"))
    if with_stratum:  # strata runs: the stratum key each cluster belongs to
        fields.append(QgsField("stratum", QVariant.String, "string", ID_LENGTH))
    return fields


def cluster_row_values(table, row: int) -> list:
    """One cluster table row as the values of cluster_table_fields (stratum last when present)."""
    values = [str(table["cluster_id"][row]), float(table["weight"][row]), int(table["n_features"][row]),
              float(table["radius_m"][row]), int(table["cluster_pass"][row])]
    return values + ([str(table["stratum"][row])] if "stratum" in table else [])


def cluster_outline_features(arrays, result, id_field: str, is_cancelled):
    """One convex-hull polygon per cluster (in the input CRS) with its figures."""
    coords, owner = arrays.hull_coordinates()
    names, inverse = np.unique(result.cluster_id.astype(str), return_inverse=True)
    vertex_cluster = inverse[owner]
    order = np.argsort(vertex_cluster, kind="stable")
    starts = np.searchsorted(vertex_cluster[order], np.arange(len(names) + 1))
    table = result.clusters
    row_of = {str(name): row for row, name in enumerate(table["cluster_id"])}
    fields = cluster_table_fields(id_field, "stratum" in table)
    for g, name in enumerate(names):
        if is_cancelled():
            return
        points = coords[order[starts[g]:starts[g + 1]]]
        hull = QgsGeometry.fromMultiPointXY([QgsPointXY(px, py) for px, py in points]).convexHull()
        if QgsWkbTypes.geometryType(hull.wkbType()) != QgsWkbTypes.PolygonGeometry:
            hull = hull.buffer(DEGENERATE_HULL_BUFFER_M, 8)
        hull.transform(arrays.to_measuring, QgsCoordinateTransform.ReverseTransform)
        row = row_of[str(name)]
        feature = QgsFeature(fields)
        feature.setGeometry(hull)
        feature.setAttributes(cluster_row_values(table, row))
        yield feature


def _cluster_field_indices(layer, id_field: str, add_fields):
    """Indices of the cluster fields on layer, adding the missing ones with add_fields(list)."""
    wanted = cluster_fields(id_field)
    missing = [field for field in wanted if layer.fields().lookupField(field.name()) < 0]
    if missing and not add_fields(missing):
        raise QgsProcessingException(
            f"Could not add the field(s) {', '.join(f.name() for f in missing)} to layer '{layer.name()}'."
        )
    return [layer.fields().lookupField(field.name()) for field in wanted]


def write_through_provider(layer, feature_ids, result, id_field: str) -> int:
    """Store the cluster fields directly in the layer's data source (headless, no undo)."""
    provider = layer.dataProvider()
    needed = QgsVectorDataProvider.ChangeAttributeValues | QgsVectorDataProvider.AddAttributes
    if (provider.capabilities() & needed) != needed:
        raise QgsProcessingException(
            f"Layer '{layer.name()}' ({provider.name()}) cannot store new attribute values. Write to a new "
            "output layer instead, or convert the layer to a GeoPackage first."
        )

    def add_fields(fields):
        ok = provider.addAttributes(fields)
        layer.updateFields()
        return ok

    indices = _cluster_field_indices(layer, id_field, add_fields)
    changes = {fid: dict(zip(indices, cluster_values(result, i))) for i, fid in enumerate(feature_ids)}
    if not provider.changeAttributeValues(changes):
        raise QgsProcessingException(
            f"Layer '{layer.name()}' refused the cluster values: {provider.lastError() or 'no reason given'}. "
            f"Check that existing fields {id_field}, {WEIGHT_FIELD_NAME}, {PASS_FIELD_NAME} are text, "
            "decimal and integer fields."
        )
    return len(changes)


def write_through_edit_buffer(layer, feature_ids, result, id_field: str) -> int:
    """Put the cluster fields in the layer's edit buffer as one undoable command; the user saves."""
    if not layer.isEditable() and not layer.startEditing():
        raise QgsProcessingException(f"Layer '{layer.name()}' cannot be edited (read-only source?).")
    layer.beginEditCommand(f"wrok: set {id_field}, {WEIGHT_FIELD_NAME}, {PASS_FIELD_NAME}")
    try:
        indices = _cluster_field_indices(layer, id_field, lambda fields: all(layer.addAttribute(f) for f in fields))
        for i, fid in enumerate(feature_ids):
            if not layer.changeAttributeValues(fid, dict(zip(indices, cluster_values(result, i)))):
                raise QgsProcessingException(f"Layer '{layer.name()}' refused the cluster values of feature {fid}.")
    except Exception:
        layer.destroyEditCommand()
        raise
    layer.endEditCommand()
    return len(feature_ids)
