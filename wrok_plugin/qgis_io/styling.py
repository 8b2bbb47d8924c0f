"""How wrok's outputs look once loaded: one colour per cluster, see-through labelled outlines, telling names.

Applied by a QgsProcessingLayerPostProcessorInterface on the main thread, after the algorithm ran,
only to layers the run loads into the project (never under qgis_process).
"""

from __future__ import annotations

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsMarkerSymbol,
    QgsPalLayerSettings,
    QgsProcessingLayerPostProcessorInterface,
    QgsRendererCategory,
    QgsSymbol,
    QgsTextBufferSettings,
    QgsTextFormat,
    QgsVectorLayerSimpleLabeling,
    QgsWkbTypes,
)
from qgis.PyQt.QtGui import QColor

from core.io.layer_style import HULL_FILL_ALPHA, cluster_rgb


def cluster_colour(index: int) -> QColor:
    """Distinct colours for neighbouring indices (core.io.layer_style's, which the CLI's stored styles use)."""
    return QColor(*cluster_rgb(index))


def layer_name(kind: str, target_weight: float, target_radius_m: float) -> str:
    """e.g. 'Clusters (240 / 1000 m)': the run's targets tell runs apart in the Layers panel."""
    return f"{kind} ({target_weight:g} / {target_radius_m:g} m)"


def categorised_renderer(layer, id_field: str, outline: bool):
    ids = sorted({str(value) for value in layer.uniqueValues(layer.fields().lookupField(id_field))
                  if value is not None and str(value) != "NULL"})
    categories = []
    for index, cluster_id in enumerate(ids):
        colour = cluster_colour(index)
        symbol = QgsSymbol.defaultSymbol(layer.geometryType())
        if outline:
            fill = QColor(colour)
            fill.setAlpha(HULL_FILL_ALPHA)
            symbol = QgsFillSymbol.createSimple({"outline_width": "0.6"})
            symbol.setColor(fill)
            symbol.symbolLayer(0).setStrokeColor(colour.darker(140))
        elif isinstance(symbol, QgsMarkerSymbol):
            symbol.setColor(colour)
            symbol.setSize(1.6)
        else:
            symbol.setColor(colour)
        categories.append(QgsRendererCategory(cluster_id, symbol, cluster_id))
    return QgsCategorizedSymbolRenderer(id_field, categories)


def id_labels(id_field: str) -> QgsVectorLayerSimpleLabeling:
    settings = QgsPalLayerSettings()
    settings.fieldName = id_field
    settings.placement = QgsPalLayerSettings.Placement.OverPoint
    text = QgsTextFormat()
    text.setSize(8)
    buffer = QgsTextBufferSettings()
    buffer.setEnabled(True)
    buffer.setSize(0.8)
    text.setBuffer(buffer)
    settings.setFormat(text)
    return QgsVectorLayerSimpleLabeling(settings)


class ClusterStyle(QgsProcessingLayerPostProcessorInterface):
    """Styles one loaded output; instances live in _ALIVE because QGIS keeps only a C++ pointer."""

    _ALIVE = []

    def __init__(self, id_field: str, hulls: bool):
        super().__init__()
        self.id_field = id_field
        self.hulls = hulls

    @classmethod
    def create(cls, id_field: str, hulls: bool) -> "ClusterStyle":
        style = cls(id_field, hulls)
        cls._ALIVE = cls._ALIVE[-8:] + [style]  # the last few runs' are enough: QGIS calls them right away
        return style

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 - QGIS API name
        if layer is None or layer.fields().lookupField(self.id_field) < 0:
            return
        is_polygon = layer.geometryType() == QgsWkbTypes.GeometryType.PolygonGeometry
        layer.setRenderer(categorised_renderer(layer, self.id_field, outline=self.hulls and is_polygon))
        if self.hulls:
            layer.setLabeling(id_labels(self.id_field))
            layer.setLabelsEnabled(True)
        layer.triggerRepaint()


def style_output(context, output_id, kind: str, settings, hulls: bool) -> None:
    """Name and style an output the run will load into the project (no-op under qgis_process)."""
    if not output_id or not context.willLoadLayerOnCompletion(output_id):
        return
    details = context.layerToLoadOnCompletionDetails(output_id)
    details.name = layer_name(kind, settings.target_weight, settings.target_radius_m)
    if hasattr(details, "forceName"):  # QGIS >= 3.20 would otherwise rename it after the output file
        details.forceName = True
    details.setPostProcessor(ClusterStyle.create(settings.id_field, hulls))
