"""Styles that stay with the data: QGIS QML for wrok's outputs, stored in a GeoPackage's `layer_styles`.

QGIS reads a GeoPackage layer's default style from the `layer_styles` table (the convention its OGR
provider writes: one row per style, keyed by f_table_name and f_geometry_column, useAsDefault = 1,
the style as QML text). The command line writes that table with sqlite3, so a file reopened later
in QGIS, or shared, shows the clusters in their colours without QGIS ever running here. No QGIS
import: the QML is plain XML text.

Colours: hues a golden ratio apart with alternating saturation and brightness (the plugin's
styling uses the same `cluster_rgb`), so neighbouring cluster numbers never look alike.
"""

from __future__ import annotations

import colorsys
import sqlite3
from pathlib import Path
from typing import Optional, Sequence
from xml.sax.saxutils import quoteattr

GOLDEN_RATIO = 0.618033988749895
HULL_FILL_ALPHA = 70  # of 255: the clustered features stay visible under the outlines
MAX_CATEGORIES = 5000  # beyond this, one symbol whose colour comes from a hash of the ID (a QML stays small)
STYLE_NAME = "wrok"
SAMPLE_KIND = "CASE WHEN \"replacement\" THEN 'replacement' WHEN \"certainty\" THEN 'certainty' ELSE 'PSU' END"
SAMPLE_COLOURS = {"PSU": "#377eb8", "certainty": "#984ea3", "replacement": "#ff7f00"}
SAMPLE_LABELS = {"PSU": "PSU", "certainty": "PSU (certainty)", "replacement": "Replacement"}
# QGIS symbol type and the simple symbol layer drawing it, per geometry kind
_SYMBOLS = {"point": ("marker", "SimpleMarker"), "line": ("line", "SimpleLine"), "polygon": ("fill", "SimpleFill")}
_GEOMETRY_TYPE = {"point": 0, "line": 1, "polygon": 2}


def cluster_rgb(index: int) -> tuple:
    """(r, g, b) 0-255 for cluster number `index`: distinct for neighbouring indices."""
    hue = (index * GOLDEN_RATIO) % 1.0
    saturation = 0.65 + 0.25 * (index % 2)
    value = 0.95 - 0.2 * ((index // 2) % 2)
    return tuple(round(c * 255) for c in colorsys.hsv_to_rgb(hue, saturation, value))


def _darker(rgb, factor: float = 1.4) -> tuple:
    """As QColor.darker(140): the same hue with its value divided by 1.4."""
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    return tuple(round(c * 255) for c in colorsys.hsv_to_rgb(h, s, v / factor))


def _rgba(rgb, alpha: int = 255) -> str:
    return f"{rgb[0]},{rgb[1]},{rgb[2]},{alpha}"


def _hex_rgb(text: str) -> tuple:
    return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))


def geometry_kind(geometry_type: str) -> str:
    """'point', 'line' or 'polygon' from a shapely/OGR geometry type name (MultiPolygon -> polygon)."""
    name = str(geometry_type).lower()
    return "polygon" if "polygon" in name else "line" if "line" in name else "point"


def _symbol(name: str, kind: str, fill, alpha: int = 255, stroke=None, width: float = 0.26,
            colour_expression: Optional[str] = None) -> str:
    symbol_type, layer_class = _SYMBOLS[kind]
    props = {"color": _rgba(fill, alpha)}
    if kind == "polygon":
        props.update(style="solid", outline_color=_rgba(stroke or _darker(fill)), outline_style="solid",
                     outline_width=f"{width}", outline_width_unit="MM")
    elif kind == "point":
        props.update(name="circle", size="1.6", size_unit="MM", outline_color="35,35,35,255",
                     outline_style="solid", outline_width="0")
    else:
        props.update(line_color=_rgba(fill, alpha), line_width=f"{width}", line_style="solid")
    options = "".join(f"<Option type=\"QString\" name={quoteattr(k)} value={quoteattr(v)}/>" for k, v in props.items())
    legacy = "".join(f"<prop k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in props.items())
    defined = ""
    if colour_expression:  # data-defined fill colour: one symbol, a colour per cluster
        field = "fillColor" if kind != "line" else "outlineColor"
        defined = ("<data_defined_properties><Option type=\"Map\"><Option type=\"QString\" name=\"name\" value=\"\"/>"
                   "<Option type=\"Map\" name=\"properties\">"
                   f"<Option type=\"Map\" name=\"{field}\"><Option type=\"bool\" name=\"active\" value=\"true\"/>"
                   f"<Option type=\"QString\" name=\"expression\" value={quoteattr(colour_expression)}/>"
                   "<Option type=\"int\" name=\"type\" value=\"3\"/></Option></Option>"
                   "<Option type=\"QString\" name=\"type\" value=\"collection\"/></Option></data_defined_properties>")
    return (f"<symbol type=\"{symbol_type}\" name={quoteattr(name)} alpha=\"1\" clip_to_extent=\"1\" force_rhr=\"0\">"
            f"<layer class=\"{layer_class}\" enabled=\"1\" pass=\"0\" locked=\"0\">"
            f"<Option type=\"Map\">{options}</Option>{legacy}{defined}</layer></symbol>")


def _categorized(attribute: str, categories: Sequence[tuple]) -> str:
    """categories: (value, label, symbol xml)."""
    rows = "".join(f"<category render=\"true\" value={quoteattr(v)} symbol=\"{i}\" label={quoteattr(label)}/>"
                   for i, (v, label, _) in enumerate(categories))
    symbols = "".join(symbol.replace("name=\"__\"", f"name=\"{i}\"", 1) for i, (_, _, symbol) in enumerate(categories))
    return (f"<renderer-v2 type=\"categorizedSymbol\" attr={quoteattr(attribute)} forceraster=\"0\" "
            f"symbollevels=\"0\" enableorderby=\"0\"><categories>{rows}</categories><symbols>{symbols}</symbols>"
            "</renderer-v2>")


def _labels(expression: str, is_expression: bool, polygon: bool) -> str:
    placement = 1 if polygon else 0  # OverPoint for polygons (label at the centre), AroundPoint otherwise
    return ("<labeling type=\"simple\"><settings calloutType=\"simple\">"
            f"<text-style fieldName={quoteattr(expression)} isExpression=\"{int(is_expression)}\" fontSize=\"8\" "
            "fontSizeUnit=\"Point\" textColor=\"0,0,0,255\" textOpacity=\"1\" fontFamily=\"Sans Serif\" "
            "namedStyle=\"Regular\" fontWeight=\"50\" fontItalic=\"0\" multilineHeight=\"1\">"
            "<text-buffer bufferDraw=\"1\" bufferSize=\"0.8\" bufferSizeUnits=\"MM\" bufferColor=\"255,255,255,255\" "
            "bufferOpacity=\"1\" bufferJoinStyle=\"128\" bufferNoFill=\"1\"/></text-style>"
            f"<placement placement=\"{placement}\" dist=\"0\" offsetType=\"0\" centroidInside=\"1\" "
            "centroidWhole=\"0\" fitInPolygonOnly=\"0\"/>"
            "<rendering obstacle=\"1\" displayAll=\"0\" upsidedownLabels=\"0\" scaleVisibility=\"0\" "
            "labelPerPart=\"0\" mergeLines=\"0\" limitNumLabels=\"0\" drawLabels=\"1\"/></settings></labeling>")


def _document(kind: str, renderer: str, labeling: str = "") -> str:
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
            f"<qgis version=\"3.22.0\" styleCategories=\"Symbology|Labeling\" labelsEnabled=\"{int(bool(labeling))}\">"
            f"{renderer}{labeling}<layerGeometryType>{_GEOMETRY_TYPE[kind]}</layerGeometryType></qgis>")


def hashed_colour_expression(id_field: str) -> str:
    """A colour per ID from the first hex digits of its md5 (QGIS expression)."""
    digit = " + ".join(f"(ascii(substr(md5(\"{id_field}\"), {i}, 1)) % 39) * {16 ** (3 - i)}" for i in (1, 2, 3))
    return f"color_hsv(({digit}) % 360, 70 + ({digit}) % 25, 80 + ({digit}) % 15)"


def cluster_qml(ids: Sequence[str], id_field: str, kind: str, outlines: bool) -> str:
    """One colour per cluster ID; outlines: see-through fill, darker border, and the ID as a label."""
    ids = sorted({str(i) for i in ids})
    alpha = HULL_FILL_ALPHA if outlines else 255
    width = 0.6 if outlines else 0.26
    labeling = _labels(id_field, False, kind == "polygon") if outlines else ""
    if len(ids) > MAX_CATEGORIES:
        symbol = _symbol("0", kind, (120, 120, 120), alpha, width=width,
                         colour_expression=hashed_colour_expression(id_field))
        renderer = ("<renderer-v2 type=\"singleSymbol\" forceraster=\"0\" symbollevels=\"0\" enableorderby=\"0\">"
                    f"<symbols>{symbol}</symbols></renderer-v2>")
        return _document(kind, renderer, labeling)
    categories = [(cluster_id, cluster_id, _symbol("__", kind, cluster_rgb(i), alpha, width=width))
                  for i, cluster_id in enumerate(ids)]
    return _document(kind, _categorized(id_field, categories), labeling)


def sample_qml(id_field: str, kind: str, label: bool) -> str:
    """PSUs, certainty selections and replacements apart; labelled `ID #order` when label."""
    categories = [(name, SAMPLE_LABELS[name], _symbol("__", kind, _hex_rgb(colour), 150 if kind == "polygon" else 255))
                  for name, colour in SAMPLE_COLOURS.items()]
    labeling = _labels(f"\"{id_field}\" || ' #' || \"selection_order\"", True, kind == "polygon") if label else ""
    return _document(kind, _categorized(SAMPLE_KIND, categories), labeling)


_CREATE = """CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT,
 f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256), f_geometry_column TEXT(256),
 styleName TEXT(30), styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30),
 ui TEXT(30), update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"""


def store_default_style(geopackage: Path, layer: str, qml: str, description: str) -> None:
    """Make qml the default style of `layer` in the GeoPackage, as QGIS's own 'Save as default' does.

    Earlier wrok styles of this layer are replaced; any other style of it stays, no longer the default.
    The table is registered in gpkg_contents (as QGIS's provider does), so the file stays a valid GeoPackage.
    """
    with sqlite3.connect(geopackage) as db:
        row = db.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)).fetchone()
        if row is None:
            raise ValueError(f"{geopackage.name} has no geometry layer {layer!r} to style")
        geometry_column = row[0]
        db.execute(_CREATE)
        db.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, last_change) "
                   "VALUES ('layer_styles', 'attributes', 'layer_styles', strftime('%Y-%m-%dT%H:%M:%fZ','now'))")
        key = (layer, geometry_column)
        db.execute("DELETE FROM layer_styles WHERE f_table_name = ? AND f_geometry_column = ? AND styleName = ?",
                   (*key, STYLE_NAME))
        db.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = ? AND f_geometry_column = ?", key)
        db.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                   "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui) "
                   "VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', '')", (*key, STYLE_NAME, qml, description))


def cluster_style(ids, id_field: str = "cluster_id", outlines: bool = False):
    """style(kind) for core.io.writing.write_frame: clusters in their colours (outlines see-through, labelled)."""
    return lambda kind: cluster_qml(ids, id_field, kind, outlines)


def sample_style(id_field: str = "cluster_id", label: bool = True):
    """style(kind) for core.io.writing.write_frame: a PPS sample (PSUs, certainty, replacements apart)."""
    return lambda kind: sample_qml(id_field, kind, label)
