"""Never lose a user's data, through the plugin: in-place updates refuse clashes, write the names
the format stores, verify every feature, and leave the source byte-identical on any failure."""

import hashlib
import shutil

import numpy as np
import pytest
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsField,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsVectorFileWriter,
    QgsVectorLayer,
)

from wrok_plugin.compat import FieldType

from ..conftest import REPO
from ..helpers import column, run_algorithm
from ..layers import UTM_33N, memory_layer, point_layer, sample_points

DEMO = REPO / "resources" / "demo_population.gpkg"


def digest(*paths):
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.read_bytes())
    return h.hexdigest()


def save(layer, path, driver):
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = driver
    error = QgsVectorFileWriter.writeAsVectorFormatV2(layer, str(path), layer.transformContext(), options)
    assert error[0] == QgsVectorFileWriter.WriterError.NoError, error
    return path


def copy_demo(tmp_path):
    source = tmp_path / "population.gpkg"
    shutil.copy(DEMO, source)
    return source


def demo_with_field(tmp_path, name, variant):
    layer = QgsVectorLayer(str(copy_demo(tmp_path)), "demo", "ogr")
    assert layer.dataProvider().addAttributes([QgsField(name, variant)])
    layer.updateFields()
    index = layer.fields().lookupField(name)
    assert layer.dataProvider().changeAttributeValues({f.id(): {index: 7} for f in layer.getFeatures()})
    del layer
    return copy_demo_path(tmp_path)


def copy_demo_path(tmp_path):
    return tmp_path / "population.gpkg"


@pytest.mark.parametrize("overrides, expected", [
    ({"CLUSTER_ID_FIELD": "population"}, "already has a field 'population' holding real values"),
    ({"CLUSTER_ID_FIELD": "cluster_weight"}, "cannot be named 'cluster_weight'"),
    ({"CLUSTER_ID_FIELD": "POPULATION"}, "already has a field 'population'"),
])
def test_update_in_place_refuses_a_clashing_field_and_leaves_the_file_untouched(wrok_plugin, tmp_path, overrides,
                                                                                 expected):
    source = copy_demo(tmp_path)
    before = digest(source)
    with pytest.raises(QgsProcessingException, match=expected):
        run_algorithm(str(source), UPDATE_INPUT=True, **overrides)
    assert digest(source) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["population.gpkg"]


def test_existing_integer_cluster_id_is_refused_not_zeroed(wrok_plugin, tmp_path):
    source = demo_with_field(tmp_path, "cluster_id", FieldType.Int)
    before = digest(source)
    with pytest.raises(QgsProcessingException, match="already has a field 'cluster_id' holding integer values"):
        run_algorithm(str(source), UPDATE_INPUT=True)
    assert digest(source) == before
    assert set(column(QgsVectorLayer(str(source), "again", "ogr"), "cluster_id")) == {7}


def test_shapefile_in_place_fills_the_stored_names_and_counts_what_it_checked(wrok_plugin, tmp_path):
    demo = QgsVectorLayer(str(DEMO), "demo", "ogr")
    shp = save(demo, tmp_path / "population.shp", "ESRI Shapefile")
    population_before = column(QgsVectorLayer(str(shp), "before", "ogr"), "population")
    results = run_algorithm(str(shp), UPDATE_INPUT=True, OUTPUT=str(tmp_path / "out.gpkg"))
    results["OUTPUT"] = QgsVectorLayer(results["OUTPUT"], "out", "ogr")  # a file: updating in place skips temporary ones
    layer = QgsVectorLayer(str(shp), "after", "ogr")
    names = [f.name() for f in layer.fields()]
    assert names[-3:] == ["cluster_id", "cluster_we", "cluster_pa"]
    assert results["UPDATED_FEATURES"] == layer.featureCount() == demo.featureCount()
    assert column(layer, "cluster_id") == column(results["OUTPUT"], "cluster_id")
    assert None not in column(layer, "cluster_we") and None not in column(layer, "cluster_pa")
    np.testing.assert_allclose(column(layer, "cluster_we"), column(results["OUTPUT"], "cluster_weight"))
    assert column(layer, "population") == population_before


class CancelWhileChecking(QgsProcessingFeedback):
    """Cancels once the values are written and being checked: the update must be undone."""

    def setProgressText(self, text):  # noqa: N802 - Qt API
        if text == "Checking the written values":
            self.cancel()
        super().setProgressText(text)


def test_failure_after_writing_puts_a_shapefile_back_byte_identical(wrok_plugin, tmp_path):
    path = save(QgsVectorLayer(str(DEMO), "demo", "ogr"), tmp_path / "population.shp", "ESRI Shapefile")
    files = list(tmp_path.iterdir())
    before = digest(*files)
    with pytest.raises(QgsProcessingException, match="Cancelled; the layer's files were put back as they were"):
        run_algorithm(str(path), UPDATE_INPUT=True, feedback=CancelWhileChecking())
    assert sorted(tmp_path.iterdir()) == sorted(files) and digest(*files) == before
    layer = QgsVectorLayer(str(path), "again", "ogr")
    assert layer.fields().lookupField("cluster_id") < 0 and layer.featureCount() == 6000


def test_failure_after_writing_rolls_a_geopackage_back_byte_identical(wrok_plugin, tmp_path):
    """One SQLite transaction: cancelled while checking, the columns and values are rolled back."""
    path = save(QgsVectorLayer(str(DEMO), "demo", "ogr"), tmp_path / "copy.gpkg", "GPKG")
    files = sorted(tmp_path.iterdir())
    before = digest(*files)
    with pytest.raises(QgsProcessingException, match="Cancelled; the update was rolled back and the GeoPackage "
                                                     "is unchanged"):
        run_algorithm(str(path), UPDATE_INPUT=True, feedback=CancelWhileChecking())
    assert sorted(tmp_path.iterdir()) == files and digest(*files) == before
    assert QgsVectorLayer(str(path), "again", "ogr").fields().lookupField("cluster_id") < 0


def test_geopackage_layer_among_others_is_updated_in_place(wrok_plugin, tmp_path):
    path = copy_demo(tmp_path)
    other = point_layer(*sample_points(n=30))
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.layerName = "other"
    options.actionOnExistingFile = QgsVectorFileWriter.ActionOnExistingFile.CreateOrOverwriteLayer
    assert QgsVectorFileWriter.writeAsVectorFormatV2(other, str(path), other.transformContext(),
                                                     options)[0] == QgsVectorFileWriter.WriterError.NoError
    other_before = [f.attributes() for f in QgsVectorLayer(f"{path}|layername=other", "o", "ogr").getFeatures()]
    layer = QgsVectorLayer(f"{path}|layername=demo_population", "demo", "ogr")
    population = column(layer, "population")
    results = run_algorithm(layer, UPDATE_INPUT=True, OUTPUT=str(path.parent / "out.gpkg"))
    results["OUTPUT"] = QgsVectorLayer(results["OUTPUT"], "out", "ogr")  # a file: updating in place skips temporary ones
    again = QgsVectorLayer(f"{path}|layername=demo_population", "again", "ogr")
    assert results["UPDATED_FEATURES"] == 6000
    assert column(again, "cluster_id") == column(results["OUTPUT"], "cluster_id")
    assert column(again, "cluster_pass") == column(results["OUTPUT"], "cluster_pass")
    assert column(again, "population") == population
    assert [f.attributes() for f in QgsVectorLayer(f"{path}|layername=other", "o", "ogr").getFeatures()] == other_before


def test_narrow_existing_text_field_is_refused_before_writing(wrok_plugin, tmp_path):
    layer = point_layer(*sample_points(n=60))
    layer.dataProvider().addAttributes([QgsField("cluster_id", FieldType.String, len=5)])
    layer.updateFields()
    shp = save(layer, tmp_path / "narrow.shp", "ESRI Shapefile")
    before = digest(*tmp_path.iterdir())
    with pytest.raises(QgsProcessingException, match="holds at most 5 characters"):
        run_algorithm(str(shp), UPDATE_INPUT=True)
    assert digest(*tmp_path.iterdir()) == before


def test_output_onto_a_geopackage_with_other_layers_or_onto_the_input_is_refused(wrok_plugin, tmp_path):
    project = tmp_path / "project.gpkg"
    shutil.copy(DEMO, project)
    before = digest(project)
    with pytest.raises(QgsProcessingException, match="already holds the layer.s. demo_population; writing to the file "
                                                     "would delete them"):
        run_algorithm(str(DEMO), OUTPUT=str(project))
    with pytest.raises(QgsProcessingException, match="is the input layer's file"):
        run_algorithm(str(project), CLUSTERS=str(project))
    assert digest(project) == before


class Recording(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.warnings, self.texts = [], []

    def setProgressText(self, text):  # noqa: N802 - Qt API
        self.texts.append(text)
        super().setProgressText(text)

    def pushWarning(self, text):  # noqa: N802 - Qt API
        self.warnings.append(text)
        super().pushWarning(text)


def test_missing_output_folder_is_found_before_clustering(wrok_plugin, tmp_path):
    feedback = Recording()
    with pytest.raises(QgsProcessingException, match="folder .*missing does not exist"):
        run_algorithm(str(DEMO), feedback=feedback, CLUSTERS=str(tmp_path / "missing" / "hulls.gpkg"))
    assert feedback.texts == []  # not even reading started


def bowtie_layer():
    xy, weights = sample_points(n=90)
    geometries = []
    for i, (x, y) in enumerate(xy):
        ring = [(x - 20, y - 20), (x + 20, y - 20), (x + 20, y + 20), (x - 20, y + 20)]
        if i % 10 == 0:  # self-intersecting: its signed area is ~0 and its centroid flies off
            ring = [(x - 20, y - 20), (x + 20, y + 20), (x + 20, y - 20), (x - 20, y + 20.001)]
        geometries.append(QgsGeometry.fromPolygonXY([[QgsPointXY(*p) for p in ring]]))
    return memory_layer("Polygon", UTM_33N, geometries, weights)


def test_invalid_polygons_are_repaired_with_a_count_or_refused(wrok_plugin):
    feedback = Recording()
    results = run_algorithm(bowtie_layer(), feedback=feedback, TARGET_WEIGHT=60, MAX_WEIGHT=80)
    assert "Repaired 9 invalid geometries (makeValid) for measuring" in " ".join(feedback.warnings)
    assert max(column(results["CLUSTERS"], "radius_m")) < 6000
    with pytest.raises(QgsProcessingException, match="has an invalid geometry .*Fix geometries"):
        run_algorithm(bowtie_layer(), INVALID_GEOMETRIES=1)


def test_layer_without_crs_plus_measuring_crs_means_coordinates_in_that_crs(wrok_plugin):
    xy, weights = sample_points()
    with_crs = run_algorithm(point_layer(xy, weights))
    no_crs = point_layer(xy, weights, crs="")
    assert not no_crs.crs().isValid()
    with pytest.raises(QgsProcessingException, match="no coordinate reference system"):
        run_algorithm(no_crs)
    results = run_algorithm(no_crs, MEASURING_CRS=UTM_33N)
    assert column(results["OUTPUT"], "cluster_id") == column(with_crs["OUTPUT"], "cluster_id")
    assert results["MEDIAN_RADIUS_M"] == pytest.approx(with_crs["MEDIAN_RADIUS_M"])
    assert results["OUTPUT"].crs() == QgsCoordinateReferenceSystem(UTM_33N)
    degrees = point_layer(np.column_stack([15 + xy[:, 0] / 1e7, 42 + xy[:, 1] / 1e8]), weights, crs="")
    with pytest.raises(QgsProcessingException, match="look like longitude/latitude degrees"):
        run_algorithm(degrees, MEASURING_CRS=UTM_33N)


def test_lines_are_clustered_like_in_the_cli(wrok_plugin):
    xy, weights = sample_points(n=60)
    lines = [QgsGeometry.fromPolylineXY([QgsPointXY(x, y), QgsPointXY(x + 50, y + 30)]) for x, y in xy]
    results = run_algorithm(memory_layer("LineString", UTM_33N, lines, weights), TARGET_WEIGHT=60, MAX_WEIGHT=80)
    assert results["OUTPUT"].featureCount() == 60 and None not in column(results["OUTPUT"], "cluster_id")


def test_min_weight_and_jobs_reach_the_engine(wrok_plugin):
    xy, weights = sample_points()
    results = run_algorithm(point_layer(xy, weights), MIN_WEIGHT=150, JOBS=-1)
    assert min(column(results["CLUSTERS"], "weight")) >= 150


def test_cluster_fields_carry_no_type_name(wrok_plugin):
    from wrok_plugin.writeback.in_place import cluster_fields

    fields = cluster_fields(["cluster_id", "cluster_weight", "cluster_pass"])
    assert [(f.typeName(), f.type()) for f in fields] == [("", FieldType.String), ("", FieldType.Double),
                                                          ("", FieldType.Int)]


def load_demo_into_postgis(server, dbname):
    import os
    import subprocess

    env = dict(os.environ, **server.libpq_env(dbname))
    subprocess.run(["ogr2ogr", "-f", "PostgreSQL", f"PG:dbname={dbname}", str(DEMO), "-nln", "population",
                    "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid"], check=True, env=env, capture_output=True)
    from qgis.core import QgsDataSourceUri

    uri = QgsDataSourceUri()
    uri.setConnection(server.socket_dir, str(server.libpq_env()["PGPORT"]), dbname, "postgres", "")
    uri.setDataSource("public", "population", "geom", "", "fid")
    return uri.uri(False)


def column_types(server, dbname):
    rows = server.psql(dbname, "SELECT column_name || ':' || data_type FROM information_schema.columns "
                               "WHERE table_name = 'population' ORDER BY ordinal_position")
    return dict(line.split(":") for line in rows.splitlines())


def test_postgis_in_place_update_gets_native_column_types(wrok_plugin, postgres_server, postgis_db):
    """Issue 13's finding: fields declared as type name 'string' made PostgreSQL refuse the update."""
    uri = load_demo_into_postgis(postgres_server, postgis_db)
    others = "fid, population, geom"
    before = postgres_server.psql(postgis_db, f"SELECT md5(string_agg(({others})::text, ',' ORDER BY fid)) "
                                              "FROM population")
    layer = QgsVectorLayer(uri, "population", "postgres")
    assert layer.isValid() and layer.featureCount() == 6000
    results = run_algorithm(layer, UPDATE_INPUT=True)
    assert results["UPDATED_FEATURES"] == 6000
    types = column_types(postgres_server, postgis_db)
    assert (types["cluster_id"], types["cluster_weight"], types["cluster_pass"]) == ("text", "double precision",
                                                                                     "integer")
    assert postgres_server.psql(postgis_db, "SELECT count(*) FROM population WHERE cluster_id IS NULL OR "
                                            "cluster_weight IS NULL OR cluster_pass IS NULL") == "0"
    assert postgres_server.psql(postgis_db, f"SELECT md5(string_agg(({others})::text, ',' ORDER BY fid)) "
                                            "FROM population") == before


def test_postgis_write_back_action_gets_native_column_types(wrok_plugin, postgres_server, postgis_db):
    from wrok_plugin.qgis_io.clustering import ClusterSettings
    from wrok_plugin.writeback.task import ClusterLayerTask

    layer = QgsVectorLayer(load_demo_into_postgis(postgres_server, postgis_db), "population", "postgres")
    messages = []
    task = ClusterLayerTask(layer, ClusterSettings(weight_field="population", initial_trials=10, subsequent_trials=5),
                            on_message=lambda level, text: messages.append((level, text)))
    task.finished(task.run())
    assert messages[0][0] == "success", messages
    assert not layer.isEditable()  # written in one database transaction, not through the edit buffer
    types = column_types(postgres_server, postgis_db)
    assert (types["cluster_id"], types["cluster_weight"], types["cluster_pass"]) == ("text", "double precision",
                                                                                     "integer")
    assert postgres_server.psql(postgis_db, "SELECT count(*) FROM population WHERE cluster_id IS NULL") == "0"


def test_geopackage_trigger_functions_match_gdals_rtree(tmp_path):
    """The R-tree functions the update registers give what GDAL stored in the spatial index."""
    from wrok_plugin.writeback.geopackage import _connect

    polygons = save(memory_layer("Polygon", UTM_33N, squares_of(sample_points(n=20)[0]), np.ones(20)),
                    tmp_path / "squares.gpkg", "GPKG")
    for path, table in ((DEMO, "demo_population"), (polygons, "squares")):
        connection = _connect(path)
        rows = connection.execute(
            f'SELECT ST_MinX(geom), ST_MaxX(geom), ST_MinY(geom), ST_MaxY(geom), ST_IsEmpty(geom), r.minx, r.maxx, '
            f'r.miny, r.maxy FROM "{table}" t JOIN "rtree_{table}_geom" r ON r.id = t.fid').fetchall()
        connection.close()
        assert len(rows) > 0
        for row in rows:
            assert row[4] == 0
            # The R-tree stores 32-bit floats rounded outwards.
            np.testing.assert_allclose(row[:4], row[5:], rtol=1e-6)


def squares_of(xy):
    return [QgsGeometry.fromPolygonXY([[QgsPointXY(x - 40, y - 40), QgsPointXY(x + 40, y - 40),
                                        QgsPointXY(x + 40, y + 40), QgsPointXY(x - 40, y + 40)]]) for x, y in xy]


def test_wide_layer_radii_are_within_one_percent_of_geodesic(wrok_plugin):
    """80 degrees of longitude: each cluster is measured around its own centre (the CLI's rule)."""
    from qgis.core import QgsCoordinateTransform, QgsProject

    from core.engine.radius import minimum_bounding_circles

    rng = np.random.default_rng(5)
    centres = np.column_stack([np.linspace(-40, 40, 9), np.full(9, 50.0)])
    lonlat = np.concatenate([c + rng.normal(0, 0.01, (40, 2)) for c in centres])
    layer = point_layer(lonlat, np.ones(len(lonlat)), crs="EPSG:4326")
    feedback = Recording()
    results = run_algorithm(layer, feedback=feedback, TARGET_WEIGHT=40, MAX_WEIGHT=45, TARGET_RADIUS=3000)
    ids = np.array(column(results["OUTPUT"], "cluster_id"))
    radii = dict(zip(column(results["CLUSTERS"], "cluster_id"), column(results["CLUSTERS"], "radius_m")))
    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    for name, radius in radii.items():
        members = lonlat[ids == name]
        lon0, lat0 = members.mean(axis=0)
        aeqd = QgsCoordinateReferenceSystem.fromProj(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m")
        transform = QgsCoordinateTransform(wgs84, aeqd, QgsProject.instance())
        xy = np.array([[p.x(), p.y()] for p in (transform.transform(QgsPointXY(*m)) for m in members)])
        geodesic = minimum_bounding_circles(xy[:, 0], xy[:, 1], np.zeros(len(xy), dtype=int), 1)[2][0]
        assert radius == pytest.approx(geodesic, rel=0.01), name


def test_seed_mode_over_the_max_is_named_in_a_warning(wrok_plugin):
    stacked = np.tile([[500_000.0, 4_650_000.0]], (200, 1))
    feedback = Recording()
    from wrok_plugin.qgis_io.clustering import STRATEGY_CHOICES

    results = run_algorithm(point_layer(stacked, np.full(200, 10.0)), feedback=feedback,
                            STRATEGY=STRATEGY_CHOICES.index("seed"),
                            INITIAL_TRIALS=3, SUBSEQUENT_TRIALS=2, MAX_PASSES=3)
    weights = dict(zip(column(results["CLUSTERS"], "cluster_id"), column(results["CLUSTERS"], "weight")))
    over = {name: weight for name, weight in weights.items() if weight > 300}
    assert over
    for name, weight in over.items():
        assert f"Cluster {name} weighs {weight:g}, over the max weight of 300." in feedback.warnings


def test_qgis_process_refuses_a_clashing_field_once_and_leaves_the_file(wrok_plugin, qgis_process_env, tmp_path):
    import subprocess

    source = copy_demo(tmp_path)
    before = digest(source)
    subprocess.run(["qgis_process.bin", "plugins", "enable", "wrok_plugin"], env=qgis_process_env,
                   capture_output=True, timeout=120)
    done = subprocess.run(["qgis_process.bin", "run", "wrok:tunedclustering", "--", f"INPUT={source}",
                           "WEIGHT_FIELD=population", "UPDATE_INPUT=true", "CLUSTER_ID_FIELD=population",
                           f"OUTPUT={tmp_path / 'out.gpkg'}"], env=qgis_process_env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode != 0
    message = "already has a field 'population' holding real values"
    assert (done.stdout + done.stderr).count(message) == 1, done.stderr
    assert digest(source) == before and not (tmp_path / "out.gpkg").exists()


@pytest.mark.parametrize("arguments, message", [
    (["WEIGHT_FIELD=people"], "Weight field 'people' is not in the input layer"),
    (["MEASURING_CRS=EPSG:4326"], "EPSG:4326 is geographic (degrees)"),
])
def test_qgis_process_prints_a_layer_problem_once(wrok_plugin, qgis_process_env, tmp_path, arguments, message):
    import subprocess

    subprocess.run(["qgis_process.bin", "plugins", "enable", "wrok_plugin"], env=qgis_process_env,
                   capture_output=True, timeout=120)
    done = subprocess.run(["qgis_process.bin", "run", "wrok:tunedclustering", "--", f"INPUT={DEMO}", *arguments,
                           f"OUTPUT={tmp_path / 'out.gpkg'}"], env=qgis_process_env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode != 0 and (done.stdout + done.stderr).count(message) == 1, done.stderr


def test_geometry_collections_are_clustered_like_in_the_cli(wrok_plugin):
    xy, weights = sample_points(n=60)
    shapes = [QgsGeometry.fromWkt(f"GeometryCollection (Point ({x} {y}), LineString ({x} {y}, {x + 60} {y + 20}))")
              for x, y in xy]
    layer = memory_layer("GeometryCollection", UTM_33N, shapes, weights)
    layer.setCrs(QgsCoordinateReferenceSystem(UTM_33N))  # the memory provider ignores ?crs= for collections
    results = run_algorithm(layer, TARGET_WEIGHT=60, MAX_WEIGHT=80)
    assert results["OUTPUT"].featureCount() == 60 and None not in column(results["OUTPUT"], "cluster_id")
    # Radii cover the whole shapes: every segment's far end lies within its cluster's radius of the others.
    assert min(column(results["CLUSTERS"], "radius_m")) > 0


def test_write_back_action_refuses_a_clash_and_writes_shapefile_names(wrok_plugin, tmp_path):
    from wrok_plugin.qgis_io.clustering import ClusterSettings
    from wrok_plugin.writeback.task import ClusterLayerTask

    def run_task(layer, **overrides):
        messages = []
        settings = ClusterSettings(weight_field="population", initial_trials=10, subsequent_trials=5, **overrides)
        task = ClusterLayerTask(layer, settings, on_message=lambda level, text: messages.append((level, text)))
        task.finished(task.run())
        return task, messages

    shp = save(QgsVectorLayer(str(DEMO), "demo", "ogr"), tmp_path / "population.shp", "ESRI Shapefile")
    before = digest(*tmp_path.iterdir())
    layer = QgsVectorLayer(str(shp), "population", "ogr")
    _, messages = run_task(layer, id_field="population")
    assert messages[0][0] == "error" and "already has a field 'population'" in messages[0][1]
    assert not layer.isEditable() and digest(*tmp_path.iterdir()) == before
    task, messages = run_task(layer)
    assert messages[0][0] == "success" and task.updated == 6000
    assert layer.commitChanges(), layer.commitErrors()
    again = QgsVectorLayer(str(shp), "again", "ogr")
    assert [f.name() for f in again.fields()][-3:] == ["cluster_id", "cluster_we", "cluster_pa"]
    assert None not in column(again, "cluster_we") and None not in column(again, "cluster_pa")
