"""Strata, the radius cap, centroids and raster input through processing.run and the real qgis_process."""

import json
import subprocess
import sys

import numpy as np
import pytest
from qgis import processing
from qgis.core import (
    QgsFeature,
    QgsField,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsRasterLayer,
    QgsVectorLayer,
)

from wrok_plugin.compat import FieldType

from ..conftest import REPO
from ..helpers import QUICK, column, model_output_name, run_algorithm
from .test_headless import QGIS_PROCESS, enabled_env, qgis_process  # noqa: F401  (module fixture)

sys.path.insert(0, str(REPO / "tests"))
from raster_data import GRIDS, grids_geotiff  # noqa: E402

pytestmark = pytest.mark.skipif(not GRIDS.exists(), reason="../shared/data/grids.parquet is not here")
STRATA_CSV = "PSGC,urban,target_weight,max_weight,max_radius\n1102305007,true,150,190,\n1102305007,false,400,480,1200\n"


class Messages(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.warnings, self.infos = [], []

    def pushWarning(self, text):
        self.warnings.append(text)

    def pushInfo(self, text):
        self.infos.append(text)

    def reportError(self, text, fatal=False):
        self.warnings.append(text)


@pytest.fixture(scope="module")
def grids_gpkg(tmp_path_factory):
    import geopandas

    folder = tmp_path_factory.mktemp("frame")
    frame = geopandas.read_parquet(GRIDS)
    frame["urban"] = frame["Lon"] > frame["Lon"].median()  # grids is all urban: split it east/west
    frame["radius_goal"] = np.where(frame["urban"], 500.0, 2000.0)
    frame.to_file(folder / "grids.gpkg", driver="GPKG")
    (folder / "strata.csv").write_text(STRATA_CSV)
    return folder


def strata_table_layer():
    """The strata table as a QGIS table layer (no geometry), as a user would make one."""
    layer = QgsVectorLayer("None", "strata", "memory")
    layer.dataProvider().addAttributes([QgsField("PSGC", FieldType.LongLong), QgsField("urban", FieldType.Bool),
                                        QgsField("target_weight", FieldType.Double),
                                        QgsField("max_weight", FieldType.Double),
                                        QgsField("max_radius", FieldType.Double)])
    layer.updateFields()
    for values in ([1102305007, True, 150.0, 190.0, None], [1102305007, False, 400.0, 480.0, 1200.0]):
        feature = QgsFeature(layer.fields())
        feature.setAttributes(values)
        layer.dataProvider().addFeature(feature)
    return layer


def test_strata_table_layer_matches_the_cli(wrok_plugin, grids_gpkg, tmp_path):
    feedback = Messages()
    results = run_algorithm(str(grids_gpkg / "grids.gpkg"), feedback=feedback, STRATUM_FIELDS=["PSGC", "urban"],
                            STRATA_TABLE=strata_table_layer(), MEASURING_CRS="EPSG:3121",
                            CENTROIDS="TEMPORARY_OUTPUT")
    cli_out = tmp_path / "cli.gpkg"
    subprocess.run([sys.executable, "-m", "core", "cluster", str(grids_gpkg / "grids.gpkg"), str(cli_out),
                    "--weight-field", "population", "--target-weight", "240", "--target-radius", "1000",
                    "--max-weight", "300", "--initial-trials", str(QUICK["INITIAL_TRIALS"]), "--subsequent-trials",
                    str(QUICK["SUBSEQUENT_TRIALS"]), "--epsg", "3121", "--stratum-field", "PSGC", "--stratum-field",
                    "urban", "--strata-table", str(grids_gpkg / "strata.csv"), "--quiet"],
                   cwd=REPO, check=True, timeout=600)
    ids = column(results["OUTPUT"], "cluster_id")
    assert ids == column(QgsVectorLayer(str(cli_out), "cli", "ogr"), "cluster_id")
    assert {i.split("_CLUSTER_")[0] for i in ids} == {"PSGC1102305007_urban", "PSGC1102305007_not-urban"}
    clusters = results["CLUSTERS"]
    strata = dict(zip(column(clusters, "cluster_id"), column(clusters, "stratum")))
    weights = dict(zip(column(clusters, "cluster_id"), column(clusters, "weight")))
    radii = dict(zip(column(clusters, "cluster_id"), column(clusters, "radius_m")))
    assert max(w for i, w in weights.items() if strata[i].endswith("_urban")) <= 190
    assert max(r for i, r in radii.items() if strata[i].endswith("not-urban")) <= 1200
    centroids = results["CENTROIDS"]
    assert centroids.featureCount() == clusters.featureCount() == results["CLUSTER_COUNT"]
    assert column(centroids, "cluster_id") == column(clusters, "cluster_id")
    assert any("stratum PSGC1102305007_urban:" in text for text in feedback.infos)


def test_bad_row_names_its_stratum(wrok_plugin, grids_gpkg):
    table = strata_table_layer()
    table.dataProvider().changeAttributeValues({2: {3: 100.0}})  # not-urban max weight below its target
    with pytest.raises(QgsProcessingException, match="stratum PSGC1102305007_not-urban: max cluster weight"):
        run_algorithm(str(grids_gpkg / "grids.gpkg"), STRATUM_FIELDS=["PSGC", "urban"], STRATA_TABLE=table)
    with pytest.raises(QgsProcessingException, match="need stratum field"):
        run_algorithm(str(grids_gpkg / "grids.gpkg"), STRATA_TABLE=table)


def test_targets_from_a_field_and_a_radius_cap(wrok_plugin, grids_gpkg):
    feedback = Messages()
    results = run_algorithm(str(grids_gpkg / "grids.gpkg"), feedback=feedback, STRATUM_FIELDS=["urban"],
                            TARGET_RADIUS_FIELD="radius_goal", MAX_RADIUS=1500, MEASURING_CRS="EPSG:3121")
    assert max(column(results["CLUSTERS"], "radius_m")) <= 1500
    assert results["CLUSTERS_OVER_MAX_RADIUS"] == 0
    assert set(column(results["CLUSTERS"], "stratum")) == {"urban", "not-urban"}


@pytest.fixture(scope="module")
def grids_tif(grids_gpkg):
    points = grids_geotiff(grids_gpkg / "grids.tif")
    points.to_file(grids_gpkg / "pixels.gpkg", driver="GPKG")
    return grids_gpkg


def run_raster(path, **overrides):
    parameters = {"INPUT": str(path), "TARGET_WEIGHT": 240, "TARGET_RADIUS": 1000, "MAX_WEIGHT": 300, **QUICK,
                  "MEASURING_CRS": "EPSG:32651", "CLUSTERS": "TEMPORARY_OUTPUT", "CLUSTER_RASTER": "TEMPORARY_OUTPUT",
                  "CENTROIDS": "TEMPORARY_OUTPUT"}
    parameters.update(overrides)
    return processing.run("wrok:clusterraster", parameters, feedback=QgsProcessingFeedback())


def test_raster_clusters_like_its_pixel_points(wrok_plugin, grids_tif):
    results = run_raster(grids_tif / "grids.tif")
    points = run_algorithm(str(grids_tif / "pixels.gpkg"), MEASURING_CRS="EPSG:32651")
    numbers = QgsRasterLayer(results["CLUSTER_RASTER"], "numbers")
    source = QgsRasterLayer(str(grids_tif / "grids.tif"), "source")
    assert numbers.extent() == source.extent() and numbers.width() == source.width()
    provider = numbers.dataProvider()
    block = provider.block(1, numbers.extent(), numbers.width(), numbers.height())
    polygons = results["CLUSTERS"]
    id_of = dict(zip(column(polygons, "cluster_number"), column(polygons, "cluster_id")))
    rows, cols = column(points["OUTPUT"], "row"), column(points["OUTPUT"], "col")
    raster_ids = [id_of[int(block.value(r, c))] for r, c in zip(rows, cols)]
    assert raster_ids == column(points["OUTPUT"], "cluster_id")
    assert results["PIXELS"] == len(rows) and results["CLUSTER_COUNT"] == polygons.featureCount()
    cell = source.rasterUnitsPerPixelX() * source.rasterUnitsPerPixelY()
    counts = column(polygons, "n_features")
    areas = [feature.geometry().area() for feature in polygons.getFeatures()]
    np.testing.assert_allclose(areas, np.array(counts) * cell, rtol=1e-6)  # dissolved squares: they tile
    assert all(feature.geometry().isGeosValid() for feature in polygons.getFeatures())
    assert results["CENTROIDS"].featureCount() == polygons.featureCount()


def test_raster_errors_are_named(wrok_plugin, grids_tif, tmp_path):
    with pytest.raises(QgsProcessingException, match="band 3 does not exist"):
        run_raster(grids_tif / "grids.tif", BAND=3)
    with pytest.raises(QgsProcessingException, match="max cluster weight .*below the target"):
        run_raster(grids_tif / "grids.tif", MAX_WEIGHT=100)
    with pytest.raises(QgsProcessingException, match="max cluster radius must be > 0|MAX_RADIUS"):
        run_raster(grids_tif / "grids.tif", MAX_RADIUS=-5)


def test_qgis_process_runs_raster_and_strata(enabled_env, grids_tif, tmp_path):  # noqa: F811
    polygons, numbers = tmp_path / "clusters.gpkg", tmp_path / "numbers.tif"
    done = qgis_process(enabled_env, "--json", "run", "wrok:clusterraster", "--", f"INPUT={grids_tif / 'grids.tif'}",
                        "TARGET_WEIGHT=240", "TARGET_RADIUS=1000", "MAX_WEIGHT=300", "MAX_RADIUS=2500",
                        "INITIAL_TRIALS=10", f"CLUSTERS={polygons}", f"CLUSTER_RASTER={numbers}")
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)["results"]
    layer = QgsVectorLayer(str(polygons), "clusters", "ogr")
    assert layer.featureCount() == results["CLUSTER_COUNT"] > 0 and numbers.exists()
    assert max(column(layer, "radius_m")) <= 2500
    out = tmp_path / "out.gpkg"
    done = qgis_process(enabled_env, "--json", "run", "wrok:tunedclustering", "--",
                        f"INPUT={grids_tif / 'grids.gpkg'}", "WEIGHT_FIELD=population", "STRATUM_FIELDS=PSGC",
                        "STRATUM_FIELDS=urban", f"STRATA_TABLE={grids_tif / 'strata.csv'}", "INITIAL_TRIALS=10",
                        f"OUTPUT={out}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert {i.split("_CLUSTER_")[0] for i in column(QgsVectorLayer(str(out), "o", "ogr"), "cluster_id")} == {
        "PSGC1102305007_urban", "PSGC1102305007_not-urban"}


def test_raster_strata_from_a_polygon_layer(wrok_plugin, grids_tif):
    from qgis.core import QgsGeometry, QgsRectangle

    from ..layers import memory_layer

    points = QgsVectorLayer(str(grids_tif / "pixels.gpkg"), "pixels", "ogr")
    extent = points.extent()
    middle = sorted(f.geometry().asPoint().x() for f in points.getFeatures())[points.featureCount() // 2]
    middle += 0.000833333 / 2  # a pixel edge: every centre is clearly on one side
    halves = [QgsGeometry.fromRect(QgsRectangle(extent.xMinimum() - 1, extent.yMinimum() - 1, middle,
                                                extent.yMaximum() + 1)),
              QgsGeometry.fromRect(QgsRectangle(middle, extent.yMinimum() - 1, extent.xMaximum() + 1,
                                                extent.yMaximum() + 1))]
    districts = memory_layer("Polygon", "EPSG:4326", halves, weights=[1.0, 2.0])  # fields name, population, code
    results = run_raster(grids_tif / "grids.tif", STRATA_LAYER=districts, STRATUM_FIELDS=["name"])
    clusters = results["CLUSTERS"]
    assert set(column(clusters, "stratum")) == {"f0", "f1"}
    west = sum(1 for f in points.getFeatures() if f.geometry().asPoint().x() < middle)
    counts = dict(zip(column(clusters, "cluster_id"), column(clusters, "n_features")))
    assert sum(n for i, n in counts.items() if i.startswith("f0_CLUSTER_")) == west
    assert sum(counts.values()) == points.featureCount()
    with pytest.raises(QgsProcessingException, match="need both the strata polygons and the stratum field"):
        run_raster(grids_tif / "grids.tif", STRATUM_FIELDS=["name"])
    with pytest.raises(QgsProcessingException, match="need both the strata polygons and the stratum field"):
        run_raster(grids_tif / "grids.tif", STRATA_LAYER=districts)


def test_classify_raster_values(wrok_plugin, tmp_path):
    from raster_data import write_geotiff

    ndvi = np.repeat(np.where(np.arange(60)[None, :] < 30, 0.1, 0.8), 20, axis=0).astype(np.float32)
    ndvi[0, 0] = -99999.0  # nodata
    write_geotiff(tmp_path / "ndvi.tif", ndvi, (300_000.0, 10.0, 0.0, 5_000_000.0, 0.0, -10.0), epsg=32633)
    results = processing.run("wrok:classifyraster", {"INPUT": str(tmp_path / "ndvi.tif"), "CLASSES": 2,
                                                     "OUTPUT": "TEMPORARY_OUTPUT", "CLASS_RASTER": "TEMPORARY_OUTPUT"})
    classes = results["OUTPUT"]
    assert column(classes, "n_pixels") == [20 * 30 - 1, 20 * 30] and results["PIXELS"] == 20 * 60 - 1
    assert [round(v, 3) for v in column(classes, "mean_value")] == [0.1, 0.8]
    assert [round(f.geometry().area()) for f in classes.getFeatures()] == [(20 * 30 - 1) * 100, 20 * 30 * 100]
    raster = QgsRasterLayer(results["CLASS_RASTER"], "classes")
    block = raster.dataProvider().block(1, raster.extent(), raster.width(), raster.height())
    assert [block.value(5, c) for c in (0, 29, 30, 59)] == [1, 1, 2, 2]


def test_raster_clustering_chains_in_a_model(wrok_plugin, grids_tif):
    """Modeler use: a raster model parameter feeds wrok:clusterraster, whose polygons feed native:centroids."""
    from qgis.core import (
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterRasterLayer,
    )

    model = QgsProcessingModelAlgorithm("raster frame", "tests")
    model.addModelParameter(QgsProcessingParameterRasterLayer("population", "Population"),
                            QgsProcessingModelParameter("population"))
    static = QgsProcessingModelChildParameterSource.fromStaticValue
    clustering = QgsProcessingModelChildAlgorithm("wrok:clusterraster")
    clustering.setChildId("clustering")
    clustering.addParameterSources("INPUT", [QgsProcessingModelChildParameterSource.fromModelParameter("population")])
    for name, value in (("TARGET_WEIGHT", 240), ("TARGET_RADIUS", 1000), ("MAX_WEIGHT", 300), ("MAX_RADIUS", 3000),
                        ("INITIAL_TRIALS", 10)):
        clustering.addParameterSources(name, [static(value)])
    model.addChildAlgorithm(clustering)
    centres = QgsProcessingModelChildAlgorithm("native:centroids")
    centres.setChildId("centres")
    centres.addParameterSources("INPUT", [QgsProcessingModelChildParameterSource.fromChildOutput("clustering",
                                                                                                 "CLUSTERS")])
    output = QgsProcessingModelOutput("centres", "Cluster centres")
    output.setChildId("centres")
    output.setChildOutputName("OUTPUT")
    centres.setModelOutputs({"centres": output})
    model.addChildAlgorithm(centres)
    feedback = Messages()
    # Processing's default invalid-geometry check stops the chain on any invalid cluster polygon.
    name = model_output_name(model)
    results = processing.run(model, {"population": str(grids_tif / "grids.tif"), name: "TEMPORARY_OUTPUT"},
                             feedback=feedback)
    layer = results[name]
    direct = run_raster(grids_tif / "grids.tif", MEASURING_CRS=None, MAX_RADIUS=3000, INITIAL_TRIALS=10)
    assert sorted(column(layer, "cluster_id")) == sorted(column(direct["CLUSTERS"], "cluster_id"))
    assert max(column(layer, "radius_m")) <= 3000


WITHOUT_GEOPANDAS = """
import sys
for name in ("geopandas", "pyproj", "shapely", "pyogrio"):  # must never load in the QGIS desktop process
    sys.modules[name] = None
sys.path[:0] = [sys.argv[1], "/usr/share/qgis/python/plugins"]
from qgis.core import QgsApplication
app = QgsApplication([], False)
app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
import wrok_plugin
plugin = wrok_plugin.classFactory(None)  # held: the provider goes with it
plugin.initProcessing()
import processing
folder = sys.argv[2]
quick = {"INITIAL_TRIALS": 5, "SUBSEQUENT_TRIALS": 3, "TARGET_WEIGHT": 240, "TARGET_RADIUS": 1000, "MAX_WEIGHT": 300}
raster = processing.run("wrok:clusterraster", {"INPUT": folder + "/grids.tif", "MAX_RADIUS": 2000, **quick,
                        "CLUSTERS": "TEMPORARY_OUTPUT", "CLUSTER_RASTER": "TEMPORARY_OUTPUT"})
strata = processing.run("wrok:tunedclustering", {"INPUT": folder + "/grids.gpkg", "WEIGHT_FIELD": "population",
                        "STRATUM_FIELDS": ["PSGC", "urban"], "STRATA_TABLE": folder + "/strata.csv", **quick,
                        "CENTROIDS": "TEMPORARY_OUTPUT", "OUTPUT": "TEMPORARY_OUTPUT", "CLUSTERS": "TEMPORARY_OUTPUT"})
classes = processing.run("wrok:classifyraster", {"INPUT": folder + "/grids.tif", "CLASSES": 3,
                         "OUTPUT": "TEMPORARY_OUTPUT", "CLASS_RASTER": "TEMPORARY_OUTPUT"})
print("RESULT", raster["CLUSTER_COUNT"], strata["CENTROIDS"].featureCount(), classes["OUTPUT"].featureCount())
"""


def test_frame_algorithms_run_without_geopandas_pyproj_or_shapely(qgis_process_env, grids_tif):
    done = subprocess.run([sys.executable, "-c", WITHOUT_GEOPANDAS, str(REPO), str(grids_tif)], env=qgis_process_env,
                          capture_output=True, text=True, timeout=600)
    line = next((line for line in done.stdout.splitlines() if line.startswith("RESULT")), None)
    assert line, done.stderr[-3000:]
    raster_clusters, strata_centroids, classes = map(int, line.split()[1:])
    assert raster_clusters > 0 and strata_centroids > 0 and classes == 3


def test_cluster_raster_output_may_not_replace_the_input(wrok_plugin, grids_tif):
    before = (grids_tif / "grids.tif").read_bytes()
    with pytest.raises(QgsProcessingException, match="is the input raster; writing it would replace your data"):
        run_raster(grids_tif / "grids.tif", CLUSTER_RASTER=str(grids_tif / "grids.tif"))
    assert (grids_tif / "grids.tif").read_bytes() == before


def test_number_of_clusters_with_centroids(wrok_plugin, grids_tif):
    """The SageMaker fixed-k job: exactly N clusters, their centroids as a point layer."""
    vector = run_algorithm(str(grids_tif / "grids.gpkg"), NUMBER_OF_CLUSTERS=8, MAX_WEIGHT=0,
                           CENTROIDS="TEMPORARY_OUTPUT")
    assert vector["CLUSTER_COUNT"] == 8 and vector["CENTROIDS"].featureCount() == 8
    assert all(f.geometry().type() == 0 for f in vector["CENTROIDS"].getFeatures())  # points
    raster = run_raster(grids_tif / "grids.tif", NUMBER_OF_CLUSTERS=8, MAX_WEIGHT=0)
    assert raster["CLUSTER_COUNT"] == 8 and raster["CENTROIDS"].featureCount() == 8
    assert sorted(column(raster["CLUSTERS"], "cluster_id")) == sorted(column(vector["CLUSTERS"], "cluster_id"))
