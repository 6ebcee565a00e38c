"""Doing a batch of jobs at once, in the caller's transaction, with the queue as the fallback.

The caller (a bank statement upload, say) writes its own rows, then asks for the follow-up work
to be done now. Done, it commits with the caller's rows and nothing is queued; failed, its own
writes are undone while the caller's stay, and the jobs wait in the queue for a worker.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from queue_test_handlers import marker_count, markers
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session, sessionmaker

from hisaab.queue.jobs import enqueue, enqueued_in, run_now
from hisaab.storage.models import QueueJob

JOBS = QueueJob.__table__
KEYS = ("statement-uploaded", "line-1", "line-2")


def mark_each(session: Session, payloads: list[dict[str, Any]]) -> None:
    session.execute(insert(markers), [{"key": p["key"]} for p in payloads])


def mark_then_fail(session: Session, payloads: list[dict[str, Any]]) -> None:
    mark_each(session, payloads)
    raise ValueError("the bank's API timed out")


def queued_jobs(engine: Engine) -> list[tuple[str, dict[str, Any], str]]:
    with engine.connect() as connection:
        rows = connection.execute(select(JOBS.c.kind, JOBS.c.payload, JOBS.c.status))  # type: ignore[attr-defined]
        return [(kind, json.loads(payload), status) for kind, payload, status in rows]


def test_work_done_now_commits_with_the_callers_writes_and_queues_nothing(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        session.execute(insert(markers).values(key="statement-uploaded"))
        done = run_now(session, "test.mark", [{"key": "line-1"}, {"key": "line-2"}], mark_each)
        assert not enqueued_in(session)

    assert done is True
    assert [marker_count(engine, k) for k in KEYS] == [1, 1, 1]
    assert queued_jobs(engine) == []


def test_work_that_fails_is_undone_and_queued_while_the_callers_writes_stay(
    engine: Engine, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with sessions.begin() as session:
        session.execute(insert(markers).values(key="statement-uploaded"))
        done = run_now(session, "test.mark", [{"key": "line-1"}, {"key": "line-2"}], mark_then_fail)
        assert enqueued_in(session)

    assert done is False
    assert [marker_count(engine, k) for k in KEYS] == [1, 0, 0]
    assert queued_jobs(engine) == [
        ("test.mark", {"key": "line-1"}, "queued"),
        ("test.mark", {"key": "line-2"}, "queued"),
    ]
    assert "ValueError: the bank's API timed out" in caplog.text
    assert "queued for a worker instead" in caplog.text


def test_a_session_knows_whether_it_enqueued(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        assert not enqueued_in(session)
        assert run_now(session, "test.mark", [], mark_then_fail) is True  # nothing to do
        assert not enqueued_in(session)
        enqueue(session, "test.mark", {"key": "later"})
        assert enqueued_in(session)
