"""Run inside the real QGIS desktop (`qgis --code`, by test_h3_desktop.py): h3 loads and an H3 table clusters.

Writes its observations as JSON to $WROK_H3_DESKTOP_OUT, then quits QGIS.
"""

import json
import os
import sys

sys.path[:0] = [os.environ["WROK_REPO"], "/usr/share/qgis/python/plugins"]

from qgis.core import QgsApplication, QgsFeature, QgsField, QgsVectorLayer  # noqa: E402
from qgis.PyQt.QtCore import QTimer  # noqa: E402
from qgis.utils import iface  # noqa: E402

from wrok_plugin.compat import FieldType  # noqa: E402

BUNDLED_PROJ_OR_GEOS = ("geopandas", "pyproj", "shapely", "pyogrio")  # judged by tests/heavy_modules.py


def cell_table():
    import h3

    layer = QgsVectorLayer("None", "kontur", "memory")
    layer.dataProvider().addAttributes([QgsField("h3", FieldType.String), QgsField("population", FieldType.Double)])
    layer.updateFields()
    features = []
    for i, cell in enumerate(sorted(h3.grid_disk("8828308281fffff", 4))):
        feature = QgsFeature(layer.fields())
        feature.setAttributes([cell, 1.0 + i % 5])
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def check():
    seen = {}
    try:
        import h3
        import processing

        from wrok_plugin import classFactory

        plugin = classFactory(iface)
        plugin.initProcessing()
        results = processing.run("wrok:tunedclustering", {
            "INPUT": cell_table(), "H3_FIELD": "h3", "WEIGHT_FIELD": "population", "TARGET_WEIGHT": 30,
            "MAX_WEIGHT": 40, "TARGET_RADIUS": 1500, "INITIAL_TRIALS": 5, "SUBSEQUENT_TRIALS": 3,
            "OUTPUT": "TEMPORARY_OUTPUT", "OUTLINES": "TEMPORARY_OUTPUT"})
        out = results["OUTPUT"]
        seen = {"h3": h3.__version__, "features": out.featureCount(), "crs": out.crs().authid(),
                "connected_share": results["H3_CONNECTED_SHARE"],
                "loaded": {m: getattr(sys.modules[m], "__file__", None) for m in BUNDLED_PROJ_OR_GEOS
                           if sys.modules.get(m) is not None}}
    except Exception as exc:  # reported to the test, which fails on it
        seen = {"error": repr(exc)}
    with open(os.environ["WROK_H3_DESKTOP_OUT"], "w") as handle:
        json.dump(seen, handle)
    QgsApplication.exit(0)


QTimer.singleShot(0, check)
