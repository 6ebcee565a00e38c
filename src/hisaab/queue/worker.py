"""The worker: claims due jobs and runs each so its writes commit exactly once, with its completion.

A claimed job's handler runs in one transaction that ends by marking the job done, guarded by
`WHERE id = :id AND locked_by = :me AND status = 'running'`. If the guard touches no row,
another worker took the job over (this one overran the visibility timeout) and everything the
handler wrote is rolled back: the job's effects commit once, by whichever worker completes it.
A worker killed mid-job commits nothing; its claim ages past the visibility timeout and another
worker runs the job again (hisaab.queue.claim).

A handler that raises is rolled back, and the job goes back to `queued` with a backoff
(hisaab.queue.retry), or to `failed` once it has used its attempts; `last_error` keeps why.
A job of a kind nobody handles fails at once, without retries.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import json
import logging
import math
import os
import random
import secrets
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from types import FrameType
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hisaab.queue.claim import (
    DEFAULT_VISIBILITY_TIMEOUT,
    ClaimedJob,
    SessionFactory,
    anything_due,
    claim,
    claim_many,
)
from hisaab.queue.jobs import (
    BATCH_HANDLERS,
    HANDLER_MODULES,
    HANDLERS,
    BadPayload,
    BatchHandler,
    Handler,
)
from hisaab.queue.retry import RetryPolicy
from hisaab.storage.models import QueueJob, utcnow
from hisaab.storage.sql import one_of

logger = logging.getLogger("hisaab.worker")

MAX_ERROR_CHARS = 2000


class Outcome(StrEnum):
    DONE = "done"  # the handler's writes and the job's completion committed
    RETRY = "retry"  # the handler failed; queued again after a backoff
    FAILED = "failed"  # no more attempts, unknown kind or unreadable payload
    LOST = "lost"  # another worker took the job over; nothing of this attempt was kept


class _LeaseLost(Exception):
    """The job is no longer this worker's: roll back what the handler wrote."""


def load_handlers(
    optional: Iterable[str] = HANDLER_MODULES, required: Iterable[str] = ()
) -> Mapping[str, Handler]:
    """Import the modules that register handlers, then return the registry.

    A missing `optional` module is skipped with a log line (a deployment may not have every
    area); a missing `required` one (named by the operator) raises ModuleNotFoundError.
    """
    for name in optional:
        _import_optional(name)
    for name in required:
        importlib.import_module(name)
    return HANDLERS


@functools.cache
def _import_optional(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # Only the module itself (or its package) missing is skipped: a module that exists but
        # fails on a missing dependency of its own is a bug to report, not to hide.
        if exc.name is None or not (name == exc.name or name.startswith(exc.name + ".")):
            raise
        logger.warning("handler module %s is not available; its job kinds stay unhandled", name)
        return False
    return True


def run_one(
    session_factory: SessionFactory,
    job: ClaimedJob,
    *,
    handlers: Mapping[str, Handler] | None = None,
    policy: RetryPolicy | None = None,
    rand: Callable[[], float] = random.random,
) -> Outcome:
    """Run a job this worker has claimed and record how it ended."""
    policy = policy or RetryPolicy()
    registry = load_handlers() if handlers is None else handlers
    run = registry.get(job.kind)
    if run is None:
        known = ", ".join(sorted(registry)) or "none"
        return _give_up(
            session_factory,
            job,
            f"unknown job kind {job.kind!r}: no handler is registered for it (known: {known})",
        )
    try:
        payload = _parse_payload(job.payload)
    except ValueError as exc:
        return _give_up(session_factory, job, f"unreadable payload: {exc}")
    try:
        with session_factory() as session, session.begin():
            with _commits_refused(session):
                run(session, payload)
            if not _release(session, job, {"status": "done"}):
                raise _LeaseLost
    except _LeaseLost:
        logger.warning(
            "job %d (%s) was taken over by another worker; attempt %d rolled back",
            job.id,
            job.kind,
            job.attempts,
        )
        return Outcome.LOST
    except BadPayload as exc:
        return _give_up(session_factory, job, f"bad payload: {exc}")
    except Exception as exc:
        return _record_failure(session_factory, job, exc, policy, rand)
    logger.info("job %d (%s) done on attempt %d", job.id, job.kind, job.attempts)
    return Outcome.DONE


def run_batch(
    session_factory: SessionFactory,
    jobs: Sequence[ClaimedJob],
    run: BatchHandler,
    *,
    policy: RetryPolicy | None = None,
    rand: Callable[[], float] = random.random,
) -> list[Outcome]:
    """Run claimed jobs of one kind in one transaction that also marks them all done.

    If the batch fails, each job is run again on its own (`run_one`), so a job that fails
    alone is retried alone and the others complete. If any job of the batch was taken over by
    another worker, nothing of the batch is kept (the others come back after their timeout).
    """
    policy = policy or RetryPolicy()
    outcomes: list[Outcome] = []
    ready: list[tuple[ClaimedJob, dict[str, Any]]] = []
    for job in jobs:
        try:
            ready.append((job, _parse_payload(job.payload)))
        except ValueError as exc:
            outcomes.append(_give_up(session_factory, job, f"unreadable payload: {exc}"))
    if not ready:
        return outcomes
    try:
        with session_factory() as session, session.begin():
            with _commits_refused(session):
                run(session, [payload for _, payload in ready])
            if _release_many(session, [job for job, _ in ready]) != len(ready):
                raise _LeaseLost
    except _LeaseLost:
        logger.warning("a batch of %d jobs was partly taken over; rolled back", len(ready))
        return outcomes + [Outcome.LOST] * len(ready)
    except Exception as exc:
        logger.warning(
            "a batch of %d %s jobs failed (%s: %s); running them one by one",
            len(ready),
            ready[0][0].kind,
            type(exc).__name__,
            exc,
        )
        single = {job.kind: _single(run) for job, _ in ready}
        for job, _ in ready:
            outcomes.append(
                run_one(session_factory, job, handlers=single, policy=policy, rand=rand)
            )
        return outcomes
    return outcomes + [Outcome.DONE] * len(ready)


def _single(run: BatchHandler) -> Handler:
    return lambda session, payload: run(session, [payload])


def _release_many(session: Session, jobs: Sequence[ClaimedJob]) -> int:
    released = session.execute(
        update(QueueJob)
        .where(
            one_of(QueueJob.__table__.c.id, [job.id for job in jobs], session),
            QueueJob.locked_by == jobs[0].worker_id,
            QueueJob.status == "running",
        )
        .values(status="done")
        .returning(QueueJob.id)
        .execution_options(synchronize_session=False)
    ).all()
    return len(released)


def _parse_payload(text: str) -> dict[str, Any]:
    payload = json.loads(text)
    if not isinstance(payload, dict):
        raise ValueError(f"expected a JSON object, got {type(payload).__name__}")
    return payload


@contextmanager
def _commits_refused(session: Session) -> Iterator[None]:
    """A handler that commits would split its writes from the job's completion: refuse it."""

    def refuse(committing: Session) -> None:
        if not committing.in_nested_transaction():  # savepoints are fine
            raise RuntimeError(
                "a job handler must not commit: its writes commit with the job's completion"
            )

    event.listen(session, "before_commit", refuse)
    try:
        yield
    finally:
        event.remove(session, "before_commit", refuse)


def _release(session: Session, job: ClaimedJob, values: Mapping[str, Any]) -> bool:
    """Update the job only if this worker still holds it; False when it has been taken over."""
    released = session.execute(
        update(QueueJob)
        .where(
            QueueJob.id == job.id,
            QueueJob.locked_by == job.worker_id,
            QueueJob.status == "running",
        )
        .values(dict(values))
        .returning(QueueJob.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return released is not None


def _record_failure(
    session_factory: SessionFactory,
    job: ClaimedJob,
    exc: Exception,
    policy: RetryPolicy,
    rand: Callable[[], float],
) -> Outcome:
    error = _truncate(
        f"attempt {job.attempts}/{policy.max_attempts}: {type(exc).__qualname__}: {exc}"
    )
    if policy.gives_up(job.attempts):
        values: dict[str, Any] = {"status": "failed", "last_error": error}
        outcome = Outcome.FAILED
    else:
        delay = policy.delay(job.attempts, rand)
        values = {
            "status": "queued",
            "run_after": utcnow() + delay,
            "locked_by": None,
            "locked_at": None,
            "last_error": error,
        }
        outcome = Outcome.RETRY
    with session_factory() as session, session.begin():
        if not _release(session, job, values):
            logger.warning(
                "job %d (%s) failed after another worker took it over: %s", job.id, job.kind, exc
            )
            return Outcome.LOST
    if outcome is Outcome.RETRY:
        logger.warning(
            "job %d (%s) attempt %d/%d failed; next try in %.1f s",
            job.id,
            job.kind,
            job.attempts,
            policy.max_attempts,
            delay.total_seconds(),
            exc_info=exc,
        )
    else:
        logger.error(
            "job %d (%s) failed for good after %d attempts",
            job.id,
            job.kind,
            job.attempts,
            exc_info=exc,
        )
    return outcome


def _give_up(session_factory: SessionFactory, job: ClaimedJob, reason: str) -> Outcome:
    """Fail a job that no retry can help."""
    with session_factory() as session, session.begin():
        if not _release(session, job, {"status": "failed", "last_error": _truncate(reason)}):
            return Outcome.LOST
    logger.error("job %d failed without retries: %s", job.id, reason)
    return Outcome.FAILED


def _truncate(text: str) -> str:
    if len(text) <= MAX_ERROR_CHARS:
        return text
    return text[: MAX_ERROR_CHARS - 1] + "…"


def default_worker_id() -> str:
    """host:pid:random, unique per worker process even when a pid is reused."""
    return f"{socket.gethostname()[:150]}:{os.getpid()}:{secrets.token_hex(4)}"


class Worker:
    """Polls the queue and runs due jobs one at a time until stopped (or, `once`, until idle)."""

    def __init__(
        self,
        session_factory: SessionFactory,
        *,
        worker_id: str | None = None,
        poll_seconds: float = 1.0,
        visibility_timeout: dt.timedelta = DEFAULT_VISIBILITY_TIMEOUT,
        policy: RetryPolicy | None = None,
        handlers: Mapping[str, Handler] | None = None,
        batch_handlers: Mapping[str, BatchHandler] | None = None,
        kinds: Sequence[str] | None = None,
        batch_size: int = 200,
        idle_poll_seconds: float = 0.02,
    ) -> None:
        if poll_seconds <= 0:
            raise ValueError("poll_seconds must be positive")
        if visibility_timeout <= dt.timedelta(0):
            raise ValueError("visibility_timeout must be positive")
        self.session_factory = session_factory
        self.worker_id = worker_id or default_worker_id()
        self.poll_seconds = poll_seconds
        self.visibility_timeout = visibility_timeout
        self.policy = policy or RetryPolicy()
        self.handlers = handlers
        # Tests that pass their own handlers get no batch handlers unless they ask for them.
        if batch_handlers is None:
            batch_handlers = BATCH_HANDLERS if handlers is None else {}
        self.batch_handlers = batch_handlers
        self.kinds = None if kinds is None else tuple(kinds)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        if idle_poll_seconds <= 0:
            raise ValueError("idle_poll_seconds must be positive")
        self.idle_poll_seconds = idle_poll_seconds
        self.outcomes: Counter[Outcome] = Counter()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._last_sweep = -math.inf

    def run(self, *, once: bool = False) -> Counter[Outcome]:
        """Work until `stop()` (or a signal, see `handle_signals`); `once`: until nothing is due.

        Database errors are logged and retried after the poll interval, except with `once`,
        where they end the run: a job whose outcome could not be recorded stays `running` and
        comes back after the visibility timeout.
        """
        handlers = load_handlers() if self.handlers is None else self.handlers
        logger.info(
            "worker %s started (poll every %g s, visibility timeout %g s, %d attempts)",
            self.worker_id,
            self.poll_seconds,
            self.visibility_timeout.total_seconds(),
            self.policy.max_attempts,
        )
        last_full_claim = 0.0
        woken = False  # told that work was committed: claim without looking first
        while not self._stopping.is_set():
            try:
                # While idle, look for work with a read (no write lock) and claim for real
                # only when something is queued, or once per poll interval for abandoned jobs.
                if (
                    not woken
                    and time.monotonic() - last_full_claim < self.poll_seconds
                    and not anything_due(self.session_factory, kinds=self.kinds)
                ):
                    woken = self._idle_wait()
                    continue
                woken = False
                last_full_claim = time.monotonic()
                ran = self._step(handlers)
            except SQLAlchemyError as exc:
                if once:
                    raise
                logger.warning("database error, trying again in %.2f s: %s", self.poll_seconds, exc)
                self._stopping.wait(self.poll_seconds)
                continue
            if ran:
                last_full_claim = 0.0  # busy: keep claiming without the read-only look
                continue
            if once:
                break
            woken = self._idle_wait()
        summary = ", ".join(f"{count} {o.value}" for o, count in sorted(self.outcomes.items()))
        logger.info("worker %s stopped (%s)", self.worker_id, summary or "no jobs run")
        return self.outcomes

    def _step(self, handlers: Mapping[str, Handler]) -> bool:
        """Claim and run a batch, else one job; False when nothing was due."""
        batch_kinds = [k for k in self.batch_handlers if self.kinds is None or k in self.kinds]
        sweep = self._sweep_due()  # at most one sweep a step, by whichever claim comes first
        if batch_kinds:
            jobs = claim_many(
                self.session_factory,
                self.worker_id,
                limit=self.batch_size,
                kinds=batch_kinds,
                visibility_timeout=self.visibility_timeout,
                max_attempts=self.policy.max_attempts,
                sweep=sweep,
            )
            if jobs:
                by_kind: dict[str, list[ClaimedJob]] = {}
                for claimed in jobs:
                    by_kind.setdefault(claimed.kind, []).append(claimed)
                for kind, group in by_kind.items():
                    outcomes = run_batch(
                        self.session_factory, group, self.batch_handlers[kind], policy=self.policy
                    )
                    self.outcomes.update(outcomes)
                return True
        # Batched kinds were just claimed above; one that arrived since waits for the next
        # batch rather than running alone at a batch's cost.
        job = claim(
            self.session_factory,
            self.worker_id,
            visibility_timeout=self.visibility_timeout,
            max_attempts=self.policy.max_attempts,
            kinds=self.kinds,
            exclude=batch_kinds,
            sweep=sweep and not batch_kinds,
        )
        if job is None:
            return False
        self.outcomes[
            run_one(self.session_factory, job, handlers=handlers, policy=self.policy)
        ] += 1
        return True

    def _sweep_due(self) -> bool:
        """Whether this claim should also fail exhausted abandoned jobs: once a poll interval."""
        now = time.monotonic()
        if now - self._last_sweep < self.poll_seconds:
            return False
        self._last_sweep = now
        return True

    def _idle_wait(self) -> bool:
        """Wait until woken or the idle interval passes; True if woken."""
        woken = self._wake.wait(self.idle_seconds)
        self._wake.clear()
        return woken

    # True while a wake-up listener (hisaab.queue.wakeup) passes on every enqueue as `wake()`.
    _listening = False

    @property
    def idle_seconds(self) -> float:
        """How long an idle worker waits before looking again (at most the poll interval).

        While a wake-up listener is live, enqueued jobs wake the worker and the idle wait is the
        whole poll interval, a safety net; otherwise the worker looks every `idle_poll_seconds`.
        """
        if self._listening:
            return self.poll_seconds
        return min(self.poll_seconds, self.idle_poll_seconds)

    def set_listening(self, live: bool) -> None:
        """Say whether a wake-up listener is live; the worker looks for work at once either way."""
        self._listening = live
        self._wake.set()

    def wake(self) -> None:
        """Look for work now (a producer just committed some)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop after the job in hand (if any); wakes the worker if it is waiting."""
        self._stopping.set()
        self._wake.set()

    def handle_signals(self) -> None:
        """SIGTERM and SIGINT stop the worker after its current job (main thread only)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        logger.info("%s: stopping after the current job", signal.Signals(signum).name)
        self.stop()
        # A second signal acts as usual and ends the job in hand: its transaction rolls back and
        # the job comes back after the visibility timeout, exactly as after a SIGKILL.
        default = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
        signal.signal(signum, default)
