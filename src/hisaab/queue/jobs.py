"""Enqueueing background work, and the registry of what each kind of job does.

A job is a row written in the caller's transaction, so it exists exactly when the change that
caused it commits: nothing is pushed anywhere after the commit, and a crash in between loses
nothing. Workers (hisaab.queue.worker) claim, run and complete jobs.

A handler is `handler(session, payload)`: it runs in the transaction that marks its job done,
so what it writes through `session` commits exactly once with that mark.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from hisaab.storage.models import QueueJob, utcnow

Handler = Callable[[Session, dict[str, Any]], None]
BatchHandler = Callable[[Session, list[dict[str, Any]]], None]
HANDLERS: dict[str, Handler] = {}
# Kinds whose jobs may run many to a transaction (small, frequent jobs such as reconciling one
# payment session): the worker claims them in batches and falls back to one at a time if a
# batch fails, so one bad job never holds back the others.
BATCH_HANDLERS: dict[str, BatchHandler] = {}
# Modules that register handlers when imported; a worker imports them all before it starts.
HANDLER_MODULES = ("hisaab.recon.match_job", "hisaab.realtime.jobs")


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
    job_id = session.connection().execute(_INSERT, values).scalar_one()
    return Enqueued(int(job_id), kind, at)


_INSERT = insert(QueueJob).returning(QueueJob.id)


def enqueue_many(session: Session, kind: str, payloads: Sequence[Mapping[str, Any]]) -> None:
    """Add many jobs of one kind in the caller's transaction, with one statement."""
    if not payloads:
        return
    now = utcnow()
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
    session.connection().execute(insert(QueueJob), rows)
