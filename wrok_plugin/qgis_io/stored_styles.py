"""GeoPackage outputs keep their style: the QML core.io.layer_style writes goes into the file's layer_styles.

Styling a layer that a run loads into the project (styling.py, sample_styling.py) lasts as long as
the project; a file written by qgis_process, or reopened later, would come back unstyled. So each
algorithm notes its GeoPackage outputs while it runs, and postProcessAlgorithm (the sinks are closed
by then) stores their default style with core.io.layer_style.store_default_style, as the CLI does.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from qgis.core import QgsProviderRegistry


def note_style(algorithm, destination, style) -> None:
    """Remember an output (its sink id) and style(geometry kind) -> QML, to store after the run."""
    if destination:
        pending = getattr(algorithm, "_pending_styles", [])
        algorithm._pending_styles = pending + [(str(destination), style)]


def store_noted_styles(algorithm, feedback) -> None:
    """Write every noted GeoPackage output's style; a failure is a warning, the data is already written."""
    from core.io.layer_style import geometry_kind, store_default_style

    pending, algorithm._pending_styles = getattr(algorithm, "_pending_styles", []), []
    for destination, style in pending:
        path, layer = _geopackage_layer(destination)
        if path is None:
            continue
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                row = db.execute("SELECT geometry_type_name FROM gpkg_geometry_columns WHERE table_name = ?",
                                 (layer,)).fetchone()
            if row is None:
                continue
            store_default_style(path, layer, style(geometry_kind(row[0])), "written by wrok")
        except (sqlite3.Error, ValueError, OSError) as exc:
            feedback.pushWarning(f"Could not store the style in {path.name}: {exc}. The layer itself is written.")


def _geopackage_layer(destination: str):
    """(path, layer name) of a GeoPackage sink id such as 'out.gpkg|layername=clusters', else (None, None)."""
    parts = QgsProviderRegistry.instance().decodeUri("ogr", destination)
    path = Path(parts.get("path") or destination.split("|")[0])
    if path.suffix.lower() != ".gpkg" or not path.is_file():
        return None, None
    layer = parts.get("layerName")
    if not layer:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            names = [r[0] for r in db.execute("SELECT table_name FROM gpkg_contents WHERE data_type = 'features'")]
        layer = path.stem if path.stem in names or len(names) != 1 else names[0]
    return path, layer
