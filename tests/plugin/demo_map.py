"""Render the demo's clusters to a PNG with QGIS and print the run's summary (used by `make demo`).

usage: python tests/plugin/demo_map.py CLUSTERED.gpkg CLUSTERS.gpkg MAP.png RUN.json
"""

import json
import sys

from qgis.core import (
    QgsApplication,
    QgsCategorizedSymbolRenderer,
    QgsCoordinateReferenceSystem,
    QgsFillSymbol,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsMarkerSymbol,
    QgsPalLayerSettings,
    QgsRendererCategory,
    QgsTextBufferSettings,
    QgsTextFormat,
    QgsVectorLayer,
    QgsVectorLayerSimpleLabeling,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac", "#1f77b4", "#2ca02c"]


def colour_of(index):
    return QColor(PALETTE[index % len(PALETTE)])


def categorise(layer, field, make_symbol):
    ids = sorted({feature[field] for feature in layer.getFeatures()})
    categories = [QgsRendererCategory(value, make_symbol(colour_of(i)), str(value)) for i, value in enumerate(ids)]
    layer.setRenderer(QgsCategorizedSymbolRenderer(field, categories))


def label(layer, field):
    settings = QgsPalLayerSettings()
    settings.fieldName = field
    text = QgsTextFormat()
    text.setSize(7)
    buffer = QgsTextBufferSettings()
    buffer.setEnabled(True)
    buffer.setSize(0.8)
    text.setBuffer(buffer)
    settings.setFormat(text)
    layer.setLabeling(QgsVectorLayerSimpleLabeling(settings))
    layer.setLabelsEnabled(True)


def render(clustered_path, clusters_path, png_path, crs_authid):
    points = QgsVectorLayer(clustered_path, "clustered", "ogr")
    hulls = QgsVectorLayer(clusters_path, "clusters", "ogr")
    categorise(points, "cluster_id", lambda c: QgsMarkerSymbol.createSimple(
        {"name": "circle", "size": "1.2", "color": c.name(), "outline_style": "no"}))
    categorise(hulls, "cluster_id", lambda c: QgsFillSymbol.createSimple(
        {"color": f"{c.red()},{c.green()},{c.blue()},60", "outline_color": c.name(), "outline_width": "0.4"}))
    label(hulls, "cluster_id")
    settings = QgsMapSettings()
    settings.setLayers([hulls, points])  # first is drawn on top
    settings.setDestinationCrs(QgsCoordinateReferenceSystem(crs_authid))  # metres: no stretched distances
    settings.setOutputSize(QSize(1400, 1100))
    settings.setBackgroundColor(QColor("white"))
    settings.setExtent(settings.layerToMapCoordinates(hulls, hulls.extent()).buffered(300))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(png_path, "PNG")


def main(clustered_path, clusters_path, png_path, run_json):
    results = json.load(open(run_json))["results"]
    app = QgsApplication([], False)
    app.initQgis()
    render(clustered_path, clusters_path, png_path, results["MEASURING_CRS"])
    app.exitQgis()
    print(f"clusters: {results['CLUSTER_COUNT']}  median weight: {results['MEDIAN_WEIGHT']:.1f}  "
          f"median radius: {results['MEDIAN_RADIUS_M']:.0f} m  over max weight: {results['CLUSTERS_OVER_MAX']}  "
          f"score: {results['SCORE']:.1f}  (measured in {results['MEASURING_CRS']})")
    print(f"wrote {clustered_path}, {clusters_path}, {png_path}")


if __name__ == "__main__":
    main(*sys.argv[1:5])
