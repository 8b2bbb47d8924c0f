"""Small real layers for the tests, built from known coordinates."""

import numpy as np
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsField,
    QgsGeometry,
    QgsPointXY,
    QgsProject,
    QgsVectorLayer,
)

from wrok_plugin.compat import FieldType

UTM_33N = "EPSG:32633"
ORIGIN = (500_000.0, 4_650_000.0)  # metres in UTM 33N, about 15 E 42 N


def sample_points(n=300, seed=1):
    """Three blobs of weighted points (metres, UTM 33N) with integer weights."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [4000, 1000], [1500, 5000]]) + ORIGIN
    xy = np.concatenate([c + rng.normal(0, 700, size=(n // 3, 2)) for c in centres])
    weights = rng.integers(1, 12, size=len(xy)).astype(float)
    return xy, weights


def to_crs(xy, target):
    transform = QgsCoordinateTransform(QgsCoordinateReferenceSystem(UTM_33N), QgsCoordinateReferenceSystem(target),
                                       QgsProject.instance())
    return np.array([[p.x(), p.y()] for p in (transform.transform(QgsPointXY(*xy_)) for xy_ in xy)])


def memory_layer(geometry_type, crs, geometries, weights=None, extra=True, name="test"):
    """A memory layer with fields name (text), population (double), code (int) unless extra=False."""
    layer = QgsVectorLayer(f"{geometry_type}?crs={crs}", name, "memory")
    fields = [QgsField("population", FieldType.Double)]
    if extra:
        fields = [QgsField("name", FieldType.String)] + fields + [QgsField("code", FieldType.Int)]
    layer.dataProvider().addAttributes(fields)
    layer.updateFields()
    features = []
    for i, geometry in enumerate(geometries):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(geometry)
        weight = None if weights is None else weights[i]
        weight = None if weight is None or (isinstance(weight, float) and np.isnan(weight)) else float(weight)
        feature.setAttributes([f"f{i}", weight, i * 7] if extra else [weight])
        features.append(feature)
    assert layer.dataProvider().addFeatures(features)
    return layer


def point_layer(xy, weights, crs=UTM_33N, **kwargs):
    return memory_layer("Point", crs, [QgsGeometry.fromPointXY(QgsPointXY(x, y)) for x, y in xy], weights, **kwargs)


def squares(xy, half=40.0):
    """Axis-aligned squares centred on xy: (list of corner arrays, geometries)."""
    corners = [np.array([[x - half, y - half], [x + half, y - half], [x + half, y + half], [x - half, y + half]])
               for x, y in xy]
    return corners, [QgsGeometry.fromPolygonXY([[QgsPointXY(*c) for c in ring]]) for ring in corners]
