"""In-place update of a PostGIS layer as one database transaction.

QGIS's provider adds fields and changes values in separate transactions, so a failure halfway
(a constraint, a lost connection, cancel) could leave new columns or some rows written. Here
the checks run before any work; then one transaction adds the missing columns, COPYs the results
into a temporary table and runs one UPDATE joined on the primary key (core.io.postgis, psycopg2 with
quoted identifiers). Any failure rolls everything back. Not undoable: the database has it.
"""

from __future__ import annotations

from qgis.core import QgsDataProvider, QgsDataSourceUri, QgsFeatureRequest, QgsProcessingException

TYPES = ("text", "double precision", "integer")  # cluster ID, weight, pass


def is_postgis(layer) -> bool:
    return layer is not None and layer.providerType() == "postgres"


def _uri(layer):
    return QgsDataSourceUri(layer.source())


def _table(layer):
    from core.io.postgis import TableName

    uri = _uri(layer)
    if uri.sql() or not uri.table() or uri.table().startswith("("):
        raise QgsProcessingException(
            f"Layer '{layer.name()}' is a query or has a filter, not a whole table, and cannot be updated in "
            "place; write the results to a new layer instead.")
    return TableName(uri.schema() or None, uri.table())


def _transaction(layer):
    import importlib.util

    from core.io.postgis import transaction

    if importlib.util.find_spec("psycopg2") is None:
        raise QgsProcessingException("Updating a PostGIS layer in place needs psycopg2 (python3-psycopg2); "
                                     "install it, or write the results to a new layer.")
    # connectionInfo(True) expands an authentication configuration; libpq does the rest (service, .pgpass).
    return transaction(_uri(layer).connectionInfo(True))


def _engine_error(exc) -> QgsProcessingException:
    text = str(exc)
    return QgsProcessingException(f"{text[0].upper()}{text[1:]}.")


def check_postgis_layer(layer, names) -> None:
    """Refuse, before any work, what the update would fail on: a view, no primary key, missing rights,
    an existing column of a clashing type. Each message names the way out."""
    from core import ClusteringInputError
    from core.io.postgis import check_in_place

    table = _table(layer)
    try:
        with _transaction(layer) as connection:
            check_in_place(connection, table, list(names), require_primary_key=True, types=dict(zip(names, TYPES)))
    except ClusteringInputError as exc:
        raise _engine_error(exc) from None


def _primary_keys(layer, feature_ids, key_column: str):
    """Each feature's primary key value, in feature_ids' order."""
    index = layer.fields().lookupField(key_column)
    if index < 0:
        raise QgsProcessingException(f"Layer '{layer.name()}' does not show its primary key {key_column}; "
                                     "write the results to a new layer instead.")
    request = QgsFeatureRequest().setFilterFids(list(feature_ids)).setSubsetOfAttributes([index])
    request.setFlags(QgsFeatureRequest.Flag.NoGeometry)
    key_of = {feature.id(): feature.attribute(index) for feature in layer.getFeatures(request)}
    missing = [fid for fid in feature_ids if fid not in key_of]
    if missing:
        raise QgsProcessingException(f"{len(missing)} feature(s) are no longer in '{layer.name()}'; nothing was "
                                     "changed. Run again.")
    return [key_of[fid] for fid in feature_ids]


def write_postgis(layer, names, feature_ids, result, is_cancelled=lambda: False) -> int:
    """Write the three cluster fields of every feature in one transaction; returns the rows updated."""
    from core import ClusteringInputError
    from core.io.postgis import primary_key, update_in_place

    table = _table(layer)
    try:
        with _transaction(layer) as connection:
            with connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s)::oid", (table.identifier().as_string(cursor),))
                key_column = primary_key(cursor, cursor.fetchone()[0])[0]
            keys = _primary_keys(layer, feature_ids, key_column)
            values = {names[0]: [str(v) for v in result.cluster_id],
                      names[1]: [float(v) for v in result.cluster_weight],
                      names[2]: [int(v) for v in result.cluster_pass]}
            updated = update_in_place(connection, table, keys, values, key_column, dict(zip(names, TYPES)))
            if is_cancelled():  # before the commit: the rollback leaves the table as it was
                raise QgsProcessingException("Cancelled; the table is unchanged.")
            return updated
    except ClusteringInputError as exc:
        raise _engine_error(exc) from None


def show_new_fields(layer) -> None:
    """Reopen a PostGIS layer's source so it shows columns added behind its back (reload() keeps the old
    field list); other layers just reload."""
    if is_postgis(layer):
        layer.setDataSource(layer.source(), layer.name(), layer.providerType(), QgsDataProvider.ProviderOptions())
    else:
        layer.reload()
