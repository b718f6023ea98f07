"""A real PostgreSQL for the central store's tests: one server per test session (initdb + pg_ctl in a
temporary folder on a free 127.0.0.1 port, stopped at the end), a fresh database per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from footfall.central.db import migrate
from footfall.central.pgserver import PgServer

_names = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    with PgServer.temporary() as server:
        yield server


@pytest.fixture
def central_dsn(pg_server: PgServer) -> str:
    """A new, migrated database."""
    dsn = pg_server.create_db(f"t{next(_names)}")
    migrate(dsn)
    return dsn


@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    """A server of this test alone (to kill and restart)."""
    with PgServer.temporary() as server:
        yield server
