"""A real, throwaway PostgreSQL + PostGIS server for tests: the newest Debian installs
(postgresql-15-postgis-3 on Debian 12, postgresql-17-postgis-3 on Debian 13).

The server refuses to run as root, so under root initdb/pg_ctl run as the `postgres` system user.
It listens only on a Unix socket in its own temp folder (no TCP port to collide with other
helpers' servers) and is stopped and removed at the end.

    with PostgresServer() as server:
        dsn = server.create_database("demo")      # fresh database with the postgis extension
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path


def _newest_server_bin() -> Path:
    """The bin folder of the newest installed PostgreSQL major version (Debian keeps one folder per major)."""
    found = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    found.sort(key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else -1)
    return found[-1] if found else Path("/usr/lib/postgresql/<none installed>/bin")


PG_BIN = _newest_server_bin()
PG_MAJOR = PG_BIN.parent.name
PORT = 5432  # only names the socket file: the server listens on no TCP address
SUPERUSER = "postgres"
TEMPLATE = "wrok_postgis_template"


class PostgresServerError(RuntimeError):
    pass


class PostgresServer:
    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="wrok-pg-"))
        self.data = self.base / "data"
        self.socket_dir = str(self.base)
        self.log = self.base / "server.log"
        self.running = False
        self._owner = _server_user()

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> "PostgresServer":
        if not (PG_BIN / "initdb").exists():
            raise PostgresServerError(f"{PG_BIN}/initdb not found: apt-get install postgresql-NN-postgis-3 "
                                      "(make setup does)")
        if self._owner is not None:
            os.chmod(self.base, 0o755)
            os.chown(self.base, self._owner.pw_uid, self._owner.pw_gid)
        self._as_owner([PG_BIN / "initdb", "-D", self.data, "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                        "--locale=C.UTF-8", "--no-sync"])
        # The superuser needs no password; every other role does (scram), so tests exercise ~/.pgpass & co.
        (self.data / "pg_hba.conf").write_text(f"local all {SUPERUSER} trust\nlocal all all scram-sha-256\n")
        options = f"-k {self.socket_dir} -p {PORT} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
        self._as_owner([PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", "60",
                        "start"])
        self.running = True
        atexit.register(self.stop)
        self.psql("postgres", f"CREATE DATABASE {TEMPLATE}")
        self.psql(TEMPLATE, "CREATE EXTENSION postgis")
        return self

    def stop(self) -> None:
        if self.running:
            self.running = False
            self._as_owner([PG_BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"], check=False)
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- use -----------------------------------------------------------------------------------------
    def libpq_env(self, dbname: str = "postgres") -> dict:
        """PG* variables that point libpq (psql, psycopg2, GDAL, QGIS) at this server."""
        return {"PGHOST": self.socket_dir, "PGPORT": str(PORT), "PGUSER": SUPERUSER, "PGDATABASE": dbname}

    def dsn(self, dbname: str, user: str = SUPERUSER, password: str = "") -> str:
        secret = f" password={password}" if password else ""
        return f"host={self.socket_dir} port={PORT} dbname={dbname} user={user}{secret}"

    def url(self, dbname: str, user: str = SUPERUSER) -> str:
        """postgresql:// URL form (the socket folder as the host parameter)."""
        return f"postgresql://{user}@/{dbname}?host={self.socket_dir}&port={PORT}"

    def create_database(self, name: str = "") -> str:
        """A fresh database with PostGIS, copied from the template; returns its name."""
        name = name or f"test_{uuid.uuid4().hex[:12]}"
        self.psql("postgres", f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
        return name

    def psql(self, dbname: str, sql: str, *args: str) -> str:
        """Run SQL through psql as the superuser; returns unaligned, tuples-only output."""
        command = [str(PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", self.socket_dir,
                   "-p", str(PORT), "-U", SUPERUSER, "-d", dbname, "-c", sql, *args]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise PostgresServerError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def table_md5(self, dbname: str, table: str, order_by: str) -> str:
        """md5 of the table's rows in a fixed order: equal before/after means nothing changed."""
        return self.psql(dbname, f"SELECT md5(string_agg(t::text, E'\\n' ORDER BY {order_by})) FROM {table} t")

    def _as_owner(self, command, check: bool = True):
        command = [str(part) for part in command]
        if self._owner is not None:
            command = ["runuser", "-u", self._owner.pw_name, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if check and done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise PostgresServerError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}{log[-2000:]}")
        return done


def _server_user():
    """The `postgres` system user when running as root (the server refuses root), else None."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresServerError("running as root but there is no `postgres` user: "
                                  "apt-get install postgresql-NN-postgis-3 (make setup does)") from None
