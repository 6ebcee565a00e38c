"""A worker SIGKILLed in the middle of a reconciliation loses nothing and doubles nothing.

The day: 30,000 UPI payments in a PG export against the bank's statement (the simulator's,
with its faults), so a match takes a second or so, long enough to kill it mid-run. Two jobs
of that day are each claimed by a real `hisaab worker` process; the test watches the job's
row in the database and SIGKILLs the worker at one of two points:

* while matching: the job is `running` and its progress is between the files being read
  (25 %) and the engine being done (80 %), so no result has been written yet;
* while writing its results: the engine is done (80 %) and the worker's own transaction is
  writing (on PostgreSQL: has written the matches and moved on to the next table; on
  SQLite: holds the write lock), so results sit in an open transaction when the process dies.

Then: nothing of either run is visible (every table as before, but for the jobs' and the
queue's claim and progress columns), a new worker started with a short visibility
timeout takes both jobs over once their locks have aged, and each completes exactly once,
with exactly the results, the audit entry and the rows of an uninterrupted reference run of
the same files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, MetaData, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from hisaab.audit.log import verify
from hisaab.auth import passwords
from hisaab.auth.tokens import Claims
from hisaab.auth.users import create_user
from hisaab.config import Settings
from hisaab.queue.claim import claim
from hisaab.queue.worker import Outcome, run_one
from hisaab.recon import jobs as service
from hisaab.recon.match_job import run_match
from hisaab.recon.repository import MATCH_KIND, latest_match_runs
from hisaab.sandbox.model import SimulationConfig
from hisaab.sandbox.simulate import simulate
from hisaab.storage.engine import make_engine
from hisaab.storage.migrate import upgrade
from hisaab.storage.models import (
    AuditEntry,
    QueueJob,
    ReconciliationException,
    ReconciliationJob,
    ReconMatch,
    utcnow,
)

PAYMENTS = 30_000
VISIBILITY_TIMEOUT = 0.5  # seconds; the second worker's, so the test need not wait 15 minutes
# What a run may leave behind although it was killed: its claim on the queue row, and the
# status and progress the handler commits beside its own transaction for people watching.
CLAIM_AND_PROGRESS = {
    "queue_jobs": {"status", "locked_by", "locked_at", "attempts", "last_error"},
    "reconciliation_jobs": {"status", "progress", "started_at", "finished_at", "error"},
}
# Columns that differ between two runs of the same files as different jobs.
RUN_SPECIFIC = {"id", "job_id", "created_at", "sla_due_at"}


@pytest.fixture(scope="module")
def statements(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PG export and bank statement of a busy day (made once for both databases)."""
    out = tmp_path_factory.mktemp("busy-day")
    simulate(SimulationConfig(rows=PAYMENTS, seed=23, bank_format="canonical"), out)
    return out


@dataclass
class Books:
    engine: Engine
    sessions: sessionmaker[Session]
    settings: Settings
    ops: Claims
    statements: Path

    def job(self, name: str) -> int:
        """A job with the day's two files uploaded and matching requested."""
        with self.sessions.begin() as session:
            job_id = service.create_job(session, self.ops, name=name).job.id
            for side in ("pg", "bank"):
                path = self.statements / f"{side}.csv"
                with path.open("rb") as stream:
                    service.store_upload(
                        session,
                        self.ops,
                        job_id,
                        side=side,
                        stream=stream,
                        filename=path.name,
                        data_dir=Path(self.settings.data_dir),
                    )
            service.request_match(session, self.ops, job_id)
        return job_id

    def run_in_process(self) -> None:
        """The reference: a worker's claim and run, never interrupted."""

        def match(session: Session, payload: dict[str, Any]) -> None:
            run_match(session, int(payload["job_id"]), settings=self.settings)

        job = claim(self.sessions, "reference-worker")
        assert job is not None
        assert run_one(self.sessions, job, handlers={MATCH_KIND: match}) is Outcome.DONE

    def job_row(self, job_id: int) -> ReconciliationJob:
        with self.sessions() as session:
            job = session.get(ReconciliationJob, job_id)
            assert job is not None
            return job

    def queue_row(self, job_id: int) -> QueueJob:
        with self.sessions() as session:
            run = latest_match_runs(session, [job_id]).get(job_id)
            assert run is not None, f"job {job_id} was never queued"
            return run

    def results(self, job_id: int) -> dict[str, list[tuple[Any, ...]]]:
        """The job's matches and exceptions without what differs between runs, sorted."""
        found = {}
        for model in (ReconMatch, ReconciliationException):
            table = model.__table__
            columns = [c for c in table.columns if c.name not in RUN_SPECIFIC]
            with self.sessions() as session:
                rows = session.execute(select(*columns).where(table.c.job_id == job_id)).all()
            found[table.name] = sorted((tuple(row) for row in rows), key=repr)
        return found

    def rows_per_job(self, job_id: int) -> dict[str, int]:
        """How many rows of each table that records a job id belong to this job."""
        metadata = MetaData()
        metadata.reflect(self.engine)
        counts = {}
        with self.engine.connect() as connection:
            for name, table in sorted(metadata.tables.items()):
                if "job_id" in table.c:
                    query = select(func.count()).where(table.c.job_id == job_id)
                    counts[name] = int(connection.scalar(query) or 0)
        return counts

    def match_completions(self, job_id: int) -> list[AuditEntry]:
        with self.sessions() as session:
            query = select(AuditEntry).where(
                AuditEntry.action == "match_completed", AuditEntry.entity_id == str(job_id)
            )
            return list(session.scalars(query))


@pytest.fixture
def books(
    database_url: str, statements: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Books]:
    monkeypatch.setattr(passwords, "_HASHER", PasswordHasher(1, 1024, 1))
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    settings = Settings(database_url=database_url, data_dir=str(tmp_path / "data"))
    with sessions.begin() as session:
        user = create_user(
            session, email="ops@hisaab.test", password="correct horse battery", role="sp-ops"
        )
        ops = Claims(user_id=user.id, email=user.email, role=user.role, merchant_id=None)
    yield Books(engine, sessions, settings, ops, statements)
    engine.dispose()


# --- the worker process -------------------------------------------------------------------


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def logs(self) -> str:
        return f"stdout:\n{self.stdout.read_text()}\nstderr:\n{self.stderr.read_text()[-4000:]}"


@contextmanager
def worker_process(books: Books, tmp_path: Path, name: str, *args: str) -> Iterator[WorkerProcess]:
    """`hisaab worker` as a child process; killed (if still running) however the test ends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HISAAB_")}
    env["HISAAB_DATABASE_URL"] = books.settings.database_url
    env["HISAAB_DATA_DIR"] = books.settings.data_dir
    stdout, stderr = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    command = [sys.executable, "-m", "hisaab.cli.main", "worker", "--poll-seconds", "0.05", *args]
    with ExitStack() as files:
        out = files.enter_context(stdout.open("wb"))
        err = files.enter_context(stderr.open("wb"))
        # cwd: a `.env` in the checkout must not change which database the child uses.
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=out, stderr=err)
        try:
            yield WorkerProcess(process, stdout, stderr)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def wait_until(
    condition: Callable[[], bool], worker: WorkerProcess, what: str, seconds: float = 60
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if worker.process.poll() is not None:
            pytest.fail(
                f"the worker exited ({worker.process.returncode}) before {what}:\n{worker.logs()}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting {seconds} s for {what}:\n{worker.logs()}")
        time.sleep(0.005)


# --- where the worker is when it dies -----------------------------------------------------


def matching(books: Books, job_id: int) -> bool:
    """Both files read, the engine not done: nothing written but progress."""
    job = _unfinished(books, job_id, "while matching")
    return job.status == "running" and 25 <= job.progress < 80


def _unfinished(books: Books, job_id: int, point: str) -> ReconciliationJob:
    """The job's row; fails at once if the run ended before it could be killed at `point`."""
    job = books.job_row(job_id)
    assert job.status not in ("completed", "failed"), (
        f"job {job_id} was {job.status} ({job.error}) before it could be killed {point}"
    )
    return job


def writing_results(books: Books, job_id: int) -> bool:
    """The engine is done and the worker's own transaction is storing the results.

    After the engine's 80 % nothing else writes until the handler's transaction commits, so
    a write in progress then is the results being stored. On PostgreSQL the test waits until
    that transaction bulk-loads a table that comes after the matches (exceptions, payments,
    bank lines), so the matches, at least, are written but not committed when it dies.
    """
    job = _unfinished(books, job_id, "while writing its results")
    if (job.status, job.progress) != ("running", 80):
        return False
    if books.engine.dialect.name == "postgresql":
        with books.engine.connect() as connection:
            statements = connection.scalars(
                text(
                    "SELECT query FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
                )
            ).all()
        return any(_loading_after_the_matches(statement) for statement in statements)
    return _sqlite_write_lock_taken(books.settings.database_url)


def _loading_after_the_matches(statement: str) -> bool:
    """A bulk load (COPY) of a table the results are stored in after the matches."""
    words = statement.split()
    return len(words) > 1 and words[0].upper() == "COPY" and words[1] != "recon_matches"


def _sqlite_write_lock_taken(url: str) -> bool:
    """Is another connection in a write transaction? (BEGIN IMMEDIATE cannot get the lock.)"""
    database = make_url(url).database
    assert database is not None
    probe = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc), exc
        return True
    else:
        probe.execute("ROLLBACK")
        return False
    finally:
        probe.close()


# --- what must hold -----------------------------------------------------------------------

Snapshot = dict[str, Any]
WHOLE_TABLE_ROWS = 2_000


def snapshot(engine: Engine) -> Snapshot:
    """Each table's rows, minus the columns a killed run may leave behind (claim, progress).

    Tables of up to WHOLE_TABLE_ROWS rows are kept whole (jobs, files, queue, audit trail,
    the Overview's aggregates); larger ones (matches, exceptions, payments, bank lines) are
    only ever added to or deleted from by a run, so their row count tells.
    """
    metadata = MetaData()
    metadata.reflect(engine)
    found: Snapshot = {}
    with engine.connect() as connection:
        for name, table in sorted(metadata.tables.items()):
            kept = [c for c in table.columns if c.name not in CLAIM_AND_PROGRESS.get(name, ())]
            query = select(*kept)
            if name == "queue_jobs":  # a worker also schedules periodic jobs of other kinds
                query = query.where(table.c.kind == MATCH_KIND)
            count = connection.scalar(select(func.count()).select_from(query.subquery()))
            if count is not None and count > WHOLE_TABLE_ROWS:
                found[name] = f"{count} rows"
                continue
            rows = connection.execute(query).all()
            found[name] = sorted((tuple(row) for row in rows), key=repr)
    return found


def differences(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    changed: dict[str, Any] = {}
    for name, rows in before.items():
        now = after.get(name)
        if now == rows:
            continue
        if isinstance(rows, str) or isinstance(now, str):
            changed[name] = {
                "before": rows if isinstance(rows, str) else f"{len(rows)} rows",
                "after": now if isinstance(now, str) else f"{len(now or [])} rows",
            }
            continue
        changed[name] = {
            "added": [r for r in now or [] if r not in rows][:3],
            "removed": [r for r in rows if r not in (now or [])][:3],
        }
    return changed


KILL_POINTS: dict[str, Callable[[Books, int], bool]] = {
    "while matching": matching,
    "while writing its results": writing_results,
}


def test_matches_whose_workers_were_killed_complete_once_on_the_next_worker(
    books: Books, tmp_path: Path
) -> None:
    """Two workers die, one while matching a job, one while writing another's results."""
    reference = books.job("15 Jan, reference run")
    books.run_in_process()
    expected = books.results(reference)
    assert len(expected["recon_matches"]) > PAYMENTS * 0.8  # most of the day matches
    assert len(expected["reconciliation_exceptions"]) > 0

    killed = {point: books.job(f"15 Jan, first attempt killed {point}") for point in KILL_POINTS}
    before = snapshot(books.engine)
    lost: dict[str, QueueJob] = {}
    for n, (point, job_id) in enumerate(killed.items()):
        # Each new worker takes the oldest job not held by a live lock: this one.
        with worker_process(books, tmp_path, f"killed-{n}") as worker:
            at_point = KILL_POINTS[point]
            wait_until(partial(at_point, books, job_id), worker, f"job {job_id} {point}")
            worker.process.send_signal(signal.SIGKILL)
            assert worker.process.wait(timeout=10) == -signal.SIGKILL
        job, lost[point] = books.job_row(job_id), books.queue_row(job_id)
        assert (job.status, lost[point].status, lost[point].attempts) == ("running", "running", 1)
        assert job.progress < 80 if at_point is matching else job.progress == 80

    # Nothing of either run is visible: not one match, exception, payment or audit entry.
    assert differences(before, snapshot(books.engine)) == {}
    with books.sessions() as session:  # what the API shows meanwhile: still running
        for job_id in killed.values():
            assert service.get_job_for(session, books.ops, job_id).status == "running"

    last_lock = max(row.locked_at for row in lost.values() if row.locked_at is not None)
    stale_in = last_lock + dt.timedelta(seconds=VISIBILITY_TIMEOUT) - utcnow()
    time.sleep(max(stale_in.total_seconds(), 0) + 0.05)  # until the dead workers' locks age
    timeout = ("--visibility-timeout", str(VISIBILITY_TIMEOUT))
    with worker_process(books, tmp_path, "next", "--once", *timeout) as worker:
        assert worker.process.wait(timeout=60) == 0, worker.logs()
    assert worker.stdout.read_text() == ""  # logs go to stderr; never a traceback on stdout

    for point, job_id in killed.items():
        done, run = books.job_row(job_id), books.queue_row(job_id)
        assert (done.status, done.progress, done.error) == ("completed", 100, None), point
        assert (run.status, run.attempts) == ("done", 2), point
        assert run.locked_by != lost[point].locked_by
        assert run.last_error == (
            f"abandoned by {lost[point].locked_by} (no completion within the visibility timeout)"
        )
        assert books.results(job_id) == expected, point  # the reference's rows, each once
        assert books.rows_per_job(job_id) == books.rows_per_job(reference), point
        [completion] = books.match_completions(job_id)  # one audited run, not one per attempt
        assert _counts(completion) == _counts(books.match_completions(reference)[0]), point
    assert books.results(reference) == expected  # the reference job was left alone
    with books.sessions() as session:
        assert verify(session).ok


def _counts(entry: AuditEntry) -> tuple[int, int]:
    details = json.loads(entry.details)
    return int(details["matches"]), int(details["exceptions"])
