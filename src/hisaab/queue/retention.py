"""Keeping the queue table small: completed jobs are deleted once they are old enough.

Every callback enqueues a job, so at a thousand callbacks a second `queue_jobs` gains 86
million rows a day. A completed job has done its work (what it wrote is in the tables it
wrote to; the audit log holds what people did), so `queue.prune` deletes `done` jobs whose
last claim is older than HISAAB_QUEUE_RETENTION_DAYS (7 by default; 0 keeps them forever).
Failed, queued and running jobs are never touched: they still need a worker or a person.

The job re-arms itself like the real-time stuck check: at most PRUNE_CHUNK rows per run, so no
transaction grows with the backlog; again at once while a full chunk was deleted, otherwise
after HISAAB_QUEUE_PRUNE_INTERVAL_SECONDS (an hour by default).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hisaab.config import get_settings
from hisaab.queue.jobs import enqueue, handler, queued
from hisaab.storage.models import QueueJob, utcnow

PRUNE_JOB = "queue.prune"
PRUNE_CHUNK = 50_000


def prune_done(db: Session, *, older_than: dt.datetime, limit: int = PRUNE_CHUNK) -> int:
    """Delete up to `limit` done jobs last claimed before `older_than`; how many went."""
    old = (
        select(QueueJob.id)
        .where(QueueJob.status == "done", QueueJob.locked_at < older_than)
        .limit(limit)
        .scalar_subquery()
    )
    result = db.execute(
        delete(QueueJob).where(QueueJob.id.in_(old)).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@handler(PRUNE_JOB)
def prune(db: Session, payload: dict[str, Any]) -> None:
    """One chunk of pruning, then the next run: at once if there is more, else later."""
    settings = get_settings()
    interval = dt.timedelta(seconds=settings.queue_prune_interval_seconds)
    deleted = 0
    if settings.queue_retention_days > 0:
        cutoff = utcnow() - dt.timedelta(days=settings.queue_retention_days)
        deleted = prune_done(db, older_than=cutoff, limit=PRUNE_CHUNK)
    if queued(db, PRUNE_JOB) == 0:
        later = utcnow() if deleted >= PRUNE_CHUNK else utcnow() + interval
        enqueue(db, PRUNE_JOB, {}, run_after=later)
