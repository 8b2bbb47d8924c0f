"""Styles stay with the data: GeoPackages the command line writes (no QGIS there) open styled in QGIS."""

import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from qgis.core import QgsVectorLayer

from ..conftest import REPO
from ..helpers import column

RESOURCES = REPO / "resources"


def cli(*args):
    run = subprocess.run([sys.executable, "-m", "core", *map(str, args), "--quiet"], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "warning" not in run.stderr.lower(), run.stderr
    return run


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    folder = tmp_path_factory.mktemp("styled")
    cli("cluster", RESOURCES / "demo_population.tif", folder / "clusters.gpkg", "--strata-layer",
        RESOURCES / "demo_districts.geojson", "--stratum-field", "district", "--strata-table",
        RESOURCES / "demo_strata.csv", "--target-weight", 240, "--target-radius", 1000, "--max-weight", 300)
    cli("sample", folder / "clusters.gpkg", folder / "sample.gpkg", "--stratum-field", "stratum", "--sizes",
        RESOURCES / "demo_sample_sizes.csv", "--seed", 7)
    return folder


def reopened(path):
    layer = QgsVectorLayer(str(path), path.stem, "ogr")  # a fresh layer: QGIS loads the default style itself
    assert layer.isValid()
    return layer


def test_cluster_polygons_reopen_with_a_colour_and_a_label_per_cluster(wrok_plugin, survey):
    layer = reopened(survey / "clusters.gpkg")
    renderer = layer.renderer()
    assert renderer.type() == "categorizedSymbol" and renderer.classAttribute() == "cluster_id"
    categories = {c.value(): c.symbol().color() for c in renderer.categories()}
    assert sorted(categories) == sorted(column(layer, "cluster_id"))
    assert len({colour.name() for colour in categories.values()}) == len(categories)  # all told apart
    assert {colour.alpha() for colour in categories.values()} == {70}  # see-through outlines
    assert layer.labelsEnabled() and layer.labeling().settings().fieldName == "cluster_id"


def test_the_sample_reopens_with_psus_certainty_and_replacements_apart(wrok_plugin, survey):
    layer = reopened(survey / "sample.gpkg")
    renderer = layer.renderer()
    assert renderer.type() == "categorizedSymbol" and "replacement" in renderer.classAttribute()
    assert [c.label() for c in renderer.categories()] == ["PSU", "PSU (certainty)", "Replacement"]
    assert layer.labelsEnabled() and "selection_order" in layer.labeling().settings().fieldName
    # Every feature falls in a class: the expression QGIS evaluates matches the sample's own flags.
    kinds = [c.value() for c in renderer.categories()]
    for feature in layer.getFeatures():
        expected = "replacement" if feature["replacement"] else "certainty" if feature["certainty"] else "PSU"
        assert expected in kinds


def test_the_style_is_the_default_row_of_layer_styles(survey):
    with sqlite3.connect(survey / "clusters.gpkg") as db:
        rows = db.execute("SELECT f_table_name, f_geometry_column, useAsDefault, styleName FROM layer_styles").fetchall()
        registered = db.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
    assert rows == [("clusters", "geom", 1, "wrok")] and registered == ("attributes",)


def test_clustered_points_and_their_outlines_reopen_styled(wrok_plugin, tmp_path):
    import geopandas as gpd

    rng = np.random.default_rng(2)
    points = gpd.GeoDataFrame({"population": rng.integers(1, 30, 300).astype(float)},
                              geometry=gpd.points_from_xy(rng.uniform(0, 5000, 300), rng.uniform(0, 5000, 300)),
                              crs=32651)
    points.to_file(tmp_path / "points.gpkg")
    cli("cluster", tmp_path / "points.gpkg", tmp_path / "clustered.gpkg", "--weight-field", "population",
        "--target-weight", 240, "--target-radius", 1000, "--max-weight", 300, "--initial-trials", 4,
        "--summary", tmp_path / "outlines.gpkg")
    features = reopened(tmp_path / "clustered.gpkg")
    assert features.renderer().type() == "categorizedSymbol"
    assert {c.value() for c in features.renderer().categories()} == set(column(features, "cluster_id"))
    assert not features.labelsEnabled()  # thousands of points: the outlines carry the labels
    outlines = reopened(tmp_path / "outlines.gpkg")
    assert outlines.labelsEnabled()
    # Writing a second layer into the same GeoPackage keeps the first layer's style.
    cli("cluster", tmp_path / "points.gpkg", tmp_path / "clustered.gpkg", "--output-layer", "again",
        "--weight-field", "population", "--target-weight", 240, "--target-radius", 1000, "--max-weight", 300,
        "--initial-trials", 4)
    with sqlite3.connect(tmp_path / "clustered.gpkg") as db:
        styled = sorted(row[0] for row in db.execute("SELECT f_table_name FROM layer_styles WHERE useAsDefault"))
    assert styled == ["again", "clustered"]


def test_processing_outputs_written_to_geopackage_reopen_styled(wrok_plugin, tmp_path):
    """What qgis_process writes (nothing loaded into a project) carries its style too."""
    from qgis import processing

    from ..helpers import run_algorithm
    from ..layers import point_layer, sample_points

    xy, weights = sample_points(n=300)
    clustered = run_algorithm(point_layer(xy, weights), TARGET_WEIGHT=60, MAX_WEIGHT=80,
                              OUTPUT=str(tmp_path / "features.gpkg"), CLUSTERS=str(tmp_path / "outlines.gpkg"))
    features, outlines = reopened(tmp_path / "features.gpkg"), reopened(tmp_path / "outlines.gpkg")
    assert features.renderer().type() == outlines.renderer().type() == "categorizedSymbol"
    assert {c.value() for c in outlines.renderer().categories()} == set(column(outlines, "cluster_id"))
    assert outlines.labelsEnabled() and not features.labelsEnabled()
    processing.run("wrok:ppssample", {"INPUT": str(tmp_path / "outlines.gpkg"), "N": 3, "REPLACEMENTS": 1,
                                      "SEED": 3, "OUTPUT": str(tmp_path / "sample.gpkg"), "MEMBERS": clustered["OUTPUT"],
                                      "MEMBERS_OUTPUT": str(tmp_path / "members.gpkg")})
    for name, labelled in (("sample", True), ("members", False)):
        layer = reopened(tmp_path / f"{name}.gpkg")
        assert [c.label() for c in layer.renderer().categories()] == ["PSU", "PSU (certainty)", "Replacement"]
        assert layer.labelsEnabled() == labelled
