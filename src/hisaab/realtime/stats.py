"""Statistics of real-time reconciliation, read from the database so every process agrees.

Counts come from `realtime_results` (one row per reconciliation), queue figures from the
durable queue, and connected clients from the caller (each API process knows its own).
Percentiles are over the most recent results (`RECENT`), where a live dashboard wants them.

The figures scan the results table, so `Remembered` keeps them for a moment per process:
every dashboard polling an API process at once costs one computation a second, not one each
(connected clients, the process's own figure, is always current).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hisaab.realtime.repository import RESULTS
from hisaab.realtime.service import RECONCILE_JOB
from hisaab.storage.models import QueueJob, utcnow

RECENT = 10_000


def queue_figures(db: Session) -> tuple[int, int]:
    """(active, queued) reconciliation jobs."""
    rows = db.execute(
        select(QueueJob.status, func.count())
        .where(QueueJob.kind == RECONCILE_JOB, QueueJob.status.in_(("queued", "running")))
        .group_by(QueueJob.status)
    ).all()
    counts = {status: int(count) for status, count in rows}
    return counts.get("running", 0), counts.get("queued", 0)


def compute(db: Session, *, connected_clients: int) -> dict[str, Any]:
    by_status: dict[str, int] = {
        str(status): int(count)
        for status, count in db.execute(
            select(RESULTS.c.status, func.count()).group_by(RESULTS.c.status)
        ).all()
    }
    total = int(sum(by_status.values()))
    average_us, last = db.execute(
        select(func.avg(RESULTS.c.processing_us), func.max(RESULTS.c.created_at))
    ).one()
    recent = sorted(
        int(v)
        for v in db.scalars(
            select(RESULTS.c.processing_us)
            .where(RESULTS.c.processing_us.isnot(None))
            .order_by(RESULTS.c.id.desc())
            .limit(RECENT)
        )
    )
    minute_ago = utcnow() - dt.timedelta(minutes=1)
    last_minute = int(
        db.scalar(
            select(func.count()).select_from(RESULTS).where(RESULTS.c.created_at >= minute_ago)
        )
        or 0
    )
    active, queued = queue_figures(db)
    failed = int(by_status.get("failed", 0))
    return {
        "totalProcessed": total,
        "successfulReconciliations": int(by_status.get("matched", 0)),
        "failedReconciliations": failed,
        "discrepanciesDetected": int(by_status.get("discrepancy", 0)),
        "pendingReconciliations": int(by_status.get("pending", 0)),
        "averageProcessingTime": _ms(average_us),
        "p95ProcessingTime": _ms(_percentile(recent, 0.95)),
        "p99ProcessingTime": _ms(_percentile(recent, 0.99)),
        "activeReconciliations": active,
        "queueLength": queued,
        "connectedClients": connected_clients,
        "lastProcessedAt": _iso(last),
        "throughputPerMinute": last_minute,
        "errorRate": round(failed / total, 6) if total else 0.0,
    }


def _percentile(ordered: list[int], q: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n * q)
    return float(ordered[int(rank) - 1])


def _ms(microseconds: Any) -> float | None:
    if microseconds is None:
        return None
    return round(float(microseconds) / 1000.0, 3)


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Remembered:
    """`compute` at most once every `seconds` per process (0: every time)."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._figures: dict[str, Any] | None = None
        self._until = 0.0

    def get(self, sessions: Callable[[], Session], *, connected_clients: int) -> dict[str, Any]:
        with self._lock:
            if self._figures is None or self._clock() >= self._until:
                with sessions() as db:
                    self._figures = compute(db, connected_clients=connected_clients)
                self._until = self._clock() + self._seconds
            return {**self._figures, "connectedClients": connected_clients}
