"""Enqueueing announces work on PostgreSQL: `NOTIFY hisaab_jobs, '<kind>'`, delivered at commit.

Each test listens on a plain psycopg connection of its own, as any worker would. Notifications
from separate transactions arrive in commit order, so a test commits a last job of another
kind as a marker and reads up to it: whatever came before the marker is all there was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from queue_test_handlers import job_row
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from hisaab.queue.claim import claim
from hisaab.queue.jobs import WAKE_CHANNEL, enqueue, enqueue_many

on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MARKER = "test.marker"


@contextmanager
def listening(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"LISTEN {WAKE_CHANNEL}")
        yield conn


def kinds_announced_before_the_marker(
    conn: psycopg.Connection[Any], sessions: sessionmaker[Session]
) -> list[str]:
    """Commit a marker job, then return the kinds announced before it, in commit order."""
    with sessions.begin() as session:
        enqueue(session, MARKER, {})
    kinds: list[str] = []
    for notify in conn.notifies(timeout=10):
        assert notify.channel == WAKE_CHANNEL
        if notify.payload == MARKER:
            return kinds
        kinds.append(notify.payload)
    pytest.fail(f"the marker's notification never came (got {kinds})")


@on_postgresql
def test_a_committed_job_announces_its_kind(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    with listening(database_url) as conn:
        with sessions.begin() as session:
            enqueue(session, "test.insert", {"key": "settle-mpesa-QKJ4ABC123"})
        notify = next(conn.notifies(timeout=10, stop_after=1))
    assert (notify.channel, notify.payload) == (WAKE_CHANNEL, "test.insert")


@on_postgresql
def test_a_batch_of_200_callbacks_costs_one_notification(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    callbacks = [{"key": f"stk-callback-{n}"} for n in range(200)]
    with listening(database_url) as conn:
        with sessions.begin() as session:
            enqueue_many(session, "test.insert", callbacks)
        assert kinds_announced_before_the_marker(conn, sessions) == ["test.insert"]


@on_postgresql
def test_one_transaction_announces_each_kind_once(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    with listening(database_url) as conn:
        with sessions.begin() as session:
            for n in range(3):
                enqueue(session, "test.insert", {"key": f"refund-{n}"})
            enqueue_many(session, "test.insert", [{"key": "refund-3"}, {"key": "refund-4"}])
            enqueue(session, "test.fail", {"key": "chargeback-1"})
        assert kinds_announced_before_the_marker(conn, sessions) == ["test.insert", "test.fail"]


@on_postgresql
def test_a_rolled_back_enqueue_announces_nothing(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    with listening(database_url) as conn:
        with sessions() as session:
            enqueue(session, "test.insert", {"key": "never-paid"})
            enqueue_many(session, "test.insert", [{"key": "never-paid-either"}])
            session.rollback()
        assert kinds_announced_before_the_marker(conn, sessions) == []


@on_postgresql
def test_a_job_enqueued_in_a_savepoint_that_rolls_back_is_not_announced(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    with listening(database_url) as conn:
        with sessions.begin() as session:
            enqueue(session, "test.insert", {"key": "kept"})
            savepoint = session.begin_nested()
            enqueue(session, "test.fail", {"key": "dropped"})
            savepoint.rollback()
        assert kinds_announced_before_the_marker(conn, sessions) == ["test.insert"]


@contextmanager
def statements_of(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def spy(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()).lower())

    event.listen(engine, "before_cursor_execute", spy)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", spy)


@on_postgresql
def test_on_postgresql_the_announcement_costs_no_extra_round_trip_per_job(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        session.connection()  # the transaction's BEGIN is not the enqueue's cost
        with statements_of(engine) as single:
            enqueue(session, "test.insert", {"key": "one"})
        with statements_of(engine) as batch:
            enqueue_many(session, "test.insert", [{"key": "two"}, {"key": "three"}])

    assert len(single) == 1
    assert single[0].startswith("insert into queue_jobs") and "pg_notify" in single[0]
    assert len(batch) == 1
    assert "insert into queue_jobs" in batch[0] and "pg_notify" in batch[0]


@on_sqlite
def test_on_sqlite_enqueue_sends_no_notify_and_works_as_before(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        session.connection()
        with statements_of(engine) as seen:
            job = enqueue(session, "test.insert", {"key": "till-7"})
            enqueue_many(session, "test.insert", [{"key": "till-8"}, {"key": "till-9"}])

    assert len(seen) == 2
    assert all(s.startswith("insert into queue_jobs") for s in seen)
    assert not any("notify" in s for s in seen)
    row = job_row(engine, job.id)
    assert (row.kind, row.payload, row.status) == ("test.insert", '{"key": "till-7"}', "queued")
    claimed = claim(sessions, "worker-a")
    assert claimed is not None and claimed.id == job.id
