"""The wake-up listener: a worker hears of committed jobs at once, and keeps going without it.

Everything runs against a real PostgreSQL server. Waits are bounded and generous (a wake-up
must come within seconds, never "fast enough"); what must not happen is given half a second.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from queue_test_handlers import HANDLERS_FOR_TESTS, add_job, marker_count
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hisaab.backoff import Backoff
from hisaab.pubsub.config import libpq_url
from hisaab.queue.jobs import enqueue
from hisaab.queue.wakeup import APPLICATION_NAME, WakeupListener
from hisaab.queue.worker import Worker

on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

HERE = Path(__file__).parent
WAIT = 5.0  # a wake-up that takes longer than this is a failure
QUIET = 0.5  # how long nothing must happen, for what must not wake anyone
FAST_RETRIES = Backoff(first=0.01, most=0.05)


def eventually(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {seconds} s waiting for {what}")
        time.sleep(0.01)


class Wakes:
    """What a listener told us: wake-ups (an Event) and its live/down transitions."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.states: list[bool] = []

    def wake(self) -> None:
        self.event.set()

    def on_live(self, live: bool) -> None:
        self.states.append(live)


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
def listen(database_url: str, engine: Engine, wakes: Wakes) -> Iterator[Callable[..., Any]]:
    """Start a listener on the test database (after its migration); stopped after the test."""
    started: list[WakeupListener] = []

    def start(**options: Any) -> WakeupListener:
        listener = WakeupListener(database_url, wakes.wake, on_live=wakes.on_live, **options)
        listener.start()
        started.append(listener)
        assert listener.wait_live(WAIT), "the listener never started listening"
        wakes.event.clear()  # coming live wakes once; the tests look at what follows
        return listener

    yield start
    for listener in started:
        assert listener.stop(), "the listener did not stop"


def backend_pids(database_url: str) -> list[int]:
    """The server processes of this database's wake-up listeners."""
    server, database = database_url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            (database, APPLICATION_NAME),
        ).fetchall()
    return [row[0] for row in rows]


def admin(database_url: str, statement: str) -> None:
    server, _database = database_url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def terminate_listeners(database_url: str) -> None:
    pids = backend_pids(database_url)
    assert len(pids) == 1, f"expected one listener connection, found {pids}"
    admin(database_url, f"SELECT pg_terminate_backend({pids[0]})")


@on_postgresql
def test_a_committed_stk_callback_job_wakes_the_listener(
    listen: Callable[..., WakeupListener], engine: Engine, wakes: Wakes
) -> None:
    listener = listen()
    add_job(engine, "test.insert", {"key": "stk-callback-ws_CO_191220191020363925"})
    assert wakes.event.wait(WAIT)
    assert listener.woken == 1


@on_postgresql
def test_a_rolled_back_enqueue_wakes_nobody(
    listen: Callable[..., WakeupListener], sessions: sessionmaker[Session], wakes: Wakes
) -> None:
    listener = listen()
    with sessions() as session:
        enqueue(session, "test.insert", {"key": "payment-never-recorded"})
        session.rollback()
    assert not wakes.event.wait(QUIET)
    assert listener.woken == 0


@on_postgresql
def test_a_listener_for_some_kinds_ignores_the_others(
    listen: Callable[..., WakeupListener], engine: Engine, wakes: Wakes
) -> None:
    listener = listen(kinds=["test.insert"])
    add_job(engine, "test.fail", {"key": "alert-email"})
    add_job(engine, "test.insert", {"key": "reconcile-session-77"})
    # Notifications arrive in commit order: by the wake-up for the second job, the first one's
    # had been read, and ignored.
    assert wakes.event.wait(WAIT)
    assert listener.woken == 1


@on_postgresql
def test_stopping_returns_promptly_and_closes_the_connection(
    database_url: str, listen: Callable[..., WakeupListener], wakes: Wakes
) -> None:
    listener = listen()
    assert len(backend_pids(database_url)) == 1

    assert listener.stop(timeout=WAIT)

    assert not listener.running and not listener.live
    assert wakes.states == [True, False]
    eventually(lambda: backend_pids(database_url) == [], "the server to drop the connection")


@on_postgresql
def test_the_listener_reconnects_after_its_connection_is_terminated(
    database_url: str,
    listen: Callable[..., WakeupListener],
    engine: Engine,
    wakes: Wakes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    listener = listen(backoff=FAST_RETRIES)
    caplog.set_level(logging.INFO, logger="hisaab.worker.wakeup")

    terminate_listeners(database_url)
    eventually(lambda: wakes.states == [True, False, True], "the listener to come back")
    wakes.event.clear()
    add_job(engine, "test.insert", {"key": "callback-after-the-restart"})

    assert wakes.event.wait(WAIT)
    assert listener.reconnects == 1
    messages = [r.getMessage() for r in caplog.records]
    assert sum(" lost on " in m for m in messages) == 1
    assert sum(" is back after " in m for m in messages) == 1


@on_postgresql
def test_an_outage_is_logged_once_however_many_attempts_it_takes(
    database_url: str,
    listen: Callable[..., WakeupListener],
    engine: Engine,
    wakes: Wakes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    listener = listen(backoff=FAST_RETRIES)
    caplog.set_level(logging.INFO, logger="hisaab.worker.wakeup")
    database = database_url.rsplit("/", 1)[1]

    admin(database_url, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    try:
        terminate_listeners(database_url)
        eventually(lambda: listener.failed_attempts >= 5, "five refused reconnections")
        assert not listener.live
    finally:
        admin(database_url, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    eventually(lambda: listener.live, "the listener to come back")

    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings
    assert " lost on " in warnings[0] and "workers poll for jobs until it is back" in warnings[0]
    assert " is back after " in warnings[1]
    wakes.event.clear()
    add_job(engine, "test.insert", {"key": "first-job-after-the-outage"})
    assert wakes.event.wait(WAIT)


@on_postgresql
def test_a_listener_that_cannot_connect_at_first_keeps_trying(
    database_url: str, engine: Engine, wakes: Wakes, caplog: pytest.LogCaptureFixture
) -> None:
    database = database_url.rsplit("/", 1)[1]
    caplog.set_level(logging.INFO, logger="hisaab.worker.wakeup")
    admin(database_url, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    listener = WakeupListener(database_url, wakes.wake, backoff=FAST_RETRIES)
    try:
        listener.start()
        eventually(lambda: listener.failed_attempts >= 3, "three refused connections")
        admin(database_url, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        assert listener.wait_live(WAIT)
        wakes.event.clear()
        add_job(engine, "test.insert", {"key": "settlement-file-2024-11-21"})
        assert wakes.event.wait(WAIT)
    finally:
        admin(database_url, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        assert listener.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings
    assert " cannot listen on " in warnings[0]


@on_postgresql
def test_a_worker_with_a_live_listener_runs_a_job_long_before_its_poll(
    database_url: str, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    poll_seconds = 60.0  # without the wake-up, the job would wait up to this long
    worker = Worker(sessions, poll_seconds=poll_seconds, handlers=HANDLERS_FOR_TESTS)
    listener = WakeupListener(database_url, worker.wake, on_live=worker.set_listening)
    thread = threading.Thread(target=worker.run, daemon=True)
    listener.start()
    thread.start()
    try:
        assert listener.wait_live(WAIT)
        assert worker.idle_seconds == poll_seconds
        add_job(engine, "test.insert", {"key": "reconcile-QKJ4ABC123"})
        eventually(lambda: marker_count(engine, "reconcile-QKJ4ABC123") == 1, "the job", WAIT)
    finally:
        assert listener.stop()
        worker.stop()
        thread.join(WAIT)
    assert not thread.is_alive()
    # Without its listener the worker looks briskly again.
    assert worker.idle_seconds == worker.idle_poll_seconds


@on_postgresql
def test_the_worker_command_listens_on_postgresql(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    env = dict(os.environ)
    env["HISAAB_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    env.pop("HISAAB_DEBUG", None)
    stderr = tmp_path / "worker.err"
    command = [sys.executable, "-m", "hisaab.cli.main", "worker"]
    command += ["--handler-module", "queue_test_handlers", "--poll-seconds", "60"]
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err
        )
        try:
            eventually(
                lambda: (
                    "job wake-up listener on " in stderr.read_text() or process.poll() is not None
                ),
                "the worker to listen",
                30,
            )
            assert process.poll() is None, stderr.read_text()
            add_job(engine, "test.insert", {"key": "mpesa-C2B-0001"})
            eventually(lambda: marker_count(engine, "mpesa-C2B-0001") == 1, "the job", WAIT)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, stderr.read_text()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    logs = stderr.read_text()
    assert "listening on 'hisaab_jobs'" in logs
    assert "Traceback" not in logs
    eventually(lambda: backend_pids(database_url) == [], "the listener's connection to close")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://hisaab@db:5432/hisaab", "postgresql://hisaab@db:5432/hisaab"),
        ("postgresql+psycopg://hisaab@db/hisaab", "postgresql://hisaab@db/hisaab"),
    ],
)
def test_the_listener_takes_hisaab_postgresql_urls(url: str, expected: str) -> None:
    assert libpq_url(url) == expected


def test_the_listener_refuses_a_sqlite_url() -> None:
    with pytest.raises(ValueError, match="needs a postgresql:// URL, not sqlite://"):
        WakeupListener("sqlite:///hisaab.db", lambda: None)
