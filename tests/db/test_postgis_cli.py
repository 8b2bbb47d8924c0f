"""The CLI on PostGIS tables of a real PostgreSQL 15 + PostGIS 3.3 server: in place, to a new table,
to a file; one transaction (a write broken halfway leaves the table's ordered dump md5 unchanged);
refusals before work starts; libpq connection sources; no password in any output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from h3.api import basic_int as h3
from synthetic import clumped_population_frame

REPO = Path(__file__).resolve().parents[2]
FAST = ["--weight-field", "population", "--target-weight", 30, "--target-radius", 1500, "--max-weight", 40,
        "--initial-trials", 5, "--subsequent-trials", 3]
ORIGINAL_COLUMNS = "fid, cell_id, population, name, ST_AsEWKB(geom)"


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "core", "cluster", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env=env)


def libpq_env(server, dbname, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return {**env, **server.libpq_env(dbname), **extra}


def load_points(server, dbname, tmp_path, n=400, table="frame"):
    """ogr2ogr (Debian GDAL's PostgreSQL driver) loads a GeoPackage, as a user would: primary key fid."""
    frame = clumped_population_frame(n, seed=5)
    frame["name"] = [f"cell {i}" for i in range(n)]
    frame.to_file(tmp_path / "points.gpkg")
    done = subprocess.run(["ogr2ogr", "-f", "PostgreSQL", f"PG:{server.dsn(dbname)}", str(tmp_path / "points.gpkg"),
                           "-nln", table, "-lco", "FID=fid", "-lco", "GEOMETRY_NAME=geom"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return frame


def dump(server, dbname, columns=ORIGINAL_COLUMNS, table="frame"):
    return server.psql(dbname, f"SELECT md5(string_agg(row({columns})::text, E'\\n' ORDER BY fid)) FROM {table}")


def check_clusters(server, dbname, table, n):
    rows = pd.DataFrame([line.split("|") for line in server.psql(
        dbname, f"SELECT fid, population, cluster_id, cluster_weight, cluster_pass FROM {table} ORDER BY fid"
    ).splitlines()], columns=["fid", "population", "cluster_id", "cluster_weight", "cluster_pass"])
    assert len(rows) == n and (rows["cluster_id"] != "").all()
    weights = rows["population"].astype(float)
    totals = weights.groupby(rows["cluster_id"]).sum()
    np.testing.assert_allclose(rows["cluster_weight"].astype(float), totals.reindex(rows["cluster_id"]), rtol=1e-9)
    assert (rows["cluster_pass"].astype(int) >= 1).all()


def test_in_place_through_pg_variables_fills_every_row_and_changes_nothing_else(postgres_server, postgis_db,
                                                                                 tmp_path):
    load_points(postgres_server, postgis_db, tmp_path)
    before = dump(postgres_server, postgis_db)
    done = cli("PG:", "--layer", "public.frame", "--in-place", *FAST, env=libpq_env(postgres_server, postgis_db))
    assert done.returncode == 0, done.stderr
    assert dump(postgres_server, postgis_db) == before
    check_clusters(postgres_server, postgis_db, "frame", 400)
    types = postgres_server.psql(postgis_db, "SELECT string_agg(format_type(atttypid, NULL), ',' ORDER BY attname) "
                                             "FROM pg_attribute WHERE attrelid = 'frame'::regclass "
                                             "AND attname LIKE 'cluster_%'")
    assert types == "text,integer,double precision"  # cluster_id, cluster_pass, cluster_weight


def test_new_table_from_a_url_keeps_rows_and_source_types(postgres_server, postgis_db, tmp_path):
    load_points(postgres_server, postgis_db, tmp_path)
    done = cli(postgres_server.url(postgis_db), "--layer", "frame", "--output-layer", "public.clustered", *FAST)
    assert done.returncode == 0, done.stderr
    assert dump(postgres_server, postgis_db, table="clustered") == dump(postgres_server, postgis_db)
    check_clusters(postgres_server, postgis_db, "clustered", 400)
    assert postgres_server.psql(postgis_db, "SELECT type FROM geometry_columns WHERE f_table_name = 'clustered'") \
        == "POINT"
    assert postgres_server.psql(postgis_db, "SELECT to_regclass('frame') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
                                            "information_schema.columns WHERE table_name = 'frame' AND column_name "
                                            "= 'cluster_id')") == "t"
    again = cli(postgres_server.url(postgis_db), "--layer", "frame", "--output-layer", "clustered", *FAST)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_write_broken_halfway_rolls_back_everything(postgres_server, postgis_db, tmp_path):
    load_points(postgres_server, postgis_db, tmp_path)
    # A trigger that fails on the 200th row's update: the UPDATE is under way when it breaks.
    postgres_server.psql(postgis_db, """
        CREATE FUNCTION refuse_half() RETURNS trigger AS $$
        BEGIN IF NEW.fid = 200 THEN RAISE EXCEPTION 'disk full (simulated)'; END IF; RETURN NEW; END $$
        LANGUAGE plpgsql;
        CREATE TRIGGER refuse_half BEFORE UPDATE ON frame FOR EACH ROW EXECUTE FUNCTION refuse_half();""")
    before = postgres_server.psql(postgis_db, "SELECT md5(string_agg(f::text, E'\\n' ORDER BY fid)) FROM frame f")
    done = cli("PG:", "--layer", "frame", "--in-place", *FAST, env=libpq_env(postgres_server, postgis_db))
    assert done.returncode == 2
    assert "disk full (simulated)" in done.stderr and "nothing was changed" in done.stderr
    assert postgres_server.psql(postgis_db, "SELECT md5(string_agg(f::text, E'\\n' ORDER BY fid)) FROM frame f") \
        == before  # every column of every row, and no cluster columns added
    assert postgres_server.psql(postgis_db, "SELECT count(*) FROM information_schema.columns WHERE table_name = "
                                            "'frame' AND column_name LIKE 'cluster_%'") == "0"


def test_refusals_before_work_name_the_way_out(postgres_server, postgis_db, tmp_path):
    load_points(postgres_server, postgis_db, tmp_path)
    env = libpq_env(postgres_server, postgis_db)
    postgres_server.psql(postgis_db, "CREATE VIEW frame_view AS SELECT * FROM frame")
    done = cli("PG:", "--layer", "frame_view", "--in-place", *FAST, env=env)
    assert done.returncode == 2 and "not a table" in done.stderr and "new table" in done.stderr
    postgres_server.psql(postgis_db, "ALTER TABLE frame ADD COLUMN cluster_pass date")
    before = dump(postgres_server, postgis_db)
    done = cli("PG:", "--layer", "frame", "--in-place", *FAST, env=env)
    assert done.returncode == 2
    assert "already has a column 'cluster_pass' of type date" in done.stderr and "new table" in done.stderr
    assert dump(postgres_server, postgis_db) == before
    done = cli("PG:", "--layer", "missing_table", "--in-place", *FAST, env=env)
    assert done.returncode == 2 and "table missing_table not found" in done.stderr


def test_role_without_rights_password_from_pgpass_never_printed(postgres_server, postgis_db, tmp_path):
    load_points(postgres_server, postgis_db, tmp_path)
    secret = "s3cret-Pa55-wrok"
    reader = f"reader_{postgis_db}"  # roles are server-wide, databases per test
    postgres_server.psql(postgis_db, f"CREATE ROLE {reader} LOGIN PASSWORD '{secret}'; GRANT SELECT ON frame TO {reader}")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"*:*:*:{reader}:{secret}\n")
    pgpass.chmod(0o600)
    env = libpq_env(postgres_server, postgis_db, PGUSER=reader, PGPASSFILE=str(pgpass))
    done = cli("PG:", "--layer", "frame", "--in-place", *FAST, env=env)
    assert done.returncode == 2 and "lacks UPDATE and ALTER (table owner) rights on frame" in done.stderr
    # Reading works with the same role: the .pgpass password got it in.
    done = cli("PG:", tmp_path / "out.parquet", "--layer", "frame", *FAST, env=env)
    assert done.returncode == 0, done.stderr
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 400
    # A wrong password in a URL: the error says so without echoing it.
    wrong = f"postgresql://{reader}:Wr0ng-{secret}@/{postgis_db}?host={postgres_server.socket_dir}"
    done = cli(wrong, tmp_path / "out2.parquet", "--layer", "frame", *FAST)
    assert done.returncode == 2 and "password authentication failed" in done.stderr
    for output in (done.stdout, done.stderr):
        assert secret not in output


def test_service_file_and_h3_table_to_a_new_table(postgres_server, postgis_db, tmp_path):
    rng = np.random.default_rng(2)
    cells = sorted(h3.grid_disk(h3.latlng_to_cell(14.6, 121.0, 8), 5))
    postgres_server.psql(postgis_db, "CREATE TABLE kontur (h3 text PRIMARY KEY, population double precision)")
    rows = ",".join(f"('{h3.int_to_str(c)}', {w:.3f})" for c, w in zip(cells, rng.uniform(1, 10, len(cells))))
    postgres_server.psql(postgis_db, f"INSERT INTO kontur VALUES {rows}")
    services = tmp_path / "pg_service.conf"
    services.write_text(f"[frames]\nhost={postgres_server.socket_dir}\nport={postgres_server.libpq_env()['PGPORT']}\n"
                        f"dbname={postgis_db}\nuser=postgres\n")
    env = dict({k: v for k, v in os.environ.items() if not k.startswith("PG")}, PGSERVICEFILE=str(services))
    done = cli("PG:service=frames", "--layer", "kontur", "--h3-field", "h3", "--output-layer", "kontur_psu",
               *FAST, env=env)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    assert 0 < stats["h3_connected_clusters"] <= stats["clusters"]
    check = postgres_server.psql(postgis_db, "SELECT count(*), count(DISTINCT cluster_id), bool_and(ST_SRID(geom) = 4326 "
                                             "AND ST_Equals(geom, ST_GeomFromText(ST_AsText(geom), 4326))), "
                                             "sum(ST_NPoints(geom)) FROM kontur_psu")
    count, clusters, ok, points = check.split("|")
    assert int(count) == len(cells) and int(clusters) == stats["clusters"] and ok == "t"
    assert int(points) == 7 * len(cells)  # closed hexagons


@pytest.mark.parametrize("args, message", [
    (["--in-place"], "--in-place needs a database input"),
    ([], "give an output file"),
])
def test_file_inputs_refuse_database_only_options(tmp_path, args, message):
    clumped_population_frame(50, seed=1).to_parquet(tmp_path / "in.parquet")
    done = cli(tmp_path / "in.parquet", *args, *FAST)
    assert done.returncode == 2 and message in done.stderr
