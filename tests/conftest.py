"""Shared by every test folder: Hypothesis profiles, and a real PostgreSQL + PostGIS server (tests/pg_server.py).

`HYPOTHESIS_PROFILE=ci` (what `make test` and CI use) derandomizes Hypothesis: each
property test draws the same examples on every run, so a CI failure reproduces and
the suite's run time stays steady. The default profile explores new examples each run.
"""

import os

import pytest
from hypothesis import settings
from pg_server import PostgresServer

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL 15 + PostGIS server for the session, stopped and removed at the end."""
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgis_db(postgres_server):
    """A fresh database with the postgis extension for one test; dropped afterwards."""
    name = postgres_server.create_database()
    yield name
    postgres_server.psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
