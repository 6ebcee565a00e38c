"""Losing a worker: SIGKILL mid-job, a graceful SIGTERM, and a job taken over from a slow worker.

The process tests run `hisaab worker` as a real subprocess with this folder on its PYTHONPATH
and `--handler-module queue_test_handlers`, whose `test.slow_insert` job writes a marker row in
its transaction, drops a signal file, then sleeps: the test acts while the job is mid-flight.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from queue_test_handlers import (
    HANDLERS_FOR_TESTS,
    add_job,
    job_row,
    marker_count,
    markers,
)
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session, sessionmaker

from hisaab.cli.main import main
from hisaab.queue.claim import ClaimedJob, claim
from hisaab.queue.worker import Outcome, run_one
from hisaab.storage.models import utcnow

HERE = Path(__file__).parent


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def logs(self) -> str:
        return f"stdout:\n{self.stdout.read_text()}\nstderr:\n{self.stderr.read_text()}"


@contextmanager
def worker_process(
    database_url: str, tmp_path: Path, name: str, *args: str
) -> Iterator[WorkerProcess]:
    """`hisaab worker` as a child process; killed (if still running) however the test ends."""
    env = dict(os.environ)
    env["HISAAB_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    env.pop("HISAAB_DEBUG", None)
    stdout, stderr = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    command = [
        sys.executable,
        "-m",
        "hisaab.cli.main",
        "worker",
        "--handler-module",
        "queue_test_handlers",
        "--poll-seconds",
        "0.05",
        *args,
    ]
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


def wait_until(condition: Callable[[], bool], worker: WorkerProcess, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited early ({worker.process.returncode}):\n{worker.logs()}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting after {seconds} s:\n{worker.logs()}")
        time.sleep(0.02)


def test_a_worker_killed_mid_job_loses_nothing_and_duplicates_nothing(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    signal_file = tmp_path / "slow-job-started"
    slow = add_job(
        engine,
        "test.slow_insert",
        {"key": "settle-batch-41", "signal_file": str(signal_file), "sleep_seconds": 120},
    )
    queued_behind = add_job(engine, "test.insert", {"key": "settle-batch-42"})

    with worker_process(database_url, tmp_path, "first") as first:
        wait_until(signal_file.exists, first)  # claimed, marker written, transaction open
        assert job_row(engine, slow).status == "running"
        first.process.send_signal(signal.SIGKILL)
        assert first.process.wait(timeout=10) == -signal.SIGKILL

    assert marker_count(engine, "settle-batch-41") == 0  # its uncommitted write died with it
    lost = job_row(engine, slow)
    assert (lost.status, lost.attempts) == ("running", 1)
    assert job_row(engine, queued_behind).status == "queued"

    visibility_timeout = 0.5
    time.sleep(visibility_timeout)  # the first worker's lock is now older than that
    with worker_process(
        database_url, tmp_path, "second", "--once", "--visibility-timeout", str(visibility_timeout)
    ) as second:
        assert second.process.wait(timeout=30) == 0, second.logs()

    done = job_row(engine, slow)
    assert (done.status, done.attempts) == ("done", 2)
    assert done.locked_by != lost.locked_by
    assert done.last_error == (
        f"abandoned by {lost.locked_by} (no completion within the visibility timeout)"
    )
    assert marker_count(engine, "settle-batch-41") == 1
    after = job_row(engine, queued_behind)
    assert (after.status, after.attempts) == ("done", 1)
    assert marker_count(engine, "settle-batch-42") == 1
    assert second.stdout.read_text() == ""  # logs go to stderr, never tracebacks on stdout
    assert f"job {slow} (test.slow_insert) done on attempt 2" in second.stderr.read_text()


def test_sigterm_stops_the_worker_after_its_current_job(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    signal_file = tmp_path / "job-started"
    current = add_job(
        engine,
        "test.slow_insert",
        {"key": "current", "signal_file": str(signal_file), "sleep_seconds": 1},
    )
    next_job = add_job(engine, "test.insert", {"key": "next"})

    with worker_process(database_url, tmp_path, "worker") as worker:
        wait_until(signal_file.exists, worker)
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(timeout=30) == 0, worker.logs()

    assert job_row(engine, current).status == "done"
    assert marker_count(engine, "current") == 1
    assert job_row(engine, next_job).status == "queued"  # left for the next worker
    assert marker_count(engine, "next") == 0
    assert "SIGTERM: stopping after the current job" in worker.stderr.read_text()
    assert worker.stdout.read_text() == ""


def test_the_worker_refuses_a_database_that_is_not_migrated(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["worker", "--once", "--database-url", database_url])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "is at schema revision empty" in err
    assert "run `hisaab migrate`" in err
    assert "Traceback" not in err


def _take_over(sessions: sessionmaker[Session], taken: list[ClaimedJob]) -> None:
    """What another worker does once this one's lock looks stale: claim the job for itself."""
    job = claim(
        sessions,
        "worker-b",
        visibility_timeout=dt.timedelta(seconds=1),
        now=utcnow() + dt.timedelta(seconds=5),
    )
    assert job is not None
    taken.append(job)


def test_a_handlers_writes_roll_back_when_its_job_was_taken_over(
    engine: Engine,
) -> None:
    sessions = sessionmaker(engine)
    job_id = add_job(engine, "test.overran", {"key": "refund-9"})
    taken: list[ClaimedJob] = []

    def overran(session: Session, payload: dict[str, Any]) -> None:
        _take_over(sessions, taken)  # while this handler is still working
        session.execute(insert(markers).values(key=payload["key"]))

    mine = claim(sessions, "worker-a")
    assert mine is not None

    assert run_one(sessions, mine, handlers={"test.overran": overran}) is Outcome.LOST

    assert marker_count(engine, "refund-9") == 0
    row = job_row(engine, job_id)
    assert (row.status, row.locked_by, row.attempts) == ("running", "worker-b", 2)
    handlers = {"test.overran": HANDLERS_FOR_TESTS["test.insert"]}
    assert run_one(sessions, taken[0], handlers=handlers) is Outcome.DONE
    assert job_row(engine, job_id).status == "done"
    assert marker_count(engine, "refund-9") == 1  # committed once, by the worker that finished


def test_a_failure_after_a_take_over_leaves_the_new_owners_job_alone(
    engine: Engine,
) -> None:
    sessions = sessionmaker(engine)
    job_id = add_job(engine, "test.overran", {"key": "refund-10"})
    taken: list[ClaimedJob] = []

    def overran_then_failed(session: Session, payload: dict[str, Any]) -> None:
        _take_over(sessions, taken)
        raise ConnectionError("gateway went away")

    mine = claim(sessions, "worker-a")
    assert mine is not None

    outcome = run_one(sessions, mine, handlers={"test.overran": overran_then_failed})

    assert outcome is Outcome.LOST
    row = job_row(engine, job_id)
    assert (row.status, row.locked_by, row.attempts) == ("running", "worker-b", 2)
    assert row.last_error == "abandoned by worker-a (no completion within the visibility timeout)"
