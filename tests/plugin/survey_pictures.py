"""The README's survey-frame pictures: a QGIS map of the PPS sample and the two HTML reports as PNG.

usage: python tests/plugin/survey_pictures.py RUN_FOLDER PICTURE_FOLDER [STRATA_POLYGONS]
RUN_FOLDER holds the survey model's outputs: clusters.gpkg, sample.gpkg, report.html, sample.html (and
members.gpkg if there are member features). The reports are photographed with headless chromium
(apt-get install chromium).
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsCategorizedSymbolRenderer,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFillSymbol,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsMarkerSymbol,
    QgsProject,
    QgsRendererCategory,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

KINDS = {"selected": "#377eb8", "certainty": "#984ea3", "replacement": "#ff7f00"}


def metric_crs(layer):
    """The layer's UTM zone, the way wrok picks its measuring CRS."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from core.frame.crs import utm_epsg

    centre = QgsCoordinateTransform(layer.crs(), QgsCoordinateReferenceSystem("EPSG:4326"),
                                    QgsProject.instance()).transform(layer.extent().center())
    return QgsCoordinateReferenceSystem(f"EPSG:{utm_epsg(centre.x(), centre.y())}")


def sample_map(run: Path, png: Path, strata=None):
    clusters = QgsVectorLayer(str(run / "clusters.gpkg"), "clusters", "ogr")
    sample = QgsVectorLayer(str(run / "sample.gpkg"), "sample", "ogr")
    clusters.renderer().setSymbol(QgsFillSymbol.createSimple(
        {"color": "215,215,215,255", "outline_color": "#aaaaaa", "outline_width": "0.1"}))
    expression = "CASE WHEN \"replacement\" THEN 'replacement' WHEN \"certainty\" THEN 'certainty' ELSE 'selected' END"
    categories = [QgsRendererCategory(kind, QgsFillSymbol.createSimple(
        {"color": colour, "outline_color": QColor(colour).darker(130).name(), "outline_width": "0.1"}), kind)
        for kind, colour in KINDS.items()]
    sample.setRenderer(QgsCategorizedSymbolRenderer(expression, categories))
    layers = [sample, clusters]  # first is drawn on top
    if (run / "members.gpkg").exists():
        members = QgsVectorLayer(str(run / "members.gpkg"), "members", "ogr")
        members.renderer().setSymbol(QgsMarkerSymbol.createSimple(
            {"name": "circle", "size": "0.9", "color": "#222222", "outline_style": "no"}))
        layers.insert(0, members)
    if strata is not None:
        borders = QgsVectorLayer(str(strata), "strata", "ogr")
        borders.renderer().setSymbol(QgsFillSymbol.createSimple(
            {"style": "no", "outline_color": "#222222", "outline_width": "0.8", "outline_style": "dash"}))
        layers.insert(0, borders)
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(metric_crs(clusters))  # metres: no stretched distances
    settings.setOutputSize(QSize(1200, 1000))
    settings.setBackgroundColor(QColor("white"))
    extent = settings.layerToMapCoordinates(clusters, clusters.extent())
    settings.setExtent(extent.buffered(extent.width() * 0.02))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(str(png), "PNG")


def photograph(html: Path, png: Path, width=1100, height=3200):
    """A full-page PNG of a report, cut below its last content."""
    from PIL import Image, ImageChops

    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={profile}", f"--window-size={width},{height}", f"--screenshot={png}",
                        html.resolve().as_uri()], check=True, capture_output=True, timeout=120)
    image = Image.open(png).convert("RGB")
    box = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()
    image.crop((0, 0, width, min(height, box[3] + 20))).save(png)


def main(run, pictures, strata=None):
    run, pictures = Path(run), Path(pictures)
    app = QgsApplication([], False)
    app.initQgis()
    sample_map(run, pictures / "survey_sample_map.png", strata)
    app.exitQgis()
    photograph(run / "report.html", pictures / "survey_cluster_report.png")
    photograph(run / "sample.html", pictures / "survey_sample_report.png")


if __name__ == "__main__":
    main(*sys.argv[1:4])
