"""wrok:ppssample through processing.run on real layers: strata, tables, members, errors."""

import numpy as np
import pytest
from qgis import processing
from qgis.core import QgsFeature, QgsField, QgsProcessingException, QgsVectorLayer

from wrok_plugin.compat import FieldType

from ..helpers import column, run_algorithm
from ..layers import point_layer, sample_points

PPS = "wrok:ppssample"
SAMPLE_FIELDS = ["inclusion_prob", "design_weight", "selection_order", "certainty", "replacement"]


@pytest.fixture(scope="module")
def clustered(wrok_plugin):
    """Clustered points and their cluster outlines with a 'side' stratum (west/east of the middle)."""
    xy, weights = sample_points(n=300)
    results = run_algorithm(point_layer(xy, weights), TARGET_WEIGHT=60, MAX_WEIGHT=80)
    middle = float(np.median(xy[:, 0]))
    hulls = processing.run("native:fieldcalculator", {
        "INPUT": results["CLUSTERS"], "FIELD_NAME": "side", "FIELD_TYPE": 2, "FIELD_LENGTH": 10,
        "FORMULA": f"if(x(centroid($geometry)) < {middle}, 'west', 'east')", "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    return results["OUTPUT"], hulls


def run_pps(clusters, **overrides):
    parameters = {"INPUT": clusters, "N": 4, "SEED": 3, "OUTPUT": "TEMPORARY_OUTPUT"}
    parameters.update(overrides)
    return processing.run(PPS, parameters)


def sizes_table(rows, columns=("side", "n", "replacements")):
    table = QgsVectorLayer("None", "sizes", "memory")
    types = {"side": FieldType.String}
    table.dataProvider().addAttributes([QgsField(name, types.get(name, FieldType.Int)) for name in columns])
    table.updateFields()
    features = []
    for row in rows:
        feature = QgsFeature(table.fields())
        feature.setAttributes(list(row))
        features.append(feature)
    table.dataProvider().addFeatures(features)
    return table


def by_id(layer):
    return {feature["cluster_id"]: feature for feature in layer.getFeatures()}


def test_stratified_sample_from_a_table_layer_with_members(clustered):
    members, hulls = clustered
    table = sizes_table([("west", 3, 1), ("east", 2, 2)])
    results = run_pps(hulls, STRATUM_FIELD="side", SIZE_TABLE=table, MEMBERS=members,
                      MEMBERS_OUTPUT="TEMPORARY_OUTPUT")
    sample, frame = results["OUTPUT"], by_id(hulls)
    assert results["SELECTED"] == 5 and results["REPLACEMENT_COUNT"] == 3
    for side, n, r in (("west", 3, 1), ("east", 2, 2)):
        rows = [f for f in sample.getFeatures() if f["side"] == side]
        assert [f["selection_order"] for f in rows] == list(range(1, n + r + 1))
        assert [f["replacement"] for f in rows] == [False] * n + [True] * r
        stratum = np.array([f["weight"] for f in frame.values() if f["side"] == side])
        assert stratum.max() * n < stratum.sum()  # no certainty unit: pi = n * weight / total
        expected = np.array([n * f["weight"] / stratum.sum() for f in rows])
        np.testing.assert_allclose([f["inclusion_prob"] for f in rows], expected)
        np.testing.assert_allclose([f["design_weight"] for f in rows], 1 / expected)
    for feature in sample.getFeatures():  # the cluster's own fields and geometry come through
        original = frame[feature["cluster_id"]]
        assert feature["weight"] == original["weight"] and feature.geometry().equals(original.geometry())

    chosen = {f["cluster_id"]: f for f in sample.getFeatures()}
    written = list(results["MEMBERS_OUTPUT"].getFeatures())
    expected_members = [f["name"] for f in members.getFeatures() if f["cluster_id"] in chosen]
    assert [f["name"] for f in written] == expected_members
    assert results["MEMBER_COUNT"] == len(expected_members) == sum(f["n_features"] for f in chosen.values())
    for feature in written:
        assert [feature[name] for name in SAMPLE_FIELDS] == [chosen[feature["cluster_id"]][name]
                                                             for name in SAMPLE_FIELDS]


def test_same_sample_as_the_engine_on_the_sorted_frame(clustered):
    from core.frame.pps import select_pps

    _, hulls = clustered
    sample = run_pps(hulls, N=5, SEED=17, REPLACEMENTS=1)["OUTPUT"]
    frame = sorted(hulls.getFeatures(), key=lambda f: f["cluster_id"])
    expected = select_pps([f["cluster_id"] for f in frame], [f["weight"] for f in frame], 5, seed=17, replacements=1)
    assert column(sample, "cluster_id") == [frame[i]["cluster_id"] for i in expected.index]


def test_csv_table_and_certainty_units(clustered, tmp_path):
    _, hulls = clustered
    heavy = processing.run("native:fieldcalculator", {  # one cluster ten times heavier: a certainty unit
        "INPUT": hulls, "FIELD_NAME": "size", "FIELD_TYPE": 0, "FIELD_PRECISION": 3,
        "FORMULA": "if(\"cluster_id\" = minimum(\"cluster_id\"), 10, 1) * \"weight\"",
        "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    first = min(column(hulls, "cluster_id"))
    table = tmp_path / "sizes.csv"
    table.write_text("stratum,n\nwest,3\neast,3\n")
    sample = run_pps(heavy, WEIGHT_FIELD="size", STRATUM_FIELD="side", SIZE_TABLE=str(table))["OUTPUT"]
    rows = by_id(sample)
    assert first in rows and rows[first]["certainty"] and rows[first]["inclusion_prob"] == 1.0
    assert rows[first]["selection_order"] == 1 and sum(f["certainty"] for f in rows.values()) == 1


@pytest.mark.parametrize("overrides, message", [
    ({"N": 1000}, "the layer has"),
    ({"WEIGHT_FIELD": "n_features", "STRATUM_FIELD": "nope"}, "Field 'nope' is not in the cluster layer"),
    ({"STRATUM_FIELD": "side", "SIZE_TABLE": "table:west"}, "no row for stratum(s) east"),
    ({"SIZE_TABLE": "table:west"}, "A sample size table gives n per stratum: choose the stratum field"),
    ({"MEMBERS": "members:half"}, "have no member features"),
    ({"REPLACEMENTS": 1000}, "not enough for 4 PSUs and 1000 replacement(s)"),
])
def test_bad_requests_fail_with_a_clear_message(clustered, overrides, message):
    members, hulls = clustered
    if overrides.get("SIZE_TABLE") == "table:west":
        overrides["SIZE_TABLE"] = sizes_table([("west", 2, 0)])
    if overrides.get("MEMBERS") == "members:half":
        overrides["MEMBERS"] = processing.run("native:extractbyexpression", {
            "INPUT": members, "EXPRESSION": f"\"cluster_id\" <> '{min(column(hulls, 'cluster_id'))}'",
            "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    with pytest.raises(QgsProcessingException) as error:
        run_pps(hulls, **overrides)
    assert message in str(error.value)


def test_zero_weight_clusters_are_refused_by_name(clustered):
    _, hulls = clustered
    zeroed = processing.run("native:fieldcalculator", {
        "INPUT": hulls, "FIELD_NAME": "size", "FIELD_TYPE": 0, "FIELD_PRECISION": 3,
        "FORMULA": "if(\"cluster_id\" = minimum(\"cluster_id\"), 0, \"weight\")", "OUTPUT": "TEMPORARY_OUTPUT"})
    with pytest.raises(QgsProcessingException, match=f"zero or negative weight.*{min(column(hulls, 'cluster_id'))}"):
        run_pps(zeroed["OUTPUT"], WEIGHT_FIELD="size")


def test_a_sample_cannot_be_sampled_again_by_mistake(clustered):
    _, hulls = clustered
    sample = run_pps(hulls)["OUTPUT"]
    with pytest.raises(QgsProcessingException, match="already has the field"):
        run_pps(sample)


def test_sample_report_lists_the_design_and_the_psus(clustered, tmp_path):
    from qgis.core import QgsApplication

    assert QgsApplication.processingRegistry().algorithmById(PPS).outputDefinition("REPORT").type() == "outputHtml"
    _, hulls = clustered
    report = tmp_path / "sample.html"
    results = run_pps(hulls, STRATUM_FIELD="side", N=3, REPLACEMENTS=1, REPORT=str(report))
    assert results["REPORT"] == str(report)
    text = report.read_text()
    assert "PSUs (6 selected, 2 replacements)" in text and text.count("data:image/png;base64,") == 1
    for feature in results["OUTPUT"].getFeatures():
        assert f"<td>{feature['cluster_id']}</td>" in text
    for side in ("west", "east"):
        total = sum(f["weight"] for f in hulls.getFeatures() if f["side"] == side)
        assert text.count(f"<td>{total:,.1f}</td>") == 2  # the stratum total, and its estimate from the PSUs


def test_invalid_geometries_stay_in_the_frame_whatever_the_setting(wrok_plugin):
    """A frame that silently lost a cluster would give every other cluster a wrong probability."""
    from qgis.core import QgsFeatureRequest, QgsGeometry, QgsProcessingContext, QgsProcessingFeedback

    bowtie = "POLYGON((0 0, 10 10, 10 0, 0 10, 0 0))"  # self-intersecting: invalid
    square = "POLYGON((20 0, 30 0, 30 10, 20 10, 20 0))"
    layer = QgsVectorLayer("Polygon?crs=EPSG:32633&field=cluster_id:string&field=weight:double", "frame", "memory")
    features = []
    for i, (wkt, weight) in enumerate([(bowtie, 5.0), (square, 1.0), (square, 1.0), (bowtie, 5.0)]):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromWkt(wkt))
        feature.setAttributes([f"C{i}", weight])
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    context = QgsProcessingContext()
    context.setInvalidGeometryCheck(QgsFeatureRequest.InvalidGeometryCheck.GeometrySkipInvalid)
    results = processing.run(PPS, {"INPUT": layer, "N": 2, "SEED": 1, "OUTPUT": "TEMPORARY_OUTPUT"},
                             context=context, feedback=QgsProcessingFeedback())
    sample = list(results["OUTPUT"].getFeatures())
    assert len(sample) == 2
    for feature in sample:  # the total is all four clusters, the two invalid ones included
        assert feature["inclusion_prob"] == pytest.approx(2 * feature["weight"] / 12.0)


def test_frame_order_field_sets_the_order_of_the_systematic_draw(clustered):
    from core.frame.pps import select_pps

    _, hulls = clustered
    sample = run_pps(hulls, N=4, SEED=5, SORT_FIELD="radius_m")["OUTPUT"]
    frame = sorted(hulls.getFeatures(), key=lambda f: f["radius_m"])
    expected = select_pps([f["cluster_id"] for f in frame], [f["weight"] for f in frame], 4, seed=5)
    assert column(sample, "cluster_id") == [frame[i]["cluster_id"] for i in expected.index]
    by_id_order = run_pps(hulls, N=4, SEED=5)["OUTPUT"]
    assert column(sample, "cluster_id") != column(by_id_order, "cluster_id")  # the order matters to the draw


def test_the_sample_never_replaces_the_cluster_layer_file(clustered, tmp_path):
    _, hulls = clustered
    path = tmp_path / "clusters.gpkg"
    processing.run("native:savefeatures", {"INPUT": hulls, "OUTPUT": str(path)})
    before = path.read_bytes()
    layer = QgsVectorLayer(str(path), "clusters", "ogr")
    with pytest.raises(QgsProcessingException, match="is the input layer's file"):
        run_pps(layer, OUTPUT=str(path))
    assert path.read_bytes() == before


def test_loaded_sample_is_named_and_styled_by_kind(clustered, monkeypatch):
    import processing.gui.Postprocessing as postprocessing
    from qgis.core import QgsExpressionContextUtils, QgsProject, QgsRenderContext

    # QGIS 3.44's result loader hands iface.layerTreeView() to C++, which rejects pytest-qgis's mock: load as
    # qgis_process does, with no iface (into the project's root). QGIS 3.22's loader never reads iface.
    monkeypatch.setattr(postprocessing, "iface", None, raising=False)

    members, hulls = clustered
    processing.runAndLoadResults(PPS, {"INPUT": hulls, "N": 4, "SEED": 3, "REPLACEMENTS": 1, "MEMBERS": members,
                                       "OUTPUT": "TEMPORARY_OUTPUT", "MEMBERS_OUTPUT": "TEMPORARY_OUTPUT"})
    sample = QgsProject.instance().mapLayersByName("PPS sample")[0]
    renderer = sample.renderer()
    assert renderer.type() == "categorizedSymbol" and "replacement" in renderer.classAttribute()
    assert [c.label() for c in renderer.categories()] == ["PSU", "PSU (certainty)", "Replacement"]
    assert sample.labelsEnabled()
    context = QgsRenderContext()
    context.expressionContext().appendScopes(QgsExpressionContextUtils.globalProjectLayerScopes(sample))
    renderer.startRender(context, sample.fields())
    colours = {"PSU": "#377eb8", "certainty": "#984ea3", "replacement": "#ff7f00"}
    for feature in sample.getFeatures():  # every PSU drawn in its kind's colour
        context.expressionContext().setFeature(feature)  # as the map renderer does before asking
        assert renderer.symbolForFeature(feature, context).color().name() == colours[sample_kind(feature)]
    renderer.stopRender(context)
    assert {sample_kind(f) for f in sample.getFeatures()} == {"PSU", "replacement"}
    members_layer = QgsProject.instance().mapLayersByName("PPS sample members")[0]
    assert members_layer.renderer().type() == "categorizedSymbol"
    QgsProject.instance().removeAllMapLayers()


def sample_kind(feature):
    return "replacement" if feature["replacement"] else "certainty" if feature["certainty"] else "PSU"
