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
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from hisaab.storage.models import QueueJob, utcnow

Handler = Callable[[Session, dict[str, Any]], None]
HANDLERS: dict[str, Handler] = {}
# Modules that register handlers when imported; a worker imports them all before it starts.
HANDLER_MODULES = ("hisaab.recon.match_job",)


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of `kind`."""

    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def enqueue(
    session: Session,
    kind: str,
    payload: Mapping[str, Any],
    *,
    run_after: dt.datetime | None = None,
) -> QueueJob:
    """Add a job in the caller's transaction; it becomes visible to workers when that commits."""
    job = QueueJob(
        kind=kind,
        payload=json.dumps(dict(payload), sort_keys=True, default=str),
        run_after=run_after or utcnow(),
    )
    session.add(job)
    session.flush()
    return job
