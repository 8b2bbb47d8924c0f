"""How wrok:ppssample's outputs look once loaded: PSUs, certainty selections and replacements apart.

A QgsProcessingLayerPostProcessorInterface, run on the main thread after the algorithm, only for
layers the run loads into the project (never under qgis_process); see styling.py for the clusters.
"""

from __future__ import annotations

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsPalLayerSettings,
    QgsProcessingLayerPostProcessorInterface,
    QgsRendererCategory,
    QgsSymbol,
    QgsWkbTypes,
)
from qgis.PyQt.QtGui import QColor

from core.io.layer_style import SAMPLE_COLOURS as COLOURS
from core.io.layer_style import SAMPLE_KIND as KIND
from core.io.layer_style import SAMPLE_LABELS as LABELS

from .styling import id_labels


def sample_renderer(geometry_type) -> QgsCategorizedSymbolRenderer:
    categories = []
    for kind, colour in COLOURS.items():
        symbol = QgsSymbol.defaultSymbol(geometry_type)
        fill = QColor(colour)
        if geometry_type == QgsWkbTypes.GeometryType.PolygonGeometry:
            fill.setAlpha(150)
            symbol.symbolLayer(0).setStrokeColor(QColor(colour).darker(140))
        symbol.setColor(fill)
        categories.append(QgsRendererCategory(kind, symbol, LABELS[kind]))
    return QgsCategorizedSymbolRenderer(KIND, categories)


class SampleStyle(QgsProcessingLayerPostProcessorInterface):
    """Instances live in _ALIVE because QGIS keeps only a C++ pointer."""

    _ALIVE = []

    def __init__(self, id_field: str, label: bool):
        super().__init__()
        self.id_field, self.label = id_field, label

    @classmethod
    def create(cls, id_field: str, label: bool) -> "SampleStyle":
        style = cls(id_field, label)
        cls._ALIVE = cls._ALIVE[-8:] + [style]
        return style

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 - QGIS API name
        if layer is None or layer.fields().lookupField("replacement") < 0:
            return
        layer.setRenderer(sample_renderer(layer.geometryType()))
        if self.label and layer.fields().lookupField(self.id_field) >= 0:
            labeling = id_labels(self.id_field)
            settings = QgsPalLayerSettings(labeling.settings())
            settings.isExpression = True
            settings.fieldName = f"\"{self.id_field}\" || ' #' || \"selection_order\""
            labeling.setSettings(settings)
            layer.setLabeling(labeling)
            layer.setLabelsEnabled(True)
        layer.triggerRepaint()


def style_sample_output(context, output_id, name: str, id_field: str, label: bool) -> None:
    """Name and style an output the run will load into the project (no-op under qgis_process)."""
    if not output_id or not context.willLoadLayerOnCompletion(output_id):
        return
    details = context.layerToLoadOnCompletionDetails(output_id)
    details.name = name
    if hasattr(details, "forceName"):
        details.forceName = True
    details.setPostProcessor(SampleStyle.create(id_field, label))
