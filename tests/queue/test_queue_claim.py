"""Claiming jobs: one due job to one worker, never the same job to two, lost jobs come back."""

from __future__ import annotations

import datetime as dt
import threading

from queue_test_handlers import HANDLERS_FOR_TESTS, add_job, job_row, marker_count
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hisaab.queue.claim import claim
from hisaab.queue.stats import queue_depth
from hisaab.queue.worker import Outcome, Worker, run_one
from hisaab.storage.models import utcnow


def test_nothing_is_claimed_from_an_empty_queue(sessions: sessionmaker[Session]) -> None:
    assert claim(sessions, "worker-a") is None


def test_a_job_is_not_claimed_before_its_run_after(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    job_id = add_job(engine, "test.insert", {"key": "later"})
    run_after = job_row(engine, job_id).run_after
    assert claim(sessions, "worker-a", now=run_after - dt.timedelta(seconds=1)) is None
    claimed = claim(sessions, "worker-a", now=run_after)
    assert claimed is not None
    assert claimed.id == job_id


def test_the_oldest_due_job_is_claimed_and_the_claim_is_committed(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    first = add_job(engine, "test.insert", {"key": "first"})
    add_job(engine, "test.insert", {"key": "second"})

    claimed = claim(sessions, "worker-a")

    assert claimed is not None
    assert (claimed.id, claimed.kind, claimed.attempts) == (first, "test.insert", 1)
    assert claimed.payload == '{"key": "first"}'
    row = job_row(engine, first)
    assert (row.status, row.locked_by, row.attempts) == ("running", "worker-a", 1)
    assert row.locked_at == claimed.locked_at


def test_concurrent_claimers_never_get_the_same_job(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    job_ids = [add_job(engine, "test.insert", {"key": f"job-{n}"}) for n in range(120)]
    claimed: dict[str, list[int]] = {f"worker-{n}": [] for n in range(4)}
    start = threading.Barrier(len(claimed))

    def claim_until_empty(worker_id: str) -> None:
        start.wait()
        while (job := claim(sessions, worker_id)) is not None:
            claimed[worker_id].append(job.id)

    threads = [threading.Thread(target=claim_until_empty, args=(w,)) for w in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    all_claims = [job_id for ids in claimed.values() for job_id in ids]
    assert sorted(all_claims) == job_ids  # every job claimed, and none twice
    assert sum(1 for ids in claimed.values() if ids) >= 2  # the claimers really competed


def test_concurrent_workers_run_each_job_exactly_once(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    keys = [f"payment-{n}" for n in range(60)]
    job_ids = [add_job(engine, "test.insert", {"key": key}) for key in keys]
    workers = [
        Worker(sessions, worker_id=f"worker-{n}", handlers=HANDLERS_FOR_TESTS) for n in range(3)
    ]
    threads = [threading.Thread(target=w.run, kwargs={"once": True}) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(w.outcomes[Outcome.DONE] for w in workers) == len(job_ids)
    assert {job_row(engine, j).status for j in job_ids} == {"done"}
    assert {job_row(engine, j).attempts for j in job_ids} == {1}
    assert [marker_count(engine, key) for key in keys] == [1] * len(keys)


def test_a_lost_workers_job_is_claimed_again_after_the_visibility_timeout(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    job_id = add_job(engine, "test.insert", {"key": "lost"})
    timeout = dt.timedelta(minutes=5)
    first = claim(sessions, "worker-a", visibility_timeout=timeout)
    assert first is not None

    soon = first.locked_at + timeout - dt.timedelta(seconds=1)
    assert claim(sessions, "worker-b", visibility_timeout=timeout, now=soon) is None
    later = first.locked_at + timeout + dt.timedelta(seconds=1)
    again = claim(sessions, "worker-b", visibility_timeout=timeout, now=later)

    assert again is not None
    assert (again.id, again.attempts) == (job_id, 2)
    row = job_row(engine, job_id)
    assert (row.status, row.locked_by, row.attempts) == ("running", "worker-b", 2)
    assert row.last_error == ("abandoned by worker-a (no completion within the visibility timeout)")


def test_a_job_abandoned_on_its_last_attempt_fails_instead_of_coming_back(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    job_id = add_job(engine, "test.insert", {"key": "poison"})
    timeout = dt.timedelta(seconds=30)
    at = utcnow()
    for attempt, worker_id in enumerate(["worker-a", "worker-b"]):
        at += timeout * 2
        job = claim(sessions, worker_id, visibility_timeout=timeout, max_attempts=2, now=at)
        assert job is not None
        assert job.attempts == attempt + 1

    at += timeout * 2
    assert claim(sessions, "worker-c", visibility_timeout=timeout, max_attempts=2, now=at) is None

    row = job_row(engine, job_id)
    assert (row.status, row.attempts) == ("failed", 2)
    assert row.last_error == "abandoned by worker-b on its last attempt (of 2); not retried"


def test_queue_depth_counts_the_jobs_in_each_status(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    for n in range(4):
        add_job(engine, "test.insert", {"key": f"depth-{n}"})
    add_job(engine, "no.such.kind", {})
    done = claim(sessions, "worker-a")
    assert done is not None
    assert run_one(sessions, done, handlers=HANDLERS_FOR_TESTS) is Outcome.DONE
    assert claim(sessions, "worker-a") is not None  # left running

    with Session(engine) as session:
        assert queue_depth(session) == {"queued": 3, "running": 1, "done": 1, "failed": 0}
