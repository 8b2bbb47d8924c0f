"""Real runs on memory layers and a GeoPackage, checked against the engine on the same arrays."""

import numpy as np
from qgis.core import (
    QgsGeometry,
    QgsPointXY,
    QgsProcessingFeatureSourceDefinition,
    QgsProject,
    QgsVectorLayer,
    QgsWkbTypes,
)

from ..conftest import REPO
from ..helpers import assert_same_radii, column, engine_params, run_algorithm
from ..layers import UTM_33N, memory_layer, point_layer, sample_points, squares, to_crs

CLUSTER_FIELDS = ["cluster_id", "cluster_weight", "cluster_pass"]


def engine_cluster(x, y, weights, vertex_xy=None, vertex_owner=None, **overrides):
    from core import cluster

    return cluster(x, y, weights, engine_params(**overrides), vertex_xy=vertex_xy, vertex_owner=vertex_owner)


def test_projected_points_match_the_engine(wrok_plugin):
    xy, weights = sample_points()
    results = run_algorithm(point_layer(xy, weights))
    expected = engine_cluster(xy[:, 0], xy[:, 1], weights)
    output, clusters = results["OUTPUT"], results["CLUSTERS"]
    assert column(output, "cluster_id") == list(expected.cluster_id)
    assert np.allclose(column(output, "cluster_weight"), expected.cluster_weight)
    assert column(output, "cluster_pass") == list(expected.cluster_pass)
    assert_same_radii(clusters, expected)
    assert results["CLUSTER_COUNT"] == len(expected.clusters) == clusters.featureCount()
    assert results["CLUSTERS_OVER_MAX"] == expected.stats()["clusters_over_max"]
    assert results["MEASURING_CRS"] == UTM_33N
    assert clusters.wkbType() == QgsWkbTypes.Type.Polygon and clusters.crs().authid() == UTM_33N


def test_geographic_points_are_measured_in_their_utm_zone(wrok_plugin):
    xy, weights = sample_points()
    lonlat = to_crs(xy, "EPSG:4326")
    results = run_algorithm(point_layer(lonlat, weights, crs="EPSG:4326"))
    assert results["MEASURING_CRS"] == UTM_33N  # centre of the extent lies in zone 33 north
    expected = engine_cluster(xy[:, 0], xy[:, 1], weights)
    assert column(results["OUTPUT"], "cluster_id") == list(expected.cluster_id)
    assert_same_radii(results["CLUSTERS"], expected, tolerance_m=1e-3)  # round trip through degrees
    assert results["CLUSTERS"].crs().authid() == "EPSG:4326"


def test_explicit_measuring_crs_is_used(wrok_plugin):
    xy, weights = sample_points()
    lonlat = to_crs(xy, "EPSG:4326")
    results = run_algorithm(point_layer(lonlat, weights, crs="EPSG:4326"), MEASURING_CRS="EPSG:3035")
    assert results["MEASURING_CRS"] == "EPSG:3035"
    laea = to_crs(xy, "EPSG:3035")
    assert_same_radii(results["CLUSTERS"], engine_cluster(laea[:, 0], laea[:, 1], weights), tolerance_m=1e-3)


def test_polygon_radii_cover_every_vertex(wrok_plugin):
    xy, weights = sample_points(n=150)
    corners, geometries = squares(xy)
    layer = memory_layer("Polygon", UTM_33N, geometries, weights)
    results = run_algorithm(layer)
    vertex_xy = np.concatenate(corners)
    owner = np.repeat(np.arange(len(corners)), 4)
    expected = engine_cluster(xy[:, 0], xy[:, 1], weights, vertex_xy, owner)
    assert column(results["OUTPUT"], "cluster_id") == list(expected.cluster_id)
    assert_same_radii(results["CLUSTERS"], expected, tolerance_m=1e-6)
    assert results["OUTPUT"].wkbType() == layer.wkbType()


def test_multipolygons_use_area_centroid_and_all_parts(wrok_plugin):
    xy, weights = sample_points(n=150)
    near, _ = squares(xy, half=30.0)
    far, _ = squares(xy + [200.0, 0.0], half=15.0)  # a smaller second part 200 m east
    geometries = [QgsGeometry.fromMultiPolygonXY([[[QgsPointXY(*c) for c in a]], [[QgsPointXY(*c) for c in b]]])
                  for a, b in zip(near, far)]
    layer = memory_layer("MultiPolygon", UTM_33N, geometries, weights)
    results = run_algorithm(layer)
    area_near, area_far = 60.0 ** 2, 30.0 ** 2
    centroid = (xy * area_near + (xy + [200.0, 0.0]) * area_far) / (area_near + area_far)
    vertex_xy = np.concatenate([np.concatenate([a, b]) for a, b in zip(near, far)])
    owner = np.repeat(np.arange(len(near)), 8)
    expected = engine_cluster(centroid[:, 0], centroid[:, 1], weights, vertex_xy, owner)
    assert column(results["OUTPUT"], "cluster_id") == list(expected.cluster_id)
    assert_same_radii(results["CLUSTERS"], expected, tolerance_m=1e-6)
    assert QgsWkbTypes.isMultiType(results["OUTPUT"].wkbType())


def test_geopackage_in_and_out(wrok_plugin, tmp_path):
    demo = str(REPO / "resources" / "demo_population.gpkg")
    out, hulls = tmp_path / "clustered.gpkg", tmp_path / "clusters.gpkg"
    results = run_algorithm(demo, OUTPUT=str(out), CLUSTERS=str(hulls))
    clustered = QgsVectorLayer(str(out), "out", "ogr")
    clusters = QgsVectorLayer(str(hulls), "clusters", "ogr")
    assert clustered.featureCount() == QgsVectorLayer(demo, "in", "ogr").featureCount() == 6000
    assert clusters.featureCount() == results["CLUSTER_COUNT"] > 0
    assert sum(column(clusters, "n_features")) == 6000
    total = sum(column(QgsVectorLayer(demo, "in", "ogr"), "population"))
    assert abs(sum(column(clusters, "weight")) - total) < 1e-6
    assert set(column(clustered, "cluster_id")) == set(column(clusters, "cluster_id"))


def test_selected_features_only(wrok_plugin):
    xy, weights = sample_points()
    layer = point_layer(xy, weights)
    QgsProject.instance().addMapLayer(layer)
    try:
        chosen = [f.id() for f in layer.getFeatures()][::3]
        layer.selectByIds(chosen)
        source = QgsProcessingFeatureSourceDefinition(layer.id(), selectedFeaturesOnly=True)
        results = run_algorithm(source)
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
    picked = np.arange(len(xy))[::3]
    assert column(results["OUTPUT"], "name") == [f"f{i}" for i in picked]
    expected = engine_cluster(xy[picked, 0], xy[picked, 1], weights[picked])
    assert column(results["OUTPUT"], "cluster_id") == list(expected.cluster_id)


def test_every_field_and_value_is_kept_one_feature_per_input(wrok_plugin):
    xy, weights = sample_points()
    layer = point_layer(xy, weights)
    output = run_algorithm(layer)["OUTPUT"]
    input_names = [f.name() for f in layer.fields()]
    assert [f.name() for f in output.fields()] == input_names + CLUSTER_FIELDS
    rows_in = [(f.attributes(), f.geometry().asWkt()) for f in layer.getFeatures()]
    rows_out = [(f.attributes()[:len(input_names)], f.geometry().asWkt()) for f in output.getFeatures()]
    assert rows_out == rows_in


def test_rerun_replaces_cluster_fields_and_custom_id_name(wrok_plugin):
    xy, weights = sample_points()
    first = run_algorithm(point_layer(xy, weights))["OUTPUT"]
    again = run_algorithm(first, RANDOM_SEED=7)["OUTPUT"]
    names = [f.name() for f in again.fields()]
    assert names.count("cluster_id") == 1 and names[-3:] == CLUSTER_FIELDS
    renamed = run_algorithm(point_layer(xy, weights), CLUSTER_ID_FIELD="psu")
    assert [f.name() for f in renamed["OUTPUT"].fields()][-3:] == ["psu", "cluster_weight", "cluster_pass"]
    assert renamed["CLUSTERS"].fields().lookupField("psu") == 0


def test_no_weight_field_counts_features(wrok_plugin):
    xy, _ = sample_points()
    results = run_algorithm(point_layer(xy, None), WEIGHT_FIELD=None, TARGET_WEIGHT=20, MAX_WEIGHT=30)
    assert sum(column(results["CLUSTERS"], "n_features")) == len(xy)
    assert column(results["CLUSTERS"], "weight") == [float(n) for n in column(results["CLUSTERS"], "n_features")]
    assert max(column(results["CLUSTERS"], "weight")) <= 30
