"""H3_FIELD: a table of H3 cells (no geometry) clustered as its hexagons, in processing.run and qgis_process.

Expected hexagons and adjacency come from the h3 package directly.
"""

import json
import subprocess

import pytest
from h3.api import basic_int as h3
from qgis.core import QgsFeature, QgsField, QgsGeometry, QgsProcessingException, QgsVectorLayer, QgsWkbTypes

from wrok_plugin.compat import FieldType

from ..conftest import ALGORITHM_ID
from ..helpers import column, run_algorithm

CELLS = sorted(h3.grid_disk(h3.latlng_to_cell(14.6, 121.0, 8), 5))
TARGETS = dict(TARGET_WEIGHT=30, MAX_WEIGHT=40, TARGET_RADIUS=1500)


def cell_table(cells=CELLS, as_integers=False):
    """A memory table (no geometry) with an h3 column and a population column."""
    layer = QgsVectorLayer("None", "kontur", "memory")
    layer.dataProvider().addAttributes([QgsField("h3", FieldType.LongLong if as_integers else FieldType.String),
                                        QgsField("population", FieldType.Double)])
    layer.updateFields()
    features = []
    for i, cell in enumerate(cells):
        feature = QgsFeature(layer.fields())
        feature.setAttributes([cell if as_integers else h3.int_to_str(cell), 1.0 + (i * 7) % 9])
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def connected_by_bfs(cells, ids):
    connected = 0
    for name in set(ids):
        members = {c for c, i in zip(cells, ids) if i == name}
        seen = frontier = {next(iter(members))}
        while frontier:
            frontier = {n for c in frontier for n in h3.grid_disk(c, 1) if n in members and n not in seen}
            seen = seen | frontier
        connected += seen == members
    return connected / len(set(ids))


@pytest.mark.parametrize("as_integers", [False, True])
def test_table_of_cells_clusters_into_hexagons(wrok_plugin, as_integers):
    results = run_algorithm(cell_table(as_integers=as_integers), H3_FIELD="h3", **TARGETS)
    out = results["OUTPUT"]
    assert out.crs().authid() == "EPSG:4326"
    assert QgsWkbTypes.geometryType(out.wkbType()) == QgsWkbTypes.GeometryType.PolygonGeometry
    assert out.featureCount() == len(CELLS)
    cells = [int(c) if as_integers else h3.str_to_int(c) for c in column(out, "h3")]
    assert cells == CELLS  # every row, in order
    for cell, feature in zip(cells, out.getFeatures()):
        expected = QgsGeometry.fromWkt("MULTIPOLYGON(((" + ",".join(
            f"{lng} {lat}" for lat, lng in list(h3.cell_to_boundary(cell)) + [h3.cell_to_boundary(cell)[0]]) + ")))")
        assert feature.geometry().equals(expected) or feature.geometry().isGeosEqual(expected)
    ids = column(out, "cluster_id")
    totals = {}
    for name, weight in zip(ids, column(out, "population")):
        totals[name] = totals.get(name, 0) + weight
    assert all(abs(w - totals[i]) < 1e-9 for i, w in zip(ids, column(out, "cluster_weight")))
    assert results["H3_CONNECTED_SHARE"] == pytest.approx(connected_by_bfs(cells, ids))
    assert results["MEASURING_CRS"] == "EPSG:32651"


def test_bad_cells_stop_with_the_reason(wrok_plugin):
    mixed = CELLS[:5] + [h3.cell_to_parent(CELLS[6], 7)]
    with pytest.raises(QgsProcessingException, match="mixes H3 resolutions"):
        run_algorithm(cell_table(mixed), H3_FIELD="h3", **TARGETS)
    with pytest.raises(QgsProcessingException, match="duplicate H3 cell"):
        run_algorithm(cell_table(CELLS[:5] + CELLS[:1]), H3_FIELD="h3", **TARGETS)


def test_table_without_h3_field_names_the_way_out(wrok_plugin):
    with pytest.raises(QgsProcessingException, match="H3 cell field"):
        run_algorithm(cell_table(), **TARGETS)


def test_qgis_process_loads_h3_and_clusters_a_geopackage_table(qgis_process_env, tmp_path):
    """The real qgis_process binary imports h3 inside QGIS's Python and reads a GeoPackage attribute table."""
    from qgis.core import QgsVectorFileWriter

    table = cell_table()
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    error = QgsVectorFileWriter.writeAsVectorFormatV3(table, str(tmp_path / "kontur.gpkg"),
                                                      table.transformContext(), options)
    assert error[0] == QgsVectorFileWriter.WriterError.NoError, error
    env = qgis_process_env
    enable = subprocess.run(["qgis_process.bin", "plugins", "enable", "wrok_plugin"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert enable.returncode == 0 or "already enabled" in enable.stdout + enable.stderr  # the profile is shared
    done = subprocess.run(["qgis_process.bin", "--json", "run", ALGORITHM_ID, "--", f"INPUT={tmp_path / 'kontur.gpkg'}",
                           "H3_FIELD=h3", "WEIGHT_FIELD=population", "TARGET_WEIGHT=30", "MAX_WEIGHT=40",
                           "TARGET_RADIUS=1500", "INITIAL_TRIALS=5", "SUBSEQUENT_TRIALS=3",
                           f"OUTPUT={tmp_path / 'hexagons.gpkg'}"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)["results"]
    assert 0 < results["H3_CONNECTED_SHARE"] <= 1
    out = QgsVectorLayer(str(tmp_path / "hexagons.gpkg"), "out", "ogr")
    assert out.featureCount() == len(CELLS) and out.crs().authid() == "EPSG:4326"


def test_cells_across_the_antimeridian_keep_their_shape_and_local_measure(wrok_plugin):
    cells = sorted(h3.grid_disk(h3.latlng_to_cell(-17.0, 179.99, 7), 5))
    results = run_algorithm(cell_table(cells), H3_FIELD="h3", TARGET_WEIGHT=30, MAX_WEIGHT=40, TARGET_RADIUS=3000)
    out = results["OUTPUT"]
    assert out.featureCount() == len(cells)
    assert results["MEASURING_CRS"] in ("EPSG:32760", "EPSG:32701")  # the UTM zone at ±180, south
    split = 0
    for feature in out.getFeatures():
        geometry = feature.geometry()
        box = geometry.boundingBox()
        assert -180 <= box.xMinimum() and box.xMaximum() <= 180 and geometry.isGeosValid()
        parts = geometry.constGet().numGeometries()
        split += parts == 2
        # Each cell's area (summed over its parts) is a hexagon's, not a band around the globe.
        assert geometry.area() < 2 * h3.cell_area(h3.str_to_int(feature["h3"]), unit="km^2") / 100
    assert split > 0
    assert max(column(results["CLUSTERS"], "radius_m")) < 20_000
