"""Delivering discrepancy alerts by email and SMS, one queue job per channel.

A high-severity discrepancy enqueues one `realtime.alert` job (hisaab.realtime.service). That
job fans out into one job per configured channel, so a failure on one channel is retried on
that channel alone and never re-sends on another. A channel job applies the dedupe, rate-limit
and storm rules (hisaab.alerts.policy) against `realtime_alerts`, sends, and records the
outcome. A retryable failure raises, and the durable queue retries it with backoff; any other
failure is recorded as `failed` with its reason. Reconciliation never waits on any of this.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from hisaab.alerts.channels import Channel, DeliveryError, channels_from_settings
from hisaab.alerts.message import Alert
from hisaab.alerts.policy import KIND_WINDOW, decide
from hisaab.config import Settings
from hisaab.queue.jobs import enqueue
from hisaab.storage.models import utcnow
from hisaab.storage.realtime_models import RealtimeAlert

logger = logging.getLogger("hisaab.alerts")
ALERT_JOB = "realtime.alert"


def deliver(db: Session, payload: dict[str, Any], settings: Settings) -> None:
    alert = Alert.from_payload(payload["alert"])
    channels = channels_from_settings(settings)
    wanted = payload.get("channel")
    if wanted is None:
        if not channels:
            logger.warning(
                "no alert channel is configured; %s alert for %s is on the dashboard only",
                alert.kind,
                alert.session_id,
            )
        for channel in channels:
            enqueue(db, ALERT_JOB, {"alert": payload["alert"], "channel": channel.name})
        return
    chosen = next((c for c in channels if c.name == wanted), None)
    if chosen is None:
        logger.warning("alert channel %s is no longer configured; alert dropped", wanted)
        return
    _send(db, chosen, alert, settings)


def _send(db: Session, channel: Channel, alert: Alert, settings: Settings) -> None:
    now = utcnow()
    sent = (RealtimeAlert.status == "sent") & (RealtimeAlert.channel == channel.name)
    last_sent_at = db.scalar(
        select(func.max(RealtimeAlert.sent_at)).where(
            sent,
            RealtimeAlert.subject == alert.session_id,
            RealtimeAlert.type == alert.kind,
        )
    )
    kind_sent = int(
        db.scalar(
            select(func.count())
            .select_from(RealtimeAlert)
            .where(
                sent, RealtimeAlert.type == alert.kind, RealtimeAlert.sent_at >= now - KIND_WINDOW
            )
        )
        or 0
    )
    decision = decide(
        alert,
        _aware(last_sent_at),
        now,
        settings.alert_min_interval_seconds,
        kind_sent_last_minute=kind_sent,
    )
    row: dict[str, Any] = {
        "subject": alert.session_id,
        "type": alert.kind,
        "severity": alert.severity,
        "channel": channel.name,
        "created_at": now,
        "reason": decision.reason,
    }
    if not decision.sends:
        db.execute(insert(RealtimeAlert).values(**row, status="suppressed"))
        return
    try:
        receipt = channel.send(alert, note=decision.note)
    except DeliveryError as exc:
        if exc.retryable:
            raise  # the queue retries this channel's job with backoff
        db.execute(insert(RealtimeAlert).values(**row, status="failed", reason=exc.describe()))
        logger.error("alert by %s failed for good: %s", channel.name, exc.describe())
        return
    db.execute(
        insert(RealtimeAlert).values(
            **row, status="sent", sent_at=utcnow(), provider_id=receipt.message_id
        )
    )


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
