"""Completed jobs are pruned after the retention period; nothing else ever is.

A gateway reconciling a thousand M-Pesa callbacks a second completes 86 million jobs a day.
Those older than HISAAB_QUEUE_RETENTION_DAYS go, a chunk at a time; a failed settlement job
that needs a person, and anything queued or running, stays however old it is.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from hisaab.config import get_settings
from hisaab.queue import retention
from hisaab.queue.jobs import arm
from hisaab.queue.retention import PRUNE_JOB, prune, prune_done
from hisaab.storage.models import QueueJob, utcnow

NOW = utcnow()


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HISAAB_QUEUE_RETENTION_DAYS", "7")
    monkeypatch.setenv("HISAAB_QUEUE_PRUNE_INTERVAL_SECONDS", "3600")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def add_job(db: Session, status: str, days_ago: float, kind: str = "realtime.reconcile") -> int:
    at = NOW - dt.timedelta(days=days_ago)
    job_id = db.execute(
        insert(QueueJob)
        .values(
            kind=kind,
            payload=json.dumps({"session_id": f"ps_{status}_{days_ago}"}),
            status=status,
            attempts=1,
            run_after=at,
            locked_at=None if status == "queued" else at,
            created_at=at,
        )
        .returning(QueueJob.id)
    ).scalar_one()
    return int(job_id)


def remaining(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    with sessions() as db:
        rows = db.execute(select(QueueJob.kind, QueueJob.status).order_by(QueueJob.id)).all()
    return [(kind, status) for kind, status in rows]


def test_only_completed_jobs_past_retention_are_deleted(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        add_job(db, "done", days_ago=30)
        add_job(db, "done", days_ago=8)
        add_job(db, "done", days_ago=1)  # within retention
        add_job(db, "failed", days_ago=90, kind="recon.match")  # someone must look at it
        add_job(db, "queued", days_ago=40)
        add_job(db, "running", days_ago=40)
    with sessions.begin() as db:
        prune(db, {})
    assert remaining(sessions) == [
        ("realtime.reconcile", "done"),
        ("recon.match", "failed"),
        ("realtime.reconcile", "queued"),
        ("realtime.reconcile", "running"),
        (PRUNE_JOB, "queued"),  # the next run
    ]


def test_a_backlog_is_pruned_a_chunk_per_run_and_the_next_run_is_due_at_once(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "PRUNE_CHUNK", 2)
    with sessions.begin() as db:
        for days in (20, 19, 18):
            add_job(db, "done", days_ago=days)
    with sessions.begin() as db:
        prune(db, {})
    with sessions() as db:
        left = db.scalars(select(QueueJob.status).where(QueueJob.kind != PRUNE_JOB)).all()
        next_run = db.scalar(select(QueueJob.run_after).where(QueueJob.kind == PRUNE_JOB))
    assert left == ["done"]
    assert next_run is not None and next_run <= utcnow()


def test_without_a_backlog_the_next_run_is_an_interval_away(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as db:
        prune(db, {})
    with sessions() as db:
        next_run = db.scalar(select(QueueJob.run_after).where(QueueJob.kind == PRUNE_JOB))
    assert next_run is not None and next_run >= NOW + dt.timedelta(minutes=59)


def test_retention_zero_keeps_every_job(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HISAAB_QUEUE_RETENTION_DAYS", "0")
    get_settings.cache_clear()
    with sessions.begin() as db:
        add_job(db, "done", days_ago=400)
    with sessions.begin() as db:
        prune(db, {})
    assert ("realtime.reconcile", "done") in remaining(sessions)


def test_prune_done_reports_what_it_deleted(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        add_job(db, "done", days_ago=10)
        add_job(db, "done", days_ago=9)
    with sessions.begin() as db:
        assert prune_done(db, older_than=NOW - dt.timedelta(days=7), limit=1) == 1
    with sessions.begin() as db:
        assert prune_done(db, older_than=NOW - dt.timedelta(days=7)) == 1
        assert prune_done(db, older_than=NOW - dt.timedelta(days=7)) == 0


def test_arming_is_idempotent(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as db:
        assert arm(db, PRUNE_JOB) is True
        assert arm(db, PRUNE_JOB) is False
    assert remaining(sessions) == [(PRUNE_JOB, "queued")]
