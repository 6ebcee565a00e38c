"""Engines on PostgreSQL: idle connections are checked before use, and plans follow the data.

A settlement worker keeps a pool of connections. One that the database closed while it sat
idle (a restart, an idle timeout) must be replaced before a reconciliation runs on it; one
used a moment ago is trusted without a round trip.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text

from hisaab.storage import engine as engine_module
from hisaab.storage.engine import make_engine


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT pg_backend_pid()")))


def count_pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return bool(real(dbapi_connection))

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_used_a_moment_ago_is_handed_out_without_a_ping(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
    first = backend_pid(pg_engine)
    pings = count_pings(pg_engine, monkeypatch)
    assert [backend_pid(pg_engine) for _ in range(5)] == [first] * 5
    assert pings == []


def test_an_idle_connection_the_server_closed_is_replaced_before_use(
    pg_engine: Engine, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = backend_pid(pg_engine)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    pings = count_pings(pg_engine, monkeypatch)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [first])
    second = backend_pid(pg_engine)  # would raise if the dead connection were used
    assert second != first
    assert pings, "the idle connection was not checked"


def test_every_execution_is_planned_for_its_own_parameters(pg_engine: Engine) -> None:
    with pg_engine.connect() as conn:
        assert conn.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
        conn.rollback()
    # Still so on the same pooled connection after a rollback (SET is transactional).
    with pg_engine.connect() as conn:
        assert conn.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
