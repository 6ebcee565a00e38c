"""Waking a worker process the moment jobs are committed on PostgreSQL: the LISTEN side.

`enqueue` sends `NOTIFY hisaab_jobs, '<kind>'` in the transaction that adds the job
(hisaab.queue.jobs), so PostgreSQL delivers it when the job becomes visible. A WakeupListener
holds one dedicated connection (psycopg, autocommit) in a daemon thread, `LISTEN`s on that
channel and calls `wake()` for every notification of a kind it cares about (all kinds, or the
worker's `--kinds`).

A notification is a hint, never the truth: the worker still reads the queue table, and still
polls. `on_live(True)` tells it the hint is flowing, so its idle poll can be long; `on_live(False)`
tells it to poll briskly again. Each change of state also calls `wake()`: a listener that has
just started listening may have missed jobs committed before, and a worker in a long wait must
switch to the short one now.

A lost connection (database restart, terminated backend, dead network found by TCP keepalives
or by a `SELECT 1` after a quiet spell) is reopened with exponential backoff (0.1 s doubling to
5 s, with jitter). An outage is logged once when it starts and once when it ends, however many
attempts it takes. SQLite has no NOTIFY: no listener runs there, and its workers poll.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from psycopg import sql

from hisaab.backoff import Backoff
from hisaab.config import mask_url
from hisaab.pubsub.config import (
    LISTEN_CONNECT_TIMEOUT_SECONDS,
    is_postgres,
    libpq_url,
    listen_conninfo,
)
from hisaab.queue.jobs import WAKE_CHANNEL

logger = logging.getLogger("hisaab.worker.wakeup")

CONNECT_TIMEOUT_SECONDS = LISTEN_CONNECT_TIMEOUT_SECONDS
APPLICATION_NAME = "hisaab-job-wakeup"


class WakeupListener:
    """Calls `wake()` whenever a job of one of `kinds` (None: any kind) is committed."""

    def __init__(
        self,
        database_url: str,
        wake: Callable[[], None],
        *,
        kinds: Iterable[str] | None = None,
        on_live: Callable[[bool], None] | None = None,
        channel: str = WAKE_CHANNEL,
        backoff: Backoff | None = None,
        stop_check_seconds: float = 0.2,
        health_check_seconds: float = 10.0,
    ) -> None:
        if stop_check_seconds <= 0:
            raise ValueError("stop_check_seconds must be positive")
        if health_check_seconds <= 0:
            raise ValueError("health_check_seconds must be positive")
        if not is_postgres(database_url):
            scheme = database_url.partition("://")[0]
            raise ValueError(
                f"a job wake-up listener needs a postgresql:// URL, not {scheme}://..."
            )
        self._conninfo = listen_conninfo(database_url, APPLICATION_NAME)
        self._where = mask_url(libpq_url(database_url))
        self.wake = wake
        self.kinds = None if kinds is None else frozenset(kinds)
        self.on_live = on_live
        self.channel = channel
        self.backoff = backoff or Backoff()
        self.stop_check_seconds = stop_check_seconds
        self.health_check_seconds = health_check_seconds
        self.woken = 0  # notifications of a wanted kind passed on to wake()
        self.reconnects = 0  # connections made again after one was lost or refused
        self.failed_attempts = 0  # connection attempts that failed, over all outages
        self._live = False
        self._live_event = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "live" if self._live else "running" if self.running else "stopped"
        return f"WakeupListener({self.channel!r} on {self._where}, {state})"

    @property
    def live(self) -> bool:
        """Whether the LISTEN is in place: every job committed from now on wakes the worker."""
        return self._live

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start listening in a daemon thread; returns at once (see `wait_live`)."""
        if self._thread is not None:
            raise RuntimeError("a wake-up listener starts once")
        self._thread = threading.Thread(target=self._run, name="hisaab-job-wakeup", daemon=True)
        self._thread.start()

    def wait_live(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the LISTEN to be in place; whether it is."""
        return self._live_event.wait(timeout)

    def stop(self, timeout: float = CONNECT_TIMEOUT_SECONDS + 1.0) -> bool:
        """Stop listening and close the connection; False if the thread outlived `timeout`."""
        self._stopping.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("job wake-up listener did not stop within %.1f s", timeout)
            return False
        return True

    def _run(self) -> None:
        lost_at: float | None = None  # when the current outage began; None while none is on
        delays = self.backoff.delays()
        attempts = 0
        while not self._stopping.is_set():
            attempts += 1
            try:
                conn = self._connect()
            except Exception as exc:  # refused, timed out, bad credentials, ...
                self.failed_attempts += 1
                if lost_at is None:
                    lost_at = time.monotonic()
                    self._log_outage("cannot listen", exc)
                self._stopping.wait(next(delays))
                continue
            try:
                if attempts > 1:
                    self.reconnects += 1
                if lost_at is not None:
                    logger.warning(
                        "job wake-up listener on %s is back after %.1f s",
                        self._where,
                        time.monotonic() - lost_at,
                    )
                    lost_at = None
                elif attempts == 1:
                    logger.info(
                        "job wake-up listener on %s: listening on %r", self._where, self.channel
                    )
                delays = self.backoff.delays()
                self._set_live(True)
                self._listen(conn)
            except Exception as exc:  # the connection broke, or a bug: start over
                lost_at = time.monotonic()
                self._log_outage("lost", exc)
            finally:
                conn.close()
                self._set_live(False)
            if not self._stopping.is_set():
                self._stopping.wait(next(delays))

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self._conninfo, autocommit=True)
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except BaseException:
            conn.close()
            raise
        return conn

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        """Pass notifications on until stopped; raises when the connection breaks."""
        quiet_since = time.monotonic()
        while not self._stopping.is_set():
            # A short timeout so that `stop()` is heard promptly; waiting costs no traffic.
            for notify in conn.notifies(timeout=self.stop_check_seconds):
                quiet_since = time.monotonic()
                if self.kinds is None or notify.payload in self.kinds:
                    self.woken += 1
                    self._call_wake()
            if time.monotonic() - quiet_since >= self.health_check_seconds:
                conn.execute("SELECT 1")  # quiet for a while: is the server still there?
                quiet_since = time.monotonic()

    def _set_live(self, live: bool) -> None:
        if live == self._live:
            return
        self._live = live
        if live:
            self._live_event.set()
        else:
            self._live_event.clear()
        if self.on_live is not None:
            try:
                self.on_live(live)
            except Exception:
                logger.exception("job wake-up listener: the on_live callback failed")
        self._call_wake()

    def _call_wake(self) -> None:
        try:
            self.wake()
        except Exception:  # a wake-up is a hint: a failing callback must not stop the listener
            logger.exception("job wake-up listener: the wake callback failed")

    def _log_outage(self, what: str, exc: Exception) -> None:
        level = logging.WARNING if isinstance(exc, psycopg.Error | OSError) else logging.ERROR
        logger.log(
            level,
            "job wake-up listener %s on %s (%s: %s); workers poll for jobs until it is back",
            what,
            self._where,
            type(exc).__name__,
            exc,
            exc_info=level == logging.ERROR,
        )
