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
from typing import List, Optional

from ..params import ClusteringInputError

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


def sql_type(column: str, types: Optional[dict] = None) -> str:
    """The SQL type a result column gets: types[column], else by its default name, else geometry."""
    return (types or {}).get(column) or _SQL_TYPES.get(column, "geometry")


def _prepare_columns(cursor, oid, table: TableName, new_columns: List[str], types=None) -> List[str]:
    """Columns to add; refuses an existing column whose type cannot hold the new values."""
    existing = _columns(cursor, oid)
    to_add = []
    for column in new_columns:
        wanted = sql_type(column, types)
        if column not in existing:
            to_add.append(column)
        elif existing[column] not in _COMPATIBLE.get(wanted, {wanted}):
            raise ClusteringInputError(
                f"{table} already has a column {column!r} of type {existing[column]}, which cannot hold "
                f"{wanted} values; rename or drop it, or write the results to a new table")
    return to_add


def primary_key(cursor, oid) -> List[str]:
    cursor.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                   "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s AND i.indisprimary ORDER BY a.attnum", (oid,))
    return [row[0] for row in cursor.fetchall()]


def check_in_place(connection, table: TableName, new_columns: List[str], require_primary_key: bool = False,
                   types=None) -> None:
    """Every refusal an in-place update can meet, before any work starts."""
    with connection.cursor() as cursor:
        oid, relkind, can_update, owns = _relation(cursor, table)
        if relkind not in ("r", "p"):
            raise ClusteringInputError(f"{table} is not a table (a view?) and cannot be updated in place; "
                                       "write the results to a new table instead")
        if require_primary_key and len(primary_key(cursor, oid)) != 1:
            raise ClusteringInputError(f"{table} has no single-column primary key to match features to rows; add "
                                       "one (ALTER TABLE ... ADD PRIMARY KEY), or write the results to a new table")
        adding = _prepare_columns(cursor, oid, table, new_columns, types)
        lacking = [right for right, ok in (("UPDATE", can_update), ("ALTER (table owner)", owns or not adding))
                   if not ok]
        if lacking:
            raise ClusteringInputError(f"your database role lacks {' and '.join(lacking)} rights on {table}; ask "
                                       "its owner, or write the results to a new table instead")


def _copy_results(cursor, key: tuple, values: dict, types=None) -> None:
    """The results into a temporary table through COPY (one round trip).

    key: (column name, SQL type, values); values: {column: sequence}, SQL types from _SQL_TYPES
    ("geometry" for a column of hex EWKB). Row order is kept in row_number.
    """
    import csv

    from psycopg2 import sql

    key_name, key_type, keys = key
    definitions = [sql.SQL("{} {}").format(sql.Identifier(key_name), sql.SQL(key_type)),
                   sql.SQL("row_number bigint")]
    definitions += [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(sql_type(c, types))) for c in values]
    cursor.execute(sql.SQL("CREATE TEMPORARY TABLE wrok_results ({}) ON COMMIT DROP").format(
        sql.SQL(", ").join(definitions)))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = list(values.values())
    for row_number, row in enumerate(zip(keys, *columns)):
        writer.writerow([row[0], row_number, *("\\N" if _is_missing(v) else v for v in row[1:])])
    buffer.seek(0)
    cursor.copy_expert("COPY wrok_results FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer)


def _is_missing(value) -> bool:
    return value is None or str(value) == "<NA>" or value != value  # None, pandas NA, NaN


def update_in_place(connection, table: TableName, keys, values: dict, key_column: Optional[str] = None,
                    types=None) -> int:
    """Add the columns (if new) and fill them on every row given: one UPDATE joined on the key.

    keys: each row's ctid (key_column None: rows read in this transaction) or primary key value.
    """
    from psycopg2 import sql

    with connection.cursor() as cursor:
        oid = _relation(cursor, table)[0]
        cursor.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(table.identifier()))
        for column in _prepare_columns(cursor, oid, table, list(values), types):
            cursor.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                table.identifier(), sql.Identifier(column), sql.SQL(sql_type(column, types))))
        key_name = key_column or ROW_KEY
        key_type = _columns(cursor, oid)[key_column] if key_column else "tid"
        _copy_results(cursor, (key_name, key_type, keys), values, types)
        assignments = sql.SQL(", ").join(sql.SQL("{0} = r.{0}").format(sql.Identifier(c)) for c in values)
        cursor.execute(sql.SQL("UPDATE {} t SET {} FROM wrok_results r WHERE t.{} = r.{}").format(
            table.identifier(), assignments, sql.Identifier(key_column) if key_column else sql.SQL("ctid"),
            sql.Identifier(key_name)))
        if cursor.rowcount != len(keys):
            raise ClusteringInputError(f"{cursor.rowcount} of {len(keys)} rows matched while updating {table}; "
                                       "nothing was changed")
        return cursor.rowcount


def write_new_table(connection, source: TableName, target: TableName, keys, values: dict,
                    new_geometry: Optional[str] = None) -> int:
    """CREATE TABLE target: the source's columns as they are (types kept), plus the result columns.

    keys: each row's ctid, read in this transaction. new_geometry: the name of a geometry column in
    values (hex EWKB) to add (hexagons of an H3 table).
    """
    from psycopg2 import sql

    with connection.cursor() as cursor:
        if _relation_exists(cursor, target):
            raise ClusteringInputError(f"table {target} already exists; choose a new name or drop it first")
        oid, relkind = _relation(cursor, source)[:2]
        if relkind not in ("r", "p"):
            raise ClusteringInputError(f"{source} is not a table (a view?); write its results to a file, or "
                                       "create a table from it first")
        kept = [c for c in _columns(cursor, oid) if c not in values]
        _copy_results(cursor, (ROW_KEY, "tid", keys), values)
        selected = [sql.SQL("s.{}").format(sql.Identifier(c)) for c in kept]
        selected += [sql.SQL("r.{}").format(sql.Identifier(c)) for c in values]
        cursor.execute(sql.SQL("CREATE TABLE {} AS SELECT {} FROM {} s JOIN wrok_results r ON s.ctid = r.{} "
                               "ORDER BY r.row_number").format(
            target.identifier(), sql.SQL(", ").join(selected), source.identifier(), sql.Identifier(ROW_KEY)))
        written = cursor.rowcount
        if written != len(keys):
            raise ClusteringInputError(f"{written} of {len(keys)} rows matched while writing {target}; "
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
    from .files import OUTPUT_FIELDS, write_layer

    source = TableName.parse(args.layer)
    columns = list(OUTPUT_FIELDS) + (["h3_cell"] if args.h3_resolution is not None else [])
    with transaction(args.input) as connection:
        if args.in_place:
            check_in_place(connection, source, columns)
        frame, geometry = read_table(connection, source, lock_for_update=args.in_place)
        keys = frame.pop(ROW_KEY).to_numpy()
        out, clusters, result, extra = cluster_input(frame, progress)
        values = {column: out[column].to_numpy() for column in columns}
        if args.in_place:
            update_in_place(connection, source, keys, values)
        elif args.output_layer:
            new_geometry = None
            if geometry is None and args.h3_field:  # hexagons join the table under a free name
                new_geometry = next(n for n in ("geom", "hexagon", "h3_hexagon") if n not in frame.columns)
                values[new_geometry] = out.geometry.to_wkb(hex=True, include_srid=True).to_numpy()
            write_new_table(connection, source, TableName.parse(args.output_layer, "--output-layer"), keys, values,
                            new_geometry)
        else:
            from .layer_style import cluster_style

            write_layer(out, args.output, style=cluster_style(result.clusters["cluster_id"]))
    return out, clusters, result, extra
