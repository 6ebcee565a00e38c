"""Reconciliation jobs as a service: create, upload both sides, request matching, read results.

The same functions serve the API, the CLI and tests; none commits (the caller's boundary
does) and none imports a web framework. Who may see a job is decided here: a caller bound to
a merchant sees only that merchant's jobs, and anything else is `NotFound`, exactly as if it
did not exist.

A job keeps one current file per side: uploading a side again replaces the previous file
(its row now, its bytes once the transaction commits). A file's SHA-256 is kept, so the same
bytes uploaded again are recognised without being parsed or stored twice (hisaab.recon.files
keeps the bytes; hisaab.recon.export streams results as CSV).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar

from sqlalchemy.orm import Session

from hisaab.audit import log as audit
from hisaab.auth.roles import MERCHANT_DASHBOARD, OVERVIEW_READ, RECONCILIATION_WRITE
from hisaab.auth.tokens import Claims
from hisaab.errors import Conflict, Forbidden, FormatError, InputError, NotFound
from hisaab.queue.jobs import enqueue
from hisaab.recon import files, repository
from hisaab.recon.repository import MATCH_KIND, ExceptionFilter
from hisaab.storage.models import (
    EXCEPTION_CATEGORIES,
    EXCEPTION_STATUSES,
    QueueJob,
    ReconciliationException,
    ReconciliationJob,
    ReconJobFile,
    ReconMatch,
    utcnow,
)

T = TypeVar("T")
SIDES = ("pg", "bank")
# Any one of these lets a caller read jobs; a caller bound to a merchant reads only its own.
READ_PERMISSIONS = frozenset({RECONCILIATION_WRITE, OVERVIEW_READ, MERCHANT_DASHBOARD})
_IN_FLIGHT = ("queued", "running")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int | None  # None for a page read after a key (keyset), which has no number
    page_size: int


@dataclass(frozen=True)
class JobView:
    """A job as a reader sees it: its status reconciled with its queue row, and its files."""

    job: ReconciliationJob
    status: str
    error: str | None
    files: list[ReconJobFile]

    @property
    def summary(self) -> dict[str, Any] | None:
        return None if self.job.summary is None else dict(json.loads(self.job.summary))


@dataclass(frozen=True)
class UploadResult:
    file: ReconJobFile
    duplicate: bool


@dataclass(frozen=True)
class ExceptionView:
    row: ReconciliationException
    details: dict[str, Any]
    age_hours: float


def scope_of(claims: Claims) -> str | None:
    """The merchant a caller is confined to, or None for platform users."""
    return claims.merchant_id


# --- jobs --------------------------------------------------------------------------------


def create_job(
    session: Session, claims: Claims, *, name: str, merchant_id: str | None = None
) -> JobView:
    scope = scope_of(claims)
    if scope is not None and merchant_id not in (None, scope):
        raise Forbidden("a merchant user can only create jobs for its own merchant")
    merchant_id = merchant_id or scope
    if merchant_id is not None and not repository.merchant_exists(session, merchant_id):
        raise InputError(f"unknown merchant {merchant_id!r}", column="merchant_id")
    job = ReconciliationJob(name=name, merchant_id=merchant_id, created_by=claims.user_id)
    session.add(job)
    session.flush()
    audit.record(
        session,
        actor_id=claims.user_id,
        action="create",
        entity="reconciliation_job",
        entity_id=job.id,
        details={"name": name, "merchant_id": merchant_id},
    )
    return JobView(job, job.status, job.error, [])


def list_jobs(session: Session, claims: Claims, *, page: int, page_size: int) -> Page[JobView]:
    offset = (page - 1) * page_size
    jobs, total = repository.list_jobs(
        session, scope=scope_of(claims), offset=offset, limit=page_size
    )
    return Page(_views(session, jobs, with_files=False), total, page, page_size)


def get_job_for(session: Session, claims: Claims, job_id: int) -> JobView:
    """The job with its files, if the caller may see it; else NotFound."""
    return _views(session, [visible_job(session, claims, job_id)], with_files=True)[0]


def visible_job(
    session: Session, claims: Claims, job_id: int, *, for_update: bool = False
) -> ReconciliationJob:
    job = repository.get_job(session, job_id, scope=scope_of(claims), for_update=for_update)
    if job is None:
        raise NotFound(f"no reconciliation job {job_id}")
    return job


def _views(session: Session, jobs: list[ReconciliationJob], *, with_files: bool) -> list[JobView]:
    ids = [job.id for job in jobs]
    in_flight = [job.id for job in jobs if job.status not in ("created", "completed")]
    runs = repository.latest_match_runs(session, in_flight)
    by_job: dict[int, list[ReconJobFile]] = {job_id: [] for job_id in ids}
    for row in repository.files_of(session, ids) if with_files else []:
        by_job[row.job_id].append(row)
    return [JobView(job, *effective_status(job, runs.get(job.id)), by_job[job.id]) for job in jobs]


def effective_status(job: ReconciliationJob, run: QueueJob | None) -> tuple[str, str | None]:
    """(status, error) of a job, with its queue row deciding the in-between states.

    The handler commits `running`, `completed` and (from its error path) `failed` itself, but a
    worker that dies mid-run cannot; the queue row then tells: a retry waiting (`queued`),
    an attempt under way (`running`), or the queue having given up (`failed`, with its error).
    """
    if run is None or job.status in ("created", "completed") or run.status == "done":
        return job.status, job.error
    if run.status == "failed":
        return "failed", job.error or run.last_error
    return run.status, job.error


def _check_editable(view_status: str, job_id: int) -> None:
    if view_status in _IN_FLIGHT:
        raise Conflict(f"job {job_id} is {view_status}; wait until it has finished")


def _status_now(session: Session, job: ReconciliationJob) -> str:
    return _views(session, [job], with_files=False)[0].status


# --- files -------------------------------------------------------------------------------


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise InputError(f"unknown side {side!r}", column="side", expected="pg or bank")


def store_upload(
    session: Session,
    claims: Claims,
    job_id: int,
    *,
    side: str,
    stream: BinaryIO,
    filename: str,
    data_dir: Path,
    template: str | None = None,
) -> UploadResult:
    """Store one side's file, validated by reading it; the same bytes again are a duplicate.

    The bytes are streamed to a temporary name in the job's directory, hashed on the way,
    and renamed into place only once they parsed. A file that does not parse is an
    InputError naming its line and column, and leaves neither a row nor a file behind.
    """
    _check_side(side)
    files.check_template(template)
    job = visible_job(session, claims, job_id)
    _check_editable(_status_now(session, job), job_id)
    name, suffix = files.client_name(filename)
    directory = files.job_dir(data_dir, job_id)
    directory.mkdir(parents=True, exist_ok=True)
    temp = directory / f".upload-{uuid.uuid4().hex}{suffix}"
    stored: Path | None = None
    try:
        digest, size = files.receive(stream, temp)
        existing = repository.file_with_hash(session, job_id, side, digest)
        if existing is not None:
            temp.unlink()
            return UploadResult(existing, duplicate=True)
        if size == 0:
            raise FormatError("the file is empty", file=name, expected="a header row and records")
        parsed = files.parse(temp, name, template, side)
        job = visible_job(session, claims, job_id, for_update=True)
        _check_editable(_status_now(session, job), job_id)
        existing = repository.file_with_hash(session, job_id, side, digest)
        if existing is not None:  # the same bytes arrived meanwhile
            temp.unlink()
            return UploadResult(existing, duplicate=True)
        # A name of its own per upload: a failure can never remove another upload's file.
        stored = directory / f"{side}-{digest[:16]}-{uuid.uuid4().hex[:8]}{suffix}"
        temp.replace(stored)
        previous = repository.current_file(session, job_id, side)
        if previous is not None:
            repository.delete_file(session, previous)
        row = repository.add_file(
            session,
            job_id=job_id,
            side=side,
            filename=name,
            sha256=digest,
            size_bytes=size,
            template=parsed[0],
            row_count=parsed[1],
            storage_path=stored.relative_to(Path(data_dir)).as_posix(),
            uploaded_by=claims.user_id,
        )
        old = None if previous is None else Path(data_dir) / previous.storage_path
        files.settle_with(session, on_commit=old, on_rollback=stored)
        audit.record(
            session,
            actor_id=claims.user_id,
            action="upload",
            entity="reconciliation_job",
            entity_id=job_id,
            details={
                "side": side,
                "file_id": row.id,
                "filename": name,
                "sha256": digest,
                "rows": row.row_count,
                "template": row.template,
                "replaced_file_id": None if previous is None else previous.id,
            },
        )
        return UploadResult(row, duplicate=False)
    except BaseException:
        for path in (temp, stored):
            if path is not None:
                path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            directory.rmdir()  # only when empty: a first upload that failed leaves no trace
        raise


def renormalize(
    session: Session, claims: Claims, job_id: int, *, side: str, template: str, data_dir: Path
) -> ReconJobFile:
    """Read a side's current file again with a named template (say, when detection erred)."""
    _check_side(side)
    files.check_template(template)
    job = visible_job(session, claims, job_id, for_update=True)
    _check_editable(_status_now(session, job), job_id)
    row = repository.current_file(session, job_id, side)
    if row is None:
        raise Conflict(f"job {job_id} has no {side} file yet; upload one first")
    template_used, rows = files.parse(
        Path(data_dir) / row.storage_path, row.filename, template, side
    )
    row.template, row.row_count = template_used, rows
    session.flush()
    audit.record(
        session,
        actor_id=claims.user_id,
        action="normalize",
        entity="reconciliation_job",
        entity_id=job_id,
        details={"side": side, "file_id": row.id, "template": template_used, "rows": rows},
    )
    return row


# --- matching ----------------------------------------------------------------------------


def request_match(session: Session, claims: Claims, job_id: int) -> JobView:
    """Queue the matching of both sides: the queue row commits with the job's `queued`."""
    job = visible_job(session, claims, job_id, for_update=True)
    _check_editable(_status_now(session, job), job_id)
    sides = {row.side for row in repository.files_of(session, [job_id])}
    missing = [side for side in SIDES if side not in sides]
    if missing:
        raise Conflict(
            f"job {job_id} needs both a pg and a bank file before matching;"
            f" missing: {', '.join(missing)}"
        )
    if repository.has_worked_exceptions(session, job_id):
        raise Conflict(
            f"exceptions of job {job_id} are being worked on; matching again would discard"
            " their history"
        )
    job.status, job.progress, job.error = "queued", 0, None
    job.started_at = job.finished_at = None
    session.flush()
    queued = enqueue(session, MATCH_KIND, {"job_id": job_id})
    audit.record(
        session,
        actor_id=claims.user_id,
        action="match_requested",
        entity="reconciliation_job",
        entity_id=job_id,
        details={"queue_job_id": queued.id},
    )
    return get_job_for(session, claims, job_id)


# --- results -----------------------------------------------------------------------------


def list_matches(
    session: Session,
    claims: Claims,
    job_id: int,
    *,
    page: int | None,
    page_size: int,
    after: int | None = None,
) -> Page[ReconMatch]:
    """A numbered page of the job's matches, or (`after`, a match id) the page after that one."""
    number = _page_number(page, after)
    visible_job(session, claims, job_id)
    rows, total = repository.matches_page(
        session, job_id, offset=((number or 1) - 1) * page_size, limit=page_size, after=after
    )
    return Page(rows, total, number, page_size)


def _page_number(page: int | None, after: int | None) -> int | None:
    """The page number asked for: 1 by default, none when reading after a key."""
    if after is None:
        return page or 1
    if page is not None:
        raise InputError(
            "give page or after, not both",
            column="after",
            expected="after=<the last id of the previous page> alone, or page=<number>",
        )
    return None


def exception_filter(
    *,
    category: str | None = None,
    status: str | None = None,
    min_amount_minor: int | None = None,
    max_amount_minor: int | None = None,
    older_than_hours: float | None = None,
) -> ExceptionFilter:
    if category is not None and category not in EXCEPTION_CATEGORIES:
        raise InputError(
            f"unknown category {category!r}",
            column="category",
            expected="one of " + ", ".join(EXCEPTION_CATEGORIES),
        )
    if status is not None and status not in EXCEPTION_STATUSES:
        raise InputError(
            f"unknown status {status!r}",
            column="status",
            expected="one of " + ", ".join(EXCEPTION_STATUSES),
        )
    before = None
    if older_than_hours is not None:
        before = utcnow() - dt.timedelta(hours=older_than_hours)
    return ExceptionFilter(category, status, min_amount_minor, max_amount_minor, before)


def list_exceptions(
    session: Session,
    claims: Claims,
    job_id: int,
    where: ExceptionFilter,
    *,
    page: int | None,
    page_size: int,
    after: int | None = None,
) -> Page[ExceptionView]:
    """A numbered page of the exceptions that pass `where`, or the page after exception `after`."""
    number = _page_number(page, after)
    visible_job(session, claims, job_id)
    rows, total = repository.exceptions_page(
        session,
        job_id,
        where,
        offset=((number or 1) - 1) * page_size,
        limit=page_size,
        after=after,
    )
    now = utcnow()
    return Page([_exception_view(row, now) for row in rows], total, number, page_size)


def _exception_view(row: ReconciliationException, now: dt.datetime) -> ExceptionView:
    age = round((now - row.created_at).total_seconds() / 3600, 2)
    return ExceptionView(row, dict(json.loads(row.details)), age)
