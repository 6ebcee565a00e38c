"""The fan-out tests' transports: in-process on SQLite, PostgreSQL NOTIFY and Redis pub/sub.

Each test gets a fresh database (and, on Redis, a channel of its own), holding a small table
of M-Pesa payments that the publishing transactions write to, as a reconciliation job does.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fanout_support import Fanout, payments
from sqlalchemy.orm import Session, sessionmaker

from hisaab.pubsub import FanoutConfig, LocalBus, Transport
from hisaab.storage.engine import make_engine


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database: NOTIFY channels are per database."""
    name = f"fanout_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _fanout(config: FanoutConfig, database_url: str) -> Iterator[Fanout]:
    engine = make_engine(database_url)
    payments.metadata.create_all(engine)
    try:
        yield Fanout(config, sessionmaker(engine, class_=Session), LocalBus())
    finally:
        engine.dispose()


@pytest.fixture
def in_process(tmp_path: Path) -> Iterator[Fanout]:
    url = f"sqlite:///{tmp_path / 'hisaab.db'}"
    yield from _fanout(FanoutConfig.from_urls(url), url)


@pytest.fixture
def over_postgres(pg_database: str) -> Iterator[Fanout]:
    yield from _fanout(FanoutConfig.from_urls(pg_database), pg_database)


@pytest.fixture
def over_redis(redis_url: str, tmp_path: Path) -> Iterator[Fanout]:
    url = f"sqlite:///{tmp_path / 'hisaab.db'}"
    config = dataclasses.replace(
        FanoutConfig.from_urls(url, redis_url),
        redis_channel=f"hisaab:events:{uuid.uuid4().hex[:8]}",
    )
    yield from _fanout(config, url)


@pytest.fixture(params=[t.value for t in Transport])
def fanout(request: pytest.FixtureRequest) -> Fanout:
    """Each transport in turn, with the database it runs beside."""
    fixture = {"in-process": "in_process", "postgres": "over_postgres", "redis": "over_redis"}
    result: Fanout = request.getfixturevalue(fixture[request.param])
    return result
