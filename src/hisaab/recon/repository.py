"""Every query of reconciliation jobs: jobs, their files, their results, and bulk loading them.

Visibility is part of the query: `scope` is the merchant a caller is bound to (None for
platform users), so a merchant never gets a row it may not see, not even to be refused.

Results are loaded in bulk inside the caller's transaction (`hisaab.storage.bulk`): never
ORM objects row by row.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlalchemy import ColumnElement, Select, delete, exists, func, select, update
from sqlalchemy.orm import Session

from hisaab.storage.bulk import bulk_load
from hisaab.storage.models import (
    ExceptionAction,
    Merchant,
    QueueJob,
    ReconciliationException,
    ReconciliationJob,
    ReconJobFile,
    ReconMatch,
)

MATCH_KIND = "recon.match"

# The engine's columns that are stored, in the order of the COPY column lists below.
MATCH_COLUMNS = (
    "match_id",
    "match_type",
    "stage",
    "confidence",
    "status",
    "pg_record_id",
    "bank_record_id",
    "pg_amount_minor",
    "bank_amount_minor",
    "currency",
    "pg_source_line",
    "bank_source_line",
    "amount_delta_minor",
)
EXCEPTION_COLUMNS = (
    "category",
    "side",
    "record_id",
    "source_line",
    "amount_minor",
    "currency",
    "value_date",
    "utr",
    "details",
)


# --- jobs --------------------------------------------------------------------------------


def _visible(query: Select[Any], scope: str | None) -> Select[Any]:
    return query if scope is None else query.where(ReconciliationJob.merchant_id == scope)


def get_job(
    session: Session, job_id: int, *, scope: str | None, for_update: bool = False
) -> ReconciliationJob | None:
    """The job if it exists and `scope` may see it; `for_update` locks it (PostgreSQL).

    A locked read refreshes the object even when the session holds it already: what another
    transaction committed while this one waited for the lock must be seen.
    """
    query = _visible(select(ReconciliationJob).where(ReconciliationJob.id == job_id), scope)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def list_jobs(
    session: Session, *, scope: str | None, offset: int, limit: int
) -> tuple[list[ReconciliationJob], int]:
    """A page of jobs, newest first, and how many there are in all."""
    total = session.scalar(_visible(select(func.count(ReconciliationJob.id)), scope)) or 0
    page = session.scalars(
        _visible(select(ReconciliationJob), scope)
        .order_by(ReconciliationJob.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(page), total


def merchant_exists(session: Session, merchant_id: str) -> bool:
    return session.get(Merchant, merchant_id) is not None


def set_job(session: Session, job_id: int, **values: Any) -> None:
    """Update columns of one job with an explicit UPDATE (no stale ORM state involved)."""
    session.execute(
        update(ReconciliationJob).where(ReconciliationJob.id == job_id).values(**values)
    )


def latest_match_runs(session: Session, job_ids: Sequence[int]) -> dict[int, QueueJob]:
    """The newest `recon.match` queue row of each job, where there is one.

    Queue payloads are JSON text written by `enqueue` (sorted keys, default separators); the
    same serialisation of {"job_id": id} finds them without parsing every payload.
    """
    if not job_ids:
        return {}
    by_payload = {match_payload_text(job_id): job_id for job_id in job_ids}
    rows = session.scalars(
        select(QueueJob)
        .where(QueueJob.kind == MATCH_KIND, QueueJob.payload.in_(list(by_payload)))
        .order_by(QueueJob.id)
    ).all()
    return {by_payload[row.payload]: row for row in rows}  # later rows overwrite earlier


def match_payload_text(job_id: int) -> str:
    return json.dumps({"job_id": job_id}, sort_keys=True, default=str)


# --- files -------------------------------------------------------------------------------


def files_of(session: Session, job_ids: Sequence[int]) -> list[ReconJobFile]:
    if not job_ids:
        return []
    query = select(ReconJobFile).where(ReconJobFile.job_id.in_(job_ids))
    return list(session.scalars(query.order_by(ReconJobFile.id)).all())


def current_file(session: Session, job_id: int, side: str) -> ReconJobFile | None:
    query = select(ReconJobFile).where(ReconJobFile.job_id == job_id, ReconJobFile.side == side)
    return session.scalars(query.order_by(ReconJobFile.id.desc())).first()


def file_with_hash(session: Session, job_id: int, side: str, sha256: str) -> ReconJobFile | None:
    query = select(ReconJobFile).where(
        ReconJobFile.job_id == job_id, ReconJobFile.side == side, ReconJobFile.sha256 == sha256
    )
    return session.scalars(query).first()


def add_file(session: Session, **values: Any) -> ReconJobFile:
    row = ReconJobFile(**values)
    session.add(row)
    session.flush()
    return row


def delete_file(session: Session, row: ReconJobFile) -> None:
    session.delete(row)
    session.flush()


# --- results -----------------------------------------------------------------------------


def has_worked_exceptions(session: Session, job_id: int) -> bool:
    """Has anyone acted on an exception of this job (so re-matching would erase history)?"""
    acted = (
        select(ExceptionAction.id)
        .join(ReconciliationException, ReconciliationException.id == ExceptionAction.exception_id)
        .where(ReconciliationException.job_id == job_id)
    )
    return bool(session.scalar(select(exists(acted))))


def delete_results(session: Session, job_id: int) -> None:
    session.execute(delete(ReconMatch).where(ReconMatch.job_id == job_id))
    session.execute(delete(ReconciliationException).where(ReconciliationException.job_id == job_id))


def load_matches(session: Session, job_id: int, matches: pa.Table) -> int:
    """Bulk-load the engine's match rows for `job_id`; returns how many were loaded."""
    table = matches.select(list(MATCH_COLUMNS))
    return bulk_load(session, ReconMatch.__table__, table, {"job_id": job_id})  # type: ignore[arg-type]


def load_exceptions(
    session: Session,
    job_id: int,
    exceptions: pa.Table,
    *,
    created_at: dt.datetime,
    sla_due_at: dt.datetime,
) -> int:
    """Bulk-load the engine's exception rows, each open and due at `sla_due_at`."""
    table = exceptions.select(list(EXCEPTION_COLUMNS))
    constants = {
        "job_id": job_id,
        "status": "open",
        "created_at": created_at,
        "sla_due_at": sla_due_at,
    }
    return bulk_load(session, ReconciliationException.__table__, table, constants)  # type: ignore[arg-type]


def count_results(session: Session, job_id: int) -> tuple[int, int]:
    """(matches, exceptions) stored for the job."""
    n_matches = session.scalar(select(func.count()).where(ReconMatch.job_id == job_id)) or 0
    n_exceptions = (
        session.scalar(select(func.count()).where(ReconciliationException.job_id == job_id)) or 0
    )
    return n_matches, n_exceptions


@dataclass(frozen=True)
class ExceptionFilter:
    """Which exceptions of a job to show; every field left None does not filter."""

    category: str | None = None
    status: str | None = None
    min_amount_minor: int | None = None
    max_amount_minor: int | None = None
    created_before: dt.datetime | None = None  # `older_than_hours`, made absolute

    def conditions(self, job_id: int) -> list[ColumnElement[bool]]:
        exc = ReconciliationException
        out: list[ColumnElement[bool]] = [exc.job_id == job_id]
        if self.category is not None:
            out.append(exc.category == self.category)
        if self.status is not None:
            out.append(exc.status == self.status)
        if self.min_amount_minor is not None:
            out.append(exc.amount_minor >= self.min_amount_minor)
        if self.max_amount_minor is not None:
            out.append(exc.amount_minor <= self.max_amount_minor)
        if self.created_before is not None:
            out.append(exc.created_at <= self.created_before)
        return out


def matches_page(
    session: Session, job_id: int, *, offset: int, limit: int, after: int | None = None
) -> tuple[list[ReconMatch], int]:
    """A page of the job's matches in id order, and how many there are in all: from `offset`,
    or, with `after`, those whose id is greater (keyset: as fast at the millionth row as at
    the first, where OFFSET reads and skips every row before its page)."""
    total = session.scalar(select(func.count()).where(ReconMatch.job_id == job_id)) or 0
    query = select(ReconMatch).where(ReconMatch.job_id == job_id)
    rows = session.scalars(_page(query, ReconMatch.id, offset, limit, after)).all()
    return list(rows), total


def exceptions_page(
    session: Session,
    job_id: int,
    where: ExceptionFilter,
    *,
    offset: int,
    limit: int,
    after: int | None = None,
) -> tuple[list[ReconciliationException], int]:
    """A page of the job's exceptions that pass `where` (see `matches_page`)."""
    conditions = where.conditions(job_id)
    total = session.scalar(select(func.count(ReconciliationException.id)).where(*conditions))
    query = select(ReconciliationException).where(*conditions)
    rows = session.scalars(_page(query, ReconciliationException.id, offset, limit, after)).all()
    return list(rows), total or 0


def _page(query: Any, key: Any, offset: int, limit: int, after: int | None) -> Any:
    if after is not None:
        return query.where(key > after).order_by(key).limit(limit)
    return query.order_by(key).offset(offset).limit(limit)


def iter_matches(session: Session, job_id: int, *, batch: int = 5_000) -> Iterator[ReconMatch]:
    """Every match of the job in id order, fetched a batch at a time (keyset, not OFFSET)."""
    after = 0
    while True:
        rows = session.scalars(
            select(ReconMatch)
            .where(ReconMatch.job_id == job_id, ReconMatch.id > after)
            .order_by(ReconMatch.id)
            .limit(batch)
        ).all()
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].id


def iter_exceptions(
    session: Session, job_id: int, where: ExceptionFilter, *, batch: int = 5_000
) -> Iterator[ReconciliationException]:
    after = 0
    conditions = where.conditions(job_id)
    while True:
        rows = session.scalars(
            select(ReconciliationException)
            .where(*conditions, ReconciliationException.id > after)
            .order_by(ReconciliationException.id)
            .limit(batch)
        ).all()
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].id
