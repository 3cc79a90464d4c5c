"""Fixtures shared by the DB, usrloc and registrar tests (imported by their conftests)."""

import itertools

import pytest

from tests.db.pgserver import pg_server

_names = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """A fresh, empty database of each driver."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/kamapy.db"
    server = pg_server()
    if server is None:
        pytest.skip("PostgreSQL or psycopg not installed")
    return server.create_db(f"kamapy_test_{next(_names)}")
