"""PostGIS in the plugin, on a real PostgreSQL 15 + PostGIS 3.3 server (tests/pg_server.py):
results to a new table ("Save to database table" in processing.run, postgres:// in qgis_process),
and in-place updates as one transaction: a write broken halfway, a lost connection or a cancel
leave the table's ordered dump md5 unchanged; refusals before work name the way out."""

import json
import os
import re
import subprocess

import pytest
from qgis.core import QgsDataSourceUri, QgsProcessingException, QgsVectorLayer

from ..conftest import ALGORITHM_ID, REPO
from ..helpers import run_algorithm

DEMO = REPO / "resources" / "demo_population.gpkg"
DEMO_ROWS = 6000
DUMP = "SELECT md5(string_agg(t::text, E'\\n' ORDER BY fid)) FROM population t"


def load_demo(server, dbname, table="population"):
    """ogr2ogr (Debian GDAL's PostgreSQL driver) loads the demo GeoPackage with primary key fid."""
    env = {**os.environ, **server.libpq_env(dbname)}
    subprocess.run(["ogr2ogr", "-f", "PostgreSQL", f"PG:dbname={dbname}", str(DEMO), "-nln", table,
                    "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid"], check=True, env=env, capture_output=True)
    return layer_of(server, dbname, table)


def layer_of(server, dbname, table, key="fid", user="postgres", password=""):
    uri = QgsDataSourceUri()
    uri.setConnection(server.socket_dir, server.libpq_env()["PGPORT"], dbname, user, password)
    uri.setDataSource("public", table, "geom", "", key)
    layer = QgsVectorLayer(uri.uri(False), table, "postgres")
    assert layer.isValid()
    return layer


def destination(server, dbname, table, scheme="postgres://"):
    """What the Processing dialog's 'Save to database table' produces."""
    return (f"{scheme}dbname='{dbname}' host={server.socket_dir} port={server.libpq_env()['PGPORT']} "
            f"user='postgres' table=\"public\".\"{table}\" (geom)")


def cluster_rows(server, dbname, table, id_field="cluster_id"):
    return server.psql(dbname, f"SELECT count(*), count({id_field}), count(DISTINCT {id_field}) FROM {table}")


def test_results_saved_to_new_database_tables(wrok_plugin, postgres_server, postgis_db):
    layer = load_demo(postgres_server, postgis_db)
    results = run_algorithm(layer, OUTPUT=destination(postgres_server, postgis_db, "clustered"),
                            CLUSTERS=destination(postgres_server, postgis_db, "clusters", "postgis:"))
    count, filled, clusters = map(int, cluster_rows(postgres_server, postgis_db, "clustered").split("|"))
    assert count == DEMO_ROWS and filled == DEMO_ROWS and clusters == results["CLUSTER_COUNT"]
    assert postgres_server.psql(postgis_db, "SELECT count(*) FROM clusters") == str(results["CLUSTER_COUNT"])
    # Every input value arrived: the population column sums the same in both tables.
    assert postgres_server.psql(postgis_db, "SELECT (SELECT sum(population) FROM population) = "
                                            "(SELECT sum(population) FROM clustered)") == "t"


def test_qgis_process_writes_to_a_postgres_destination(qgis_process_env, postgres_server, postgis_db):
    load_demo(postgres_server, postgis_db)
    env = qgis_process_env
    assert subprocess.run(["qgis_process.bin", "plugins", "enable", "wrok_plugin"], env=env, capture_output=True,
                          timeout=120).returncode == 0
    source = destination(postgres_server, postgis_db, "population").replace("postgres://", "")
    done = subprocess.run(["qgis_process.bin", "--json", "run", ALGORITHM_ID, "--", f"INPUT=postgres://{source}",
                           "WEIGHT_FIELD=population", "TARGET_WEIGHT=240", "TARGET_RADIUS=1000", "MAX_WEIGHT=300",
                           "INITIAL_TRIALS=10", "SUBSEQUENT_TRIALS=5",
                           f"OUTPUT={destination(postgres_server, postgis_db, 'psu')}"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)["results"]
    count, filled, clusters = map(int, cluster_rows(postgres_server, postgis_db, "psu").split("|"))
    assert count == filled == DEMO_ROWS and clusters == results["CLUSTER_COUNT"]


# -- in place, one transaction --------------------------------------------------------------------------------------

def dump_md5(server, dbname):
    return server.psql(dbname, DUMP)


def cluster_columns(server, dbname, table="population"):
    return server.psql(dbname, "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY column_name) FROM "
                               f"information_schema.columns WHERE table_name = '{table}' AND column_name LIKE 'cluster_%'")


def fail_at_row(server, dbname, fid, action):
    """A trigger that acts (raises, or drops our own connection) when the UPDATE reaches row fid."""
    server.psql(dbname, f"""
        CREATE FUNCTION break_halfway() RETURNS trigger AS $$
        BEGIN IF NEW.fid = {fid} THEN {action}; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
        CREATE TRIGGER break_halfway BEFORE UPDATE ON population FOR EACH ROW EXECUTE FUNCTION break_halfway();""")


def test_update_input_fills_every_row_in_one_transaction(wrok_plugin, postgres_server, postgis_db):
    layer = load_demo(postgres_server, postgis_db)
    before = postgres_server.psql(postgis_db, "SELECT md5(string_agg((fid, population, geom)::text, ',' ORDER BY fid))"
                                              " FROM population")
    results = run_algorithm(layer, UPDATE_INPUT=True)
    assert results["UPDATED_FEATURES"] == DEMO_ROWS
    assert cluster_columns(postgres_server, postgis_db) == \
        "cluster_id:text,cluster_pass:integer,cluster_weight:double precision"
    count, filled, clusters = map(int, cluster_rows(postgres_server, postgis_db, "population").split("|"))
    assert count == filled == DEMO_ROWS and clusters == results["CLUSTER_COUNT"]
    assert postgres_server.psql(postgis_db, "SELECT bool_and(abs(cluster_weight - s.total) < 1e-6) FROM population p "
                                            "JOIN (SELECT cluster_id, sum(population) total FROM population GROUP BY 1)"
                                            " s USING (cluster_id)") == "t"
    assert postgres_server.psql(postgis_db, "SELECT md5(string_agg((fid, population, geom)::text, ',' ORDER BY fid))"
                                            " FROM population") == before


@pytest.mark.parametrize("action, message", [
    ("RAISE EXCEPTION 'disk full (simulated)'", "disk full (simulated)"),
    ("PERFORM pg_terminate_backend(pg_backend_pid())", "terminat"),  # the connection is lost mid-UPDATE
])
def test_update_broken_halfway_leaves_the_table_as_it_was(wrok_plugin, postgres_server, postgis_db, action, message):
    layer = load_demo(postgres_server, postgis_db)
    fail_at_row(postgres_server, postgis_db, DEMO_ROWS // 2, action)
    before = dump_md5(postgres_server, postgis_db)
    with pytest.raises(QgsProcessingException, match=re.escape(message)):
        run_algorithm(layer, UPDATE_INPUT=True)
    assert dump_md5(postgres_server, postgis_db) == before
    assert cluster_columns(postgres_server, postgis_db) == ""


def test_cancel_before_commit_rolls_back(wrok_plugin, postgres_server, postgis_db):
    from wrok_plugin.writeback.postgis import write_postgis

    layer = load_demo(postgres_server, postgis_db)
    before = dump_md5(postgres_server, postgis_db)
    ids = [feature.id() for feature in layer.getFeatures()]
    result = type("Result", (), dict(cluster_id=["CLUSTER_1"] * len(ids), cluster_weight=[1.0] * len(ids),
                                     cluster_pass=[1] * len(ids)))
    with pytest.raises(QgsProcessingException, match="Cancelled; the table is unchanged"):
        write_postgis(layer, ("cluster_id", "cluster_weight", "cluster_pass"), ids, result, is_cancelled=lambda: True)
    assert dump_md5(postgres_server, postgis_db) == before and cluster_columns(postgres_server, postgis_db) == ""


def test_write_back_action_on_postgis_is_one_transaction(wrok_plugin, postgres_server, postgis_db):
    from wrok_plugin.qgis_io.clustering import ClusterSettings
    from wrok_plugin.writeback.task import ClusterLayerTask

    layer = load_demo(postgres_server, postgis_db)
    settings = ClusterSettings(weight_field="population", initial_trials=10, subsequent_trials=5)
    fail_at_row(postgres_server, postgis_db, 10, "RAISE EXCEPTION 'check violation (simulated)'")
    before = dump_md5(postgres_server, postgis_db)
    messages = []
    task = ClusterLayerTask(layer, settings, on_message=lambda level, text: messages.append((level, text)))
    task.finished(task.run())
    assert messages[-1][0] == "error" and "check violation (simulated)" in messages[-1][1]
    assert dump_md5(postgres_server, postgis_db) == before and cluster_columns(postgres_server, postgis_db) == ""
    postgres_server.psql(postgis_db, "DROP TRIGGER break_halfway ON population")
    messages.clear()
    task = ClusterLayerTask(layer, settings, on_message=lambda level, text: messages.append((level, text)))
    task.finished(task.run())
    assert messages[-1][0] == "success" and "one transaction" in messages[-1][1], messages
    count, filled, _ = map(int, cluster_rows(postgres_server, postgis_db, "population").split("|"))
    assert count == filled == DEMO_ROWS
    assert layer.fields().lookupField("cluster_id") >= 0  # the layer was reloaded and shows the new fields


def test_refusals_before_work_name_the_way_out(wrok_plugin, postgres_server, postgis_db):
    load_demo(postgres_server, postgis_db)
    server, db = postgres_server, postgis_db
    server.psql(db, "CREATE VIEW population_view AS SELECT * FROM population; "
                    "CREATE TABLE no_key AS SELECT * FROM population; "
                    "CREATE TABLE clash AS SELECT *, now()::date AS cluster_pass FROM population; "
                    "ALTER TABLE clash ADD PRIMARY KEY (fid); "
                    f"CREATE ROLE reader_{db} LOGIN PASSWORD 'reader-secret-1'; GRANT SELECT ON population TO reader_{db}")
    cases = [
        (layer_of(server, db, "population_view"), "not a table \\(a view\\?\\).*new"),
        (layer_of(server, db, "no_key", key=""), "no single-column primary key.*new"),
        (layer_of(server, db, "clash"), "cluster_pass"),
        (layer_of(server, db, "population", user=f"reader_{db}", password="reader-secret-1"), "lacks UPDATE.*new"),
    ]
    for layer, message in cases:
        before = server.psql(db, f"SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {layer.name()} t")
        with pytest.raises(QgsProcessingException, match=message) as refused:
            run_algorithm(layer, UPDATE_INPUT=True)
        assert "reader-secret-1" not in str(refused.value)
        assert server.psql(db, f"SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {layer.name()} t") \
            == before
