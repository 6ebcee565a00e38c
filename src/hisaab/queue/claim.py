"""Taking one due job off the queue, atomically, so that no two workers ever hold the same job.

A job is due when it is `queued` and its `run_after` has passed, or when it is `running` but
its lock is older than the visibility timeout: the worker that took it died (SIGKILL, lost
host) or overran, and the job comes back. Claiming sets `running`, `locked_by`, `locked_at`
and counts the attempt, then commits, so the claim survives whatever happens to the worker.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED LIMIT n` then `UPDATE ... WHERE id = ANY(:ids)`,
in one transaction; concurrent claimers skip each other's rows instead of waiting on them.
SQLite: one `UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING ...` statement; SQLite runs
one writer at a time (make_engine sets WAL and a busy timeout), so the statement is atomic.
On both, the same transaction first fails abandoned jobs that have used all their attempts
(unless the caller asks not to sweep this time).

Times are the worker's clock in UTC, so the hosts of a deployment need synchronised clocks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, update
from sqlalchemy.orm import Session

from hisaab.storage.models import QueueJob, utcnow
from hisaab.storage.sql import on_postgres, one_of

SessionFactory = Callable[[], Session]
JOBS = QueueJob.__table__

DEFAULT_VISIBILITY_TIMEOUT = dt.timedelta(minutes=15)
DEFAULT_MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds: `attempts` already counts the current attempt."""

    id: int
    kind: str
    payload: str  # the JSON text as stored; the runner parses it
    attempts: int
    worker_id: str
    locked_at: dt.datetime


def claim(
    session_factory: SessionFactory,
    worker_id: str,
    *,
    visibility_timeout: dt.timedelta = DEFAULT_VISIBILITY_TIMEOUT,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    now: dt.datetime | None = None,
    kinds: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    sweep: bool = True,
) -> ClaimedJob | None:
    """Take the next due job for `worker_id` and commit the claim; None when nothing is due.

    An abandoned job that has already used `max_attempts` is failed instead of claimed again,
    so a job that kills every worker that runs it stops coming back. `kinds` limits the claim
    to jobs of those kinds; `exclude` leaves jobs of those kinds alone.
    """
    jobs = claim_many(
        session_factory,
        worker_id,
        limit=1,
        visibility_timeout=visibility_timeout,
        max_attempts=max_attempts,
        now=now,
        kinds=kinds,
        exclude=exclude,
        sweep=sweep,
    )
    return jobs[0] if jobs else None


def claim_many(
    session_factory: SessionFactory,
    worker_id: str,
    *,
    limit: int,
    visibility_timeout: dt.timedelta = DEFAULT_VISIBILITY_TIMEOUT,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    now: dt.datetime | None = None,
    kinds: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    sweep: bool = True,
) -> list[ClaimedJob]:
    """Take up to `limit` due jobs, oldest first, in one committed claim (see `claim`).

    `sweep=False` skips failing abandoned jobs that have used every attempt: a worker that
    claims many times a second sweeps once per poll interval, not on every claim.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    at = now or utcnow()
    stale_before = at - visibility_timeout
    due = or_(
        and_(QueueJob.status == "queued", QueueJob.run_after <= at),
        and_(
            QueueJob.status == "running",
            QueueJob.locked_at < stale_before,
            QueueJob.attempts < max_attempts,
        ),
    )
    if kinds is not None:
        due = and_(QueueJob.kind.in_(list(kinds)), due)
    if exclude:
        due = and_(QueueJob.kind.not_in(list(exclude)), due)
    with session_factory() as session, session.begin():
        if sweep:
            _fail_exhausted(session, stale_before, max_attempts)
        pick = select(QueueJob.id).where(due).order_by(QueueJob.run_after, QueueJob.id)
        if on_postgres(session):
            # The ids first, then the UPDATE by primary key: as one statement (id IN (SELECT
            # ...)), PostgreSQL plans a hash semi-join over the whole table, which grows.
            ids = list(session.scalars(pick.limit(limit).with_for_update(skip_locked=True)))
            if not ids:
                return []
            chosen = one_of(JOBS.c.id, ids, session)
        else:
            # One UPDATE ... WHERE id IN (SELECT ...) statement: SQLite's single writer makes it
            # atomic, so no two workers can pick the same rows.
            chosen = QueueJob.id.in_(pick.limit(limit).scalar_subquery())
        statement = (
            update(QueueJob)
            .where(chosen)
            .values(_claim_values(worker_id, at))
            .returning(QueueJob.id, QueueJob.kind, QueueJob.payload, QueueJob.attempts)
            .execution_options(synchronize_session=False)
        )
        rows = sorted(session.execute(statement).all(), key=lambda r: r.id)
    return [ClaimedJob(r.id, r.kind, r.payload, r.attempts, worker_id, at) for r in rows]


def anything_due(session_factory: SessionFactory, *, kinds: Sequence[str] | None = None) -> bool:
    """A cheap read-only look for queued due work, so idle pollers don't take write locks."""
    query = select(QueueJob.id).where(QueueJob.status == "queued", QueueJob.run_after <= utcnow())
    if kinds is not None:
        query = query.where(QueueJob.kind.in_(list(kinds)))
    with session_factory() as session:
        return session.scalar(query.limit(1)) is not None


def _claim_values(worker_id: str, at: dt.datetime) -> dict[str, object]:
    abandoned = _abandoned_by(" (no completion within the visibility timeout)")
    return {
        "status": "running",
        "locked_by": worker_id,
        "locked_at": at,
        "attempts": QueueJob.attempts + 1,
        # SET sees the row as it was: a job taken back from a lost worker says whose it was.
        "last_error": case((QueueJob.status == "running", abandoned), else_=QueueJob.last_error),
    }


def _fail_exhausted(session: Session, stale_before: dt.datetime, max_attempts: int) -> None:
    exhausted = (
        select(QueueJob.id)
        .where(
            QueueJob.status == "running",
            QueueJob.locked_at < stale_before,
            QueueJob.attempts >= max_attempts,
        )
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
    )
    session.execute(
        update(QueueJob)
        .where(QueueJob.id.in_(exhausted))
        .values(
            status="failed",
            last_error=_abandoned_by(f" on its last attempt (of {max_attempts}); not retried"),
        )
        .execution_options(synchronize_session=False)
    )


def _abandoned_by(reason: str) -> ColumnElement[str]:
    """'abandoned by <the worker that held the lock><reason>', from the row being updated."""
    return (
        literal("abandoned by ")
        + func.coalesce(QueueJob.locked_by, "an unknown worker")
        + literal(reason)
    )
