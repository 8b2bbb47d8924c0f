"""The test database server itself: Debian's real PostgreSQL (15 on Debian 12, 17 on Debian 13) with PostGIS 3,
reachable from psycopg2."""

import psycopg2
from pg_server import PG_MAJOR


def test_server_runs_postgis_and_psycopg2_reaches_it(postgres_server, postgis_db):
    with psycopg2.connect(postgres_server.dsn(postgis_db)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int, postgis_lib_version()")
        version, postgis = cursor.fetchone()
        cursor.execute("SELECT ST_AsText(ST_Centroid(ST_GeomFromText('LINESTRING(0 0, 2 0)', 4326)))")
        assert cursor.fetchone()[0] == "POINT(1 0)"
    connection.close()
    assert version // 10000 == int(PG_MAJOR)  # the server runs the binaries the harness picked
    assert postgis.startswith("3.")


def test_databases_are_fresh_per_test(postgres_server, postgis_db):
    postgres_server.psql(postgis_db, "CREATE TABLE marker (id int primary key)")
    other = postgres_server.create_database()
    assert postgres_server.psql(other, "SELECT to_regclass('marker') IS NULL") == "t"


def test_ordered_dump_md5_sees_a_changed_row(postgres_server, postgis_db):
    postgres_server.psql(postgis_db, "CREATE TABLE t (id int primary key, v text); "
                                     "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    before = postgres_server.table_md5(postgis_db, "t", "id")
    postgres_server.psql(postgis_db, "UPDATE t SET v = 'c' WHERE id = 2")
    assert postgres_server.table_md5(postgis_db, "t", "id") != before
