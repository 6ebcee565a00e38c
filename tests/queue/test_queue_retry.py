"""Failures: backoff with jitter, a limit on attempts, and jobs that no retry can help."""

from __future__ import annotations

import datetime as dt
import logging
import random
from pathlib import Path
from typing import Any

import pytest
from queue_test_handlers import (
    HANDLERS_FOR_TESTS,
    add_job,
    add_raw_job,
    job_row,
    marker_count,
    markers,
)
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session, sessionmaker

from hisaab.queue.claim import claim
from hisaab.queue.jobs import BadPayload, enqueue
from hisaab.queue.retry import RetryPolicy
from hisaab.queue.worker import Outcome, Worker, load_handlers, run_one
from hisaab.storage.models import utcnow


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=2, cap_seconds=60)
    assert [policy.ceiling(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert policy.ceiling(10_000) == 60  # no overflow however many attempts


def test_full_jitter_waits_anywhere_between_zero_and_the_ceiling() -> None:
    policy = RetryPolicy(base_seconds=2, cap_seconds=300)
    assert policy.delay(3, rand=lambda: 0.0) == dt.timedelta(0)
    assert policy.delay(3, rand=lambda: 0.5) == dt.timedelta(seconds=4)
    rng = random.Random(20240115)
    delays = [policy.delay(4, rng.random).total_seconds() for _ in range(200)]
    assert all(0 <= d < 16 for d in delays)
    assert max(delays) - min(delays) > 8  # spread out, not all at one instant


def test_a_policy_without_attempts_or_with_a_cap_below_the_base_is_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="cap_seconds"):
        RetryPolicy(base_seconds=10, cap_seconds=5)


def test_a_failing_job_is_retried_later_each_time_then_fails_keeping_its_error(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    job_id = add_job(engine, "test.fail", {"key": "flaky", "message": "bank API timed out"})
    policy = RetryPolicy(max_attempts=4, base_seconds=10, cap_seconds=3600)
    waits = []
    outcome = None
    for attempt in range(1, 5):
        due_at = job_row(engine, job_id).run_after
        job = claim(sessions, "worker-a", max_attempts=4, now=due_at)  # no real waiting
        assert job is not None
        assert job.attempts == attempt
        before = utcnow()
        outcome = run_one(sessions, job, handlers=HANDLERS_FOR_TESTS, policy=policy, rand=lambda: 1)
        row = job_row(engine, job_id)
        if outcome is Outcome.RETRY:
            assert (row.status, row.locked_by, row.locked_at) == ("queued", None, None)
            waits.append(round((row.run_after - before).total_seconds()))
            assert row.last_error == f"attempt {attempt}/4: ValueError: bank API timed out"

    assert outcome is Outcome.FAILED
    assert waits == [10, 20, 40]
    row = job_row(engine, job_id)
    assert (row.status, row.attempts) == ("failed", 4)
    assert row.last_error == "attempt 4/4: ValueError: bank API timed out"
    assert marker_count(engine, "flaky") == 0  # every failed attempt's writes rolled back
    assert claim(sessions, "worker-a", now=utcnow() + dt.timedelta(days=1)) is None


def test_a_job_of_an_unknown_kind_fails_at_once_without_retries(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    job_id = add_job(engine, "settlement.payout", {"batch_id": 7})
    job = claim(sessions, "worker-a")
    assert job is not None

    outcome = run_one(sessions, job, handlers=HANDLERS_FOR_TESTS)

    assert outcome is Outcome.FAILED
    row = job_row(engine, job_id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == (
        "unknown job kind 'settlement.payout': no handler is registered for it"
        " (known: test.fail, test.insert, test.slow_insert)"
    )
    assert claim(sessions, "worker-a", now=utcnow() + dt.timedelta(days=1)) is None


def test_a_payload_that_is_not_a_json_object_fails_at_once(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    job_id = add_raw_job(engine, "test.insert", "[1, 2]")
    job = claim(sessions, "worker-a")
    assert job is not None

    assert run_one(sessions, job, handlers=HANDLERS_FOR_TESTS) is Outcome.FAILED
    row = job_row(engine, job_id)
    assert row.status == "failed"
    assert row.last_error == "unreadable payload: expected a JSON object, got list"


def test_a_payload_its_handler_calls_bad_fails_at_once_and_keeps_nothing(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    def settle(session: Session, payload: dict[str, Any]) -> None:
        session.execute(insert(markers).values(key=payload["key"]))
        if not isinstance(payload.get("amount_minor"), int):
            raise BadPayload(
                f"amount_minor must be integer minor units: {payload['amount_minor']!r}"
            )

    job_id = add_job(engine, "test.settle", {"key": "payout-17", "amount_minor": "1500.00"})
    job = claim(sessions, "worker-a")
    assert job is not None

    assert run_one(sessions, job, handlers={"test.settle": settle}) is Outcome.FAILED
    row = job_row(engine, job_id)
    assert (row.status, row.attempts) == ("failed", 1)  # no retries with backoff
    assert row.last_error == "bad payload: amount_minor must be integer minor units: '1500.00'"
    assert marker_count(engine, "payout-17") == 0


def test_a_handler_that_commits_is_refused_and_its_writes_roll_back(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    def commits(session: Session, payload: dict[str, Any]) -> None:
        session.execute(insert(markers).values(key=payload["key"]))
        session.commit()

    job_id = add_job(engine, "test.commits", {"key": "early-commit"})
    job = claim(sessions, "worker-a")
    assert job is not None

    outcome = run_one(sessions, job, handlers={"test.commits": commits})

    assert outcome is Outcome.RETRY
    assert marker_count(engine, "early-commit") == 0
    row = job_row(engine, job_id)
    assert row.status == "queued"
    assert row.last_error is not None
    assert "a job handler must not commit" in row.last_error


def test_a_handler_may_use_savepoints(engine: Engine, sessions: sessionmaker[Session]) -> None:
    def with_savepoint(session: Session, payload: dict[str, Any]) -> None:
        with session.begin_nested():
            session.execute(insert(markers).values(key=payload["key"]))

    job_id = add_job(engine, "test.savepoint", {"key": "nested"})
    job = claim(sessions, "worker-a")
    assert job is not None

    assert run_one(sessions, job, handlers={"test.savepoint": with_savepoint}) is Outcome.DONE
    assert job_row(engine, job_id).status == "done"
    assert marker_count(engine, "nested") == 1


def test_worker_once_runs_every_due_job_then_exits(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    due = [add_job(engine, "test.insert", {"key": f"due-{n}"}) for n in range(3)]
    failing = add_job(engine, "test.fail", {"key": "failing"})
    with Session(engine) as session, session.begin():
        later = enqueue(
            session,
            "test.insert",
            {"key": "tomorrow"},
            run_after=utcnow() + dt.timedelta(days=1),
        ).id
    worker = Worker(sessions, handlers=HANDLERS_FOR_TESTS, policy=RetryPolicy(max_attempts=1))

    outcomes = worker.run(once=True)

    assert outcomes == {Outcome.DONE: 3, Outcome.FAILED: 1}
    assert [job_row(engine, j).status for j in due] == ["done"] * 3
    assert job_row(engine, failing).status == "failed"
    assert job_row(engine, later).status == "queued"
    assert marker_count(engine, "tomorrow") == 0


def test_a_missing_handler_module_is_skipped_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="hisaab.worker"):
        handlers = load_handlers(optional=["hisaab.no_such_area.jobs"])
    assert "handler module hisaab.no_such_area.jobs is not available" in caplog.text
    assert "test.insert" in handlers  # what is registered stays available


def test_a_handler_module_with_a_broken_import_is_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "queue_broken_handlers.py").write_text("import no_such_dependency_at_all\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_at_all"):
        load_handlers(optional=["queue_broken_handlers"])


def test_a_required_handler_module_must_exist() -> None:
    with pytest.raises(ModuleNotFoundError, match="queue_handlers_nobody_wrote"):
        load_handlers(optional=[], required=["queue_handlers_nobody_wrote"])
