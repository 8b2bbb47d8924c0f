"""Fixtures every test folder can use: a real PostgreSQL + PostGIS server (tests/pg_server.py)."""

import pytest
from pg_server import PostgresServer


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
