"""The `recon.match` queue handler: reconcile a job's two files and store what the engine found.

    queued --(worker claims)--> running --> completed
                                        \\-> failed (error kept; the queue may retry)

Two transactions are involved, on purpose:

* the handler's own `session` (the worker's, per the contract in hisaab.queue.jobs) writes
  the results: previous results deleted, matches and exceptions bulk-loaded, the records fed
  to the Overview as payments and bank lines with its KPIs refreshed (hisaab.recon.feed), the
  summary and `completed` stored, the audit entry added. It commits once, with the queue
  row's `done`, so a job's results are always those of one whole run, and a retry replaces
  them.
* a short transaction of its own, on the same engine, commits status and progress as the run
  goes (and `failed` with the error when it raises), so readers see them at once. It runs
  only while the handler's session has written nothing, so on SQLite it never waits for the
  database lock and on PostgreSQL never for the job's row lock.

When an attempt raises, the error is committed with `failed` and the exception propagates:
the worker rolls back and may retry (the next attempt sets `running` again). A worker that
dies mid-run leaves `running` behind; readers then go by the queue row
(see hisaab.recon.jobs.effective_status).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from hisaab.audit import log as audit
from hisaab.config import Settings, get_settings
from hisaab.errors import HisaabError, InputError
from hisaab.matching.engine import RunInfo, reconcile
from hisaab.matching.rules import RuleSet, load_ruleset
from hisaab.queue.jobs import handler
from hisaab.recon import feed, findings, repository
from hisaab.recon import files as stored_files
from hisaab.recon.repository import MATCH_KIND
from hisaab.storage.models import ReconJobFile, utcnow
from hisaab.storage.sql import on_postgres

log = logging.getLogger("hisaab.recon")

MAX_ERROR_CHARS = 2_000
# Progress (percent) at each point of a run; the engine's stages share the span between.
_READ_PG, _READ_BANK, _ENGINE_DONE = 10, 25, 80


@handler(MATCH_KIND)
def run_match_job(session: Session, payload: dict[str, Any]) -> None:
    """Queue entry point: payload {"job_id": id}."""
    run_match(session, int(payload["job_id"]), settings=get_settings())


def run_match(
    session: Session, job_id: int, *, settings: Settings, ruleset: RuleSet | None = None
) -> None:
    """Reconcile the job's current files and write the results through `session`."""
    job = repository.get_job(session, job_id, scope=None)
    if job is None:
        log.warning("recon.match: job %s no longer exists; nothing to do", job_id)
        return
    progress = _Progress(session, job_id)
    progress.set(status="running", progress=1, started_at=utcnow(), finished_at=None, error=None)
    try:
        files = {row.side: row for row in repository.files_of(session, [job_id])}
        run = _reconcile(files, settings, ruleset, progress)
        _store(session, job_id, job.merchant_id, run, settings)
    except Exception as exc:
        progress.set(status="failed", error=_describe(exc), finished_at=utcnow())
        raise


@dataclass
class _Run:
    """What one run found, and the records it found it in (for the Overview's feed)."""

    matches: pa.Table
    exceptions: pa.Table
    summary: dict[str, Any]
    records: dict[str, feed.SideRecords]
    findings: pa.Table  # the statements' findings, as exception rows (hisaab.recon.findings)


def _reconcile(
    files: dict[str, ReconJobFile],
    settings: Settings,
    ruleset: RuleSet | None,
    progress: _Progress,
) -> _Run:
    for side in ("pg", "bank"):
        if side not in files:
            raise InputError(f"the job has no {side} file", expected="both sides uploaded")
    sides = {}
    for side, done in (("pg", _READ_PG), ("bank", _READ_BANK)):
        row = files[side]
        path = Path(settings.data_dir) / row.storage_path
        sides[side] = stored_files.read(path, row.filename, row.template, side)
        progress.set(progress=done)
    rules = ruleset or load_ruleset()
    info = RunInfo(
        ruleset_version=rules.version,
        ruleset_source=rules.source,
        threshold=rules.threshold,
        inputs={
            side: {
                "file": files[side].filename,
                "file_id": files[side].id,
                "sha256": nf.file_sha256,
                "template": nf.template,
                "records": nf.row_count,
                "notes": nf.notes,
                "findings": [f.as_dict() for f in nf.findings],
            }
            for side, nf in sides.items()
        },
    )
    found = findings.of_sides(sides)
    last_dates = {side: pc.max(nf.table["value_date"]).as_py() for side, nf in sides.items()}
    finding_rows = findings.job_rows(
        found,
        filenames={side: row.filename for side, row in files.items()},
        fallback_dates=last_dates,
    )
    span = _ENGINE_DONE - _READ_BANK

    def report(_stage: str, done: int, total: int) -> None:
        progress.set(progress=_READ_BANK + span * done // max(total, 1))

    result = reconcile(sides["pg"].table, sides["bank"].table, rules, info=info, progress=report)
    # The engine has let go of the inputs; so do we, but for the columns the feed stores.
    records = {side: feed.SideRecords.of(nf.table, nf.template) for side, nf in sides.items()}
    sides.clear()
    try:
        summary = result.summary()
        summary["findings"] = findings.summary_entries(found)
        return _Run(result.matches(), result.exceptions(), summary, records, finding_rows)
    finally:
        result.close()


def _store(
    session: Session, job_id: int, merchant_id: str | None, run: _Run, settings: Settings
) -> None:
    # Checked before the first write: a failure here leaves the progress transaction free
    # to record it (on SQLite a write would hold the database lock until the rollback).
    rows = feed.prepare(
        job_id,
        merchant_id=merchant_id,
        pg=run.records["pg"],
        bank=run.records["bank"],
        exceptions=run.exceptions,
    )
    finding_dates = frozenset(run.findings.column("value_date").to_pylist())
    rows = dataclasses.replace(rows, exception_dates=rows.exception_dates | finding_dates)
    now = utcnow()
    previous = feed.dates_of(session, job_id)
    repository.delete_results(session, job_id)
    n_matches = repository.load_matches(session, job_id, run.matches)
    due = now + dt.timedelta(hours=settings.exception_sla_hours)
    n_exceptions = repository.load_exceptions(
        session, job_id, run.exceptions, created_at=now, sla_due_at=due
    )
    n_exceptions += repository.load_exceptions(
        session, job_id, run.findings, created_at=now, sla_due_at=due
    )
    # Before the audit entry: the KPI refresh's lock comes first in every transaction.
    fed = feed.store(session, rows, previous=previous)
    summary = run.summary
    version = str(summary["ruleset"]["version"])
    repository.set_job(
        session,
        job_id,
        status="completed",
        progress=100,
        summary=json.dumps(summary, default=str),
        ruleset_version=version[:64],
        error=None,
        finished_at=utcnow(),
    )
    audit.record(
        session,
        actor_id=None,
        action="match_completed",
        entity="reconciliation_job",
        entity_id=job_id,
        details={
            "matches": n_matches,
            "exceptions": n_exceptions,
            "ruleset_version": version,
            "payments": fed.payments,
            "bank_lines": fed.bank_lines,
        },
    )


class _Progress:
    """Commits a job's status and progress in short transactions beside the handler's own.

    Best effort: progress is for people watching, so if it cannot be written (the database
    is locked by someone else for longer than a moment) the run goes on without it.
    """

    def __init__(self, session: Session, job_id: int) -> None:
        self._sessions = sessionmaker(bind=session.get_bind().engine)
        self._job_id = job_id
        self._enabled = True

    def set(self, **values: Any) -> None:
        if not self._enabled and "status" not in values:
            return
        try:
            with self._sessions.begin() as session:
                if on_postgres(session):
                    session.execute(text("SET LOCAL lock_timeout = '2s'"))
                repository.set_job(session, self._job_id, **values)
        except SQLAlchemyError as exc:
            self._enabled = False
            log.warning("recon.match: job %s: progress not recorded: %s", self._job_id, exc)


def _describe(exc: Exception) -> str:
    text_ = exc.describe() if isinstance(exc, HisaabError) else f"{type(exc).__name__}: {exc}"
    return text_[:MAX_ERROR_CHARS]
