"""PostGIS in the plugin, on a real PostgreSQL 15 + PostGIS 3.3 server (tests/pg_server.py):
results to a new table ("Save to database table" in processing.run, postgres:// in qgis_process),
and in-place updates as one transaction: a write broken halfway, a lost connection or a cancel
leave the table's ordered dump md5 unchanged; refusals before work name the way out."""

import json
import os
import subprocess

import pytest
from qgis.core import QgsDataSourceUri, QgsProcessingException, QgsVectorLayer

from .conftest import ALGORITHM_ID, REPO
from .helpers import run_algorithm

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
