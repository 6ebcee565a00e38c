"""Job kinds for the queue's tests, and helpers to set up and inspect a queue database.

A worker subprocess loads these handlers with `hisaab worker --handler-module
queue_test_handlers` (this folder on its PYTHONPATH). Every handler writes a marker row
through the job's session, so a test can count how many times a job's effects committed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.orm import Session

from hisaab.queue.jobs import Handler, enqueue, handler
from hisaab.storage.engine import make_engine
from hisaab.storage.migrate import upgrade
from hisaab.storage.models import QueueJob

_metadata = MetaData()
# No unique constraint on purpose: a duplicated effect must show up as a second row.
markers = Table(
    "queue_test_markers",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(64), nullable=False),
)


def _mark(session: Session, payload: dict[str, Any]) -> None:
    session.execute(insert(markers).values(key=payload["key"]))


@handler("test.insert")
def insert_marker(session: Session, payload: dict[str, Any]) -> None:
    _mark(session, payload)


@handler("test.fail")
def insert_then_fail(session: Session, payload: dict[str, Any]) -> None:
    _mark(session, payload)
    raise ValueError(payload.get("message", "boom"))


@handler("test.slow_insert")
def slow_insert(session: Session, payload: dict[str, Any]) -> None:
    """Write the marker, then, the first time only, say so in `signal_file` and sleep."""
    _mark(session, payload)
    signal_file = Path(payload["signal_file"])
    if signal_file.exists():
        return
    signal_file.write_text("marker written, transaction open\n")
    time.sleep(float(payload["sleep_seconds"]))


# For in-process tests, which pass their handlers explicitly rather than rely on the registry.
HANDLERS_FOR_TESTS: dict[str, Handler] = {
    "test.insert": insert_marker,
    "test.fail": insert_then_fail,
    "test.slow_insert": slow_insert,
}


def prepare(database_url: str) -> Engine:
    """Migrate the database, add the marker table, and return an engine on it."""
    upgrade(database_url)
    engine = make_engine(database_url)
    _metadata.create_all(engine)
    return engine


def add_job(engine: Engine, kind: str, payload: dict[str, Any]) -> int:
    with Session(engine) as session, session.begin():
        return enqueue(session, kind, payload).id


def add_raw_job(engine: Engine, kind: str, payload_text: str) -> int:
    with Session(engine) as session, session.begin():
        job = QueueJob(kind=kind, payload=payload_text)
        session.add(job)
        session.flush()
        return job.id


def job_row(engine: Engine, job_id: int) -> QueueJob:
    with Session(engine, expire_on_commit=False) as session:
        job = session.get(QueueJob, job_id)
        assert job is not None, f"no job {job_id}"
        return job


def marker_count(engine: Engine, key: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.scalar(select(func.count()).select_from(markers).where(markers.c.key == key))
            or 0
        )
