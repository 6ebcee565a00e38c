"""Enqueueing background work, and the registry of what each kind of job does.

A job is a row written in the caller's transaction, so it exists exactly when the change that
caused it commits: nothing is pushed anywhere after the commit, and a crash in between loses
nothing. Workers (hisaab.queue.worker) claim, run and complete jobs.

On PostgreSQL the same transaction also sends `NOTIFY hisaab_jobs` with the job's kind as the
payload: PostgreSQL delivers it at commit (exactly when the jobs become visible), never for a
transaction or savepoint that rolls back, and once per transaction for identical payloads, so
a batch of 200 enqueues costs one notification. A worker's listener (hisaab.queue.wakeup) turns
it into an immediate look at the queue. It is only a hint: the table is the truth, and workers
still poll. SQLite has no NOTIFY; its workers poll (and in-process ones are woken directly).

A handler is `handler(session, payload)`: it runs in the transaction that marks its job done,
so what it writes through `session` commits exactly once with that mark.

`run_now` is the other way to get a batch job done: in the caller's own transaction, at once,
with the queue as the fallback if it fails (real-time reconciliation does this at intake).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from hisaab.storage.models import QueueJob, utcnow
from hisaab.storage.sql import on_postgres

Handler = Callable[[Session, dict[str, Any]], None]
BatchHandler = Callable[[Session, list[dict[str, Any]]], None]
HANDLERS: dict[str, Handler] = {}
# Kinds whose jobs may run many to a transaction (small, frequent jobs such as reconciling one
# payment session): the worker claims them in batches and falls back to one at a time if a
# batch fails, so one bad job never holds back the others.
BATCH_HANDLERS: dict[str, BatchHandler] = {}
# Modules that register handlers when imported, with the prefixes of the kinds each registers.
# A worker imports the ones its --kinds need (all of them without --kinds): a real-time worker
# need not load the batch engine (DuckDB, Arrow), which made its start, and so its restart
# after a crash, slower.
HANDLER_MODULES: dict[str, tuple[str, ...]] = {
    "hisaab.recon.match_job": ("recon.",),
    "hisaab.realtime.jobs": ("realtime.", "mpesa."),
    "hisaab.queue.retention": ("queue.",),
}


def handler_modules_for(kinds: Sequence[str] | None) -> list[str]:
    """The handler modules that register `kinds` (every module when `kinds` is None)."""
    if kinds is None:
        return list(HANDLER_MODULES)
    return [
        module
        for module, prefixes in HANDLER_MODULES.items()
        if any(kind.startswith(prefixes) for kind in kinds)
    ]


# The PostgreSQL channel that tells listening workers a job was enqueued; payload: its kind.
WAKE_CHANNEL = "hisaab_jobs"
# Session.info key: this session's transaction enqueued something (see `enqueued_in`).
_ENQUEUED = "hisaab.queue.enqueued"
logger = logging.getLogger("hisaab.queue")


class BadPayload(Exception):
    """Raised by a handler whose job's payload can never be run (a required field missing or
    of the wrong kind): the worker fails the job at once, with this message, instead of
    retrying it with backoff until its attempts run out."""


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of `kind`."""

    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def batch_handler(kind: str) -> Callable[[BatchHandler], BatchHandler]:
    """Register the function that runs a list of jobs of `kind` in one transaction."""

    def register(fn: BatchHandler) -> BatchHandler:
        BATCH_HANDLERS[kind] = fn
        HANDLERS[kind] = lambda session, payload: fn(session, [payload])
        return fn

    return register


@dataclass(frozen=True)
class Enqueued:
    id: int
    kind: str
    run_after: dt.datetime


def enqueue(
    session: Session,
    kind: str,
    payload: Mapping[str, Any],
    *,
    run_after: dt.datetime | None = None,
) -> Enqueued:
    """Add a job in the caller's transaction; it becomes visible to workers when that commits.

    One INSERT statement (no ORM unit of work): real-time intake enqueues once per callback.
    On PostgreSQL the INSERT also sends the wake-up notification, in the same round trip.
    """
    at = run_after or utcnow()
    values = {
        "kind": kind,
        "payload": json.dumps(dict(payload), sort_keys=True, default=str),
        "status": "queued",
        "attempts": 0,
        "run_after": at,
        "created_at": utcnow(),
    }
    connection = session.connection()
    session.info[_ENQUEUED] = True
    statement = _INSERT_AND_NOTIFY if on_postgres(session) else _INSERT
    job_id = connection.execute(statement, values).scalar_one()  # the id, first column
    return Enqueued(int(job_id), kind, at)


_INSERT = insert(QueueJob).returning(QueueJob.id)
# pg_notify in RETURNING runs once per inserted row (here: one), so the notification costs no
# extra round trip on the path that enqueues once per callback.
_INSERT_AND_NOTIFY = insert(QueueJob).returning(
    QueueJob.id, func.pg_notify(WAKE_CHANNEL, QueueJob.kind)
)
# PostgreSQL: the batch as one array parameter and the wake-up in the same statement, so
# the text is fixed (prepared once) and the batch costs one round trip whatever its size.
_PG_INSERT_MANY_AND_NOTIFY = text(
    """
    WITH added AS (
        INSERT INTO queue_jobs (kind, payload, status, attempts, run_after, created_at)
        SELECT :kind, payload, 'queued', 0, :now, :now
        FROM unnest(CAST(:payloads AS text[])) AS payload
    )
    SELECT pg_notify(:channel, :kind)
    """
)


def enqueue_many(session: Session, kind: str, payloads: Sequence[Mapping[str, Any]]) -> None:
    """Add many jobs of one kind in the caller's transaction, with one statement (on
    PostgreSQL, the same statement also sends the wake-up notification, once for the batch)."""
    if not payloads:
        return
    now = utcnow()
    connection = session.connection()
    session.info[_ENQUEUED] = True
    if on_postgres(session):  # SQLite has no NOTIFY: its workers poll
        texts = [json.dumps(dict(payload), sort_keys=True, default=str) for payload in payloads]
        connection.execute(
            _PG_INSERT_MANY_AND_NOTIFY,
            {"kind": kind, "payloads": texts, "now": now, "channel": WAKE_CHANNEL},
        )
        return
    rows = [
        {
            "kind": kind,
            "payload": json.dumps(dict(payload), sort_keys=True, default=str),
            "status": "queued",
            "attempts": 0,
            "run_after": now,
            "created_at": now,
        }
        for payload in payloads
    ]
    connection.execute(insert(QueueJob), rows)


def queued(session: Session, kind: str) -> int:
    """How many jobs of `kind` wait to run."""
    count = session.scalar(
        select(func.count())
        .select_from(QueueJob)
        .where(QueueJob.kind == kind, QueueJob.status == "queued")
    )
    return int(count or 0)


def arm(session: Session, kind: str) -> bool:
    """Queue a periodic job of `kind` (one that re-enqueues itself) unless one is waiting.

    Idempotent; workers call it when they start. The first run is due at once.
    """
    if queued(session, kind):
        return False
    session.info[_ENQUEUED] = True
    session.execute(
        insert(QueueJob).values(
            kind=kind, payload="{}", status="queued", attempts=0, run_after=utcnow()
        )
    )
    return True


def enqueued_in(session: Session) -> bool:
    """Whether work done through `session` enqueued a job (an in-process worker is woken
    after such a commit, and only then: waking it for nothing costs it a claim)."""
    return bool(session.info.get(_ENQUEUED))


def run_now(
    session: Session, kind: str, payloads: Sequence[Mapping[str, Any]], run: BatchHandler
) -> bool:
    """Do a batch of `kind` jobs in the caller's transaction instead of queueing them.

    `run(session, payloads)` is what a worker would call for them (the kind's batch handler).
    It runs inside a savepoint, so what it writes commits with the caller's transaction,
    exactly once, or not at all. If it raises, the savepoint is rolled back, the caller's own
    writes stay, and the jobs are enqueued instead for a worker to retry with backoff: doing
    the work now never loses it. True if the work was done now.
    """
    if not payloads:
        return True
    try:
        with session.begin_nested():
            run(session, [dict(payload) for payload in payloads])
    except Exception as exc:
        logger.warning(
            "running %d %s job(s) at once failed (%s: %s); queued for a worker instead",
            len(payloads),
            kind,
            type(exc).__name__,
            exc,
            exc_info=True,
        )
        enqueue_many(session, kind, payloads)
        return False
    return True
