"""PostGIS tables for the CLI: read a table, write the results to a new table or into it, one transaction.

A database target is a libpq connection: `postgresql://...` / `postgres://...` URLs, or `PG:` followed
by a conninfo string (`PG:service=frames`, `PG:dbname=frames`, or bare `PG:` for the PG* variables).
libpq itself reads PG* variables, the service file and ~/.pgpass. Passwords are never printed.

Reading, clustering and writing share one transaction on one connection. The table is read with
each row's ctid under a REPEATABLE READ snapshot and a lock that blocks other writers, so the
results join back to exactly the rows read; any failure rolls everything back. All identifiers go
through psycopg2.sql.Identifier, values through COPY: no SQL is built from user text.
"""

from __future__ import annotations

import io
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional

from .params import ClusteringInputError

if TYPE_CHECKING:  # numpy and pandas load on use: the CLI's --help stays quick
    import pandas as pd

DATABASE_PREFIXES = ("postgresql://", "postgres://", "PG:")
ROW_KEY = "__wrok_ctid"
_SQL_TYPES = {"cluster_id": "text", "cluster_weight": "double precision", "cluster_pass": "integer",
              "h3_cell": "text"}
# Existing columns of these types can take the new values in place; anything else is a clash.
_COMPATIBLE = {"text": {"text", "character varying"}, "double precision": {"double precision", "numeric", "real"},
               "integer": {"integer", "bigint", "numeric"}}


def is_database(target) -> bool:
    return isinstance(target, str) and target.startswith(DATABASE_PREFIXES)


def conninfo(target: str) -> str:
    return target[3:].strip() if target.startswith("PG:") else target


def redact(text: str, target: str) -> str:
    """text with the target's password (if any) replaced, for messages."""
    from psycopg2.extensions import parse_dsn

    try:
        password = parse_dsn(conninfo(target)).get("password")
    except Exception:  # an unparsable target: hide anything that looks like a password
        return re.sub(r"(password\s*=\s*)\S+|(://[^:/@]*:)[^@]*@", r"\1\2***@", text)
    return text.replace(password, "***") if password else text


@dataclass
class TableName:
    schema: Optional[str]
    name: str

    @classmethod
    def parse(cls, text: Optional[str], what: str = "--layer") -> "TableName":
        if not text:
            raise ClusteringInputError(f"a database input or output needs a table name: {what} schema.table")
        schema, _, name = text.rpartition(".")
        return cls(schema or None, name)

    def identifier(self):
        from psycopg2 import sql

        return sql.Identifier(self.schema, self.name) if self.schema else sql.Identifier(self.name)

    def __str__(self):
        return f"{self.schema}.{self.name}" if self.schema else self.name


@contextmanager
def transaction(target: str):
    """One connection, one transaction: commit on success, roll back on any failure."""
    import psycopg2

    try:
        connection = psycopg2.connect(conninfo(target), application_name="wrok")
    except psycopg2.Error as exc:
        raise ClusteringInputError(redact(f"cannot connect to the database: {exc}".strip(), target)) from None
    try:
        connection.set_session(isolation_level="REPEATABLE READ")
        yield connection
        connection.commit()
    except psycopg2.Error as exc:
        connection.rollback()
        raise ClusteringInputError(redact(f"database error, nothing was changed: {exc}".strip(), target)) from None
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()


def _relation(cursor, table: TableName):
    """(oid, relkind, can update, owns) of the table, or a clear error when it does not exist."""
    cursor.execute("SELECT to_regclass(%s)::oid", (table.identifier().as_string(cursor),))
    oid = cursor.fetchone()[0]
    if oid is None:
        raise ClusteringInputError(f"table {table} not found in the database")
    cursor.execute("SELECT relkind, has_table_privilege(oid, 'UPDATE'), pg_has_role(relowner, 'USAGE') "
                   "FROM pg_class WHERE oid = %s", (oid,))
    return (oid, *cursor.fetchone())


def _columns(cursor, oid) -> dict:
    cursor.execute("SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
                   "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (oid,))
    return dict(cursor.fetchall())


def _geometry_column(cursor, oid):
    """(name, srid) of the table's first geometry column, or None."""
    cursor.execute("SELECT a.attname, coalesce(postgis_typmod_srid(a.atttypmod), 0) FROM pg_attribute a "
                   "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped "
                   "AND a.atttypid = 'geometry'::regtype ORDER BY a.attnum LIMIT 1", (oid,))
    return cursor.fetchone()


def read_table(connection, table: TableName, lock_for_update: bool):
    """(frame with each row's ctid in ROW_KEY, geometry column name or None) for the whole table."""
    import geopandas as gpd
    import pandas as pd
    from psycopg2 import sql

    with connection.cursor() as cursor:
        oid, relkind, _, _ = _relation(cursor, table)
        is_table = relkind in ("r", "p")
        if is_table and lock_for_update:  # other writers wait until we commit: rows read = rows updated
            cursor.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(table.identifier()))
        # Otherwise the REPEATABLE READ snapshot alone keeps the ctids read valid for a new table's join.
        geometry = _geometry_column(cursor, oid)
    key = sql.SQL("ctid::text AS {}").format(sql.Identifier(ROW_KEY)) if is_table else \
        sql.SQL("NULL::text AS {}").format(sql.Identifier(ROW_KEY))
    query = sql.SQL("SELECT {}, * FROM {}").format(key, table.identifier()).as_string(connection)
    with warnings.catch_warnings():  # pandas prefers SQLAlchemy, a psycopg2 connection works the same
        warnings.simplefilter("ignore", UserWarning)
        if geometry is None:
            return pd.read_sql(query, connection), None
        name, srid = geometry
        frame = gpd.read_postgis(query, connection, geom_col=name, crs=srid or None)
    return frame, name


def _prepare_columns(cursor, oid, table: TableName, new_columns: List[str]) -> List[str]:
    """Columns to add; refuses an existing column whose type cannot hold the new values."""
    existing = _columns(cursor, oid)
    to_add = []
    for column in new_columns:
        wanted = _SQL_TYPES.get(column, "text")
        if column not in existing:
            to_add.append(column)
        elif existing[column] not in _COMPATIBLE.get(wanted, {wanted}):
            raise ClusteringInputError(
                f"{table} already has a column {column!r} of type {existing[column]}, which cannot hold "
                f"{wanted} values; rename or drop it, or write the results to a new table")
    return to_add


def check_in_place(connection, table: TableName, new_columns: List[str]) -> None:
    """Every refusal an in-place update can meet, before any work starts."""
    with connection.cursor() as cursor:
        oid, relkind, can_update, owns = _relation(cursor, table)
        if relkind not in ("r", "p"):
            raise ClusteringInputError(f"{table} is not a table (a view?) and cannot be updated in place; "
                                       "write the results to a new table instead")
        if not can_update or not owns:
            missing = " and ".join(w for w, ok in (("UPDATE", can_update), ("ALTER (table owner)", owns)) if not ok)
            raise ClusteringInputError(f"your database role lacks {missing} rights on {table}; ask its owner, or "
                                       "write the results to a new table instead")
        _prepare_columns(cursor, oid, table, new_columns)


def _copy_results(cursor, frame: "pd.DataFrame", columns: List[str], geometry: Optional[str]) -> None:
    """The results into a temporary table keyed by ctid, through COPY (one round trip)."""
    import numpy as np
    import pandas as pd
    from psycopg2 import sql

    definitions = [sql.SQL("{} tid").format(sql.Identifier(ROW_KEY)), sql.SQL("row_number bigint")]
    definitions += [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(_SQL_TYPES.get(c, "text"))) for c in columns]
    if geometry:
        definitions.append(sql.SQL("{} geometry").format(sql.Identifier(geometry)))
    cursor.execute(sql.SQL("CREATE TEMPORARY TABLE wrok_results ({}) ON COMMIT DROP").format(
        sql.SQL(", ").join(definitions)))
    table = pd.DataFrame({ROW_KEY: frame[ROW_KEY].to_numpy(), "row_number": np.arange(len(frame))})
    for column in columns:
        table[column] = frame[column].to_numpy()
    if geometry:
        table[geometry] = frame.geometry.to_wkb(hex=True, include_srid=True).to_numpy()
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, header=False, na_rep="\\N")
    buffer.seek(0)
    cursor.copy_expert("COPY wrok_results FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer)


def update_in_place(connection, table: TableName, frame: "pd.DataFrame", columns: List[str]) -> int:
    """Add the columns (if new) and fill them on every row read: one UPDATE joined on ctid."""
    from psycopg2 import sql

    with connection.cursor() as cursor:
        oid = _relation(cursor, table)[0]
        for column in _prepare_columns(cursor, oid, table, columns):
            cursor.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                table.identifier(), sql.Identifier(column), sql.SQL(_SQL_TYPES.get(column, "text"))))
        _copy_results(cursor, frame, columns, None)
        assignments = sql.SQL(", ").join(sql.SQL("{0} = r.{0}").format(sql.Identifier(c)) for c in columns)
        cursor.execute(sql.SQL("UPDATE {} t SET {} FROM wrok_results r WHERE t.ctid = r.{}").format(
            table.identifier(), assignments, sql.Identifier(ROW_KEY)))
        if cursor.rowcount != len(frame):
            raise ClusteringInputError(f"{cursor.rowcount} of {len(frame)} rows matched while updating {table}; "
                                       "nothing was changed")
        return cursor.rowcount


def write_new_table(connection, source: TableName, target: TableName, frame: "pd.DataFrame", columns: List[str],
                    new_geometry: Optional[str] = None) -> int:
    """CREATE TABLE target: the source's columns as they are (types kept), plus the result columns.

    new_geometry names a geometry column to add from the frame (hexagons of an H3 table).
    """
    from psycopg2 import sql

    with connection.cursor() as cursor:
        if _relation_exists(cursor, target):
            raise ClusteringInputError(f"table {target} already exists; choose a new name or drop it first")
        oid, relkind = _relation(cursor, source)[:2]
        if relkind not in ("r", "p"):
            raise ClusteringInputError(f"{source} is not a table (a view?); write its results to a file, or "
                                       "create a table from it first")
        kept = [c for c in _columns(cursor, oid) if c not in columns and c != new_geometry]
        _copy_results(cursor, frame, columns, new_geometry)
        selected = [sql.SQL("s.{}").format(sql.Identifier(c)) for c in kept]
        selected += [sql.SQL("r.{}").format(sql.Identifier(c)) for c in columns + ([new_geometry] if new_geometry
                                                                                    else [])]
        cursor.execute(sql.SQL("CREATE TABLE {} AS SELECT {} FROM {} s JOIN wrok_results r ON s.ctid = r.{} "
                               "ORDER BY r.row_number").format(
            target.identifier(), sql.SQL(", ").join(selected), source.identifier(), sql.Identifier(ROW_KEY)))
        written = cursor.rowcount
        if written != len(frame):
            raise ClusteringInputError(f"{written} of {len(frame)} rows matched while writing {target}; "
                                       "nothing was written")
        if new_geometry:
            cursor.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE geometry(Geometry, 4326)").format(
                target.identifier(), sql.Identifier(new_geometry)))
        return written


def _relation_exists(cursor, table: TableName) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (table.identifier().as_string(cursor),))
    return cursor.fetchone()[0]


def run_database(args, params, cluster_input, progress=None):
    """The CLI on a database input: cluster the table, then update it in place, write a new table in the
    same database, or write a file; all inside one transaction. Returns what cluster_input returned."""
    from .io import OUTPUT_FIELDS, write_layer

    source = TableName.parse(args.layer)
    columns = list(OUTPUT_FIELDS) + (["h3_cell"] if args.h3_resolution is not None else [])
    with transaction(args.input) as connection:
        if args.in_place:
            check_in_place(connection, source, columns)
        frame, geometry = read_table(connection, source, lock_for_update=args.in_place)
        keys = frame.pop(ROW_KEY).to_numpy()
        out, clusters, result, extra = cluster_input(frame, progress)
        out[ROW_KEY] = keys
        if args.in_place:
            update_in_place(connection, source, out, columns)
        elif args.output_layer:
            new_geometry = None
            if geometry is None and args.h3_field:  # hexagons join the table under a free name
                new_geometry = next(n for n in ("geom", "hexagon", "h3_hexagon") if n not in frame.columns)
            write_new_table(connection, source, TableName.parse(args.output_layer, "--output-layer"), out,
                            columns, new_geometry)
        else:
            write_layer(out.drop(columns=[ROW_KEY]), args.output)
    return out.drop(columns=[ROW_KEY]), clusters, result, extra
