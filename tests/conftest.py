"""Shared fixtures: golden data, and the application database on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from postgres_server import PostgresUnavailable, postgres_server

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One real PostgreSQL server per test process; a test that needs it fails without it."""
    try:
        with postgres_server() as url:
            yield url
    except PostgresUnavailable as exc:
        pytest.fail(f"cannot start PostgreSQL for the tests: {exc}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind Hisaab supports (a fresh one per test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hisaab.db'}"
        return
    server: str = request.getfixturevalue("postgres_url")
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One real Redis server per test process; a test that needs it fails without it."""
    from redis_server import RedisUnavailable, redis_server

    try:
        with redis_server() as server:
            yield server.url
    except RedisUnavailable as exc:
        pytest.fail(f"cannot start Redis for the tests: {exc}")
