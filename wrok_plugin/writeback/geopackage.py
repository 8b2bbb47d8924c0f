"""In-place update of a GeoPackage layer as ONE SQLite transaction.

Going through the OGR provider commits the new columns and the values separately, and QGIS
keeps GeoPackages in WAL mode, so a failure half-way could only be undone value by value. A
single transaction (add columns, update every row, read every row back) is either committed
whole or rolled back, leaving the file byte-identical. Identifiers are the layer's own table,
key and field names, always quoted; values go in as parameters.
"""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

from qgis.core import QgsProcessingException

from core.frame.fields import INTEGER, REAL, TEXT

SQL_TYPES = {TEXT: "TEXT", REAL: "REAL", INTEGER: "INTEGER"}
BUSY_TIMEOUT_S = 30  # another program writing the file: wait this long for it, then give up
CHECK_EVERY = 5000


def geopackage_table(layer):
    """(path, table name) when the layer is a GeoPackage table read through OGR, else None."""
    if layer.dataProvider().name() != "ogr":
        return None
    parts = layer.source().split("|")
    path = Path(parts[0])
    if path.suffix.lower() != ".gpkg" or not path.is_file():
        return None
    options = dict(part.split("=", 1) for part in parts[1:] if "=" in part)
    table = options.get("layername")
    if table is None:  # a single-layer GeoPackage opened by its path alone
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            tables = [row[0] for row in connection.execute(
                "SELECT table_name FROM gpkg_contents WHERE data_type = 'features'")]
        if len(tables) != 1:
            return None
        table = tables[0]
    return path, table


_ENVELOPE_DOUBLES = {0: 0, 1: 4, 2: 6, 3: 6, 4: 8}


def _header(blob):
    """(empty, little endian, envelope doubles, header length) of a GeoPackage geometry blob."""
    flags = blob[3]
    doubles = _ENVELOPE_DOUBLES[(flags >> 1) & 7]
    return bool(flags & 0x10), bool(flags & 1), doubles, 8 + 8 * doubles


def _st_is_empty(blob):
    return None if blob is None else int(_header(blob)[0])


def _bound(position):
    """ST_MinX/MaxX/MinY/MaxY from the envelope, or from a point's own coordinates."""
    def bound(blob):
        if blob is None:
            return None
        empty, little, doubles, start = _header(blob)
        order = "<" if little else ">"
        if doubles:
            minx, maxx, miny, maxy = struct.unpack_from(order + "4d", blob, 8)
            return (minx, maxx, miny, maxy)[position]
        wkb_order = "<" if blob[start] == 1 else ">"
        if struct.unpack_from(wkb_order + "I", blob, start + 1)[0] % 1000 != 1:
            raise ValueError("geometry without envelope")  # never reached: wrok changes no geometry or key
        x, y = struct.unpack_from(wkb_order + "2d", blob, start + 5)
        return (x, x, y, y)[position]
    return bound


def _connect(path):
    """A connection with the functions GDAL's GeoPackage triggers name (the R-tree ones).

    They run only when a geometry or key changes, which this update never does; SQLite still
    needs them to exist to prepare the UPDATE.
    """
    connection = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
    connection.create_function("ST_IsEmpty", 1, _st_is_empty, deterministic=True)
    for position, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
        connection.create_function(name, 1, _bound(position), deterministic=True)
    return connection


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _key_column(connection, table: str) -> str:
    keys = [row[1] for row in connection.execute(f"PRAGMA table_info({_quote(table)})") if row[5]]
    if len(keys) != 1:
        raise QgsProcessingException(f"GeoPackage table '{table}' has no single integer key; write to a new output.")
    return keys[0]


def update_geopackage(path, table, names, kinds, feature_ids, rows, is_cancelled, progress_text=None) -> int:
    """Add the missing columns and set every row's values in one transaction; the verified count.

    rows: per feature, the three values. Any failure or cancel rolls the whole update back.
    """
    from core import ClusteringCancelled

    connection = _connect(path)
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            key = _key_column(connection, table)
            present = {row[1].lower() for row in connection.execute(f"PRAGMA table_info({_quote(table)})")}
            for name, kind in zip(names, kinds):
                if name.lower() not in present:
                    connection.execute(f"ALTER TABLE {_quote(table)} ADD COLUMN {_quote(name)} {SQL_TYPES[kind]}")
            assignments = ", ".join(f"{_quote(name)} = ?" for name in names)
            connection.executemany(f"UPDATE {_quote(table)} SET {assignments} WHERE {_quote(key)} = ?",
                                   (tuple(values) + (fid,) for fid, values in zip(feature_ids, rows)))
            if progress_text is not None:
                progress_text("Checking the written values")
            expected = dict(zip(feature_ids, rows))
            columns = ", ".join(_quote(name) for name in (key, *names))
            good = 0
            for n, (fid, *stored) in enumerate(connection.execute(f"SELECT {columns} FROM {_quote(table)}")):
                if n % CHECK_EVERY == 0 and is_cancelled():
                    raise ClusteringCancelled("cancelled while checking the written values")
                if expected.get(fid) == stored:
                    good += 1
            if good != len(feature_ids):
                raise QgsProcessingException(f"only {good} of {len(feature_ids)} rows of '{table}' held the "
                                             "computed cluster values after writing")
            connection.execute("COMMIT")
            return good
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise QgsProcessingException(f"GeoPackage {Path(path).name} refused the update ({exc})") from None
    finally:
        connection.close()
