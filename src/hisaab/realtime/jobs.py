"""Background work of real-time reconciliation, run by `hisaab worker` from the durable queue.

    realtime.reconcile   reconcile sessions after an event, when the trigger queued it (batched)
    mpesa.query          ask M-Pesa about one session's STK Push, then reconcile it
    realtime.stuck_check the periodic check: query sessions stuck in processing, re-arm itself
    realtime.alert       send one alert by email and SMS, deduplicated and rate-limited

Settings are read per job (`get_settings()`), so a worker follows its environment.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.orm import Session

from hisaab.config import get_settings
from hisaab.mpesa.client import DarajaClient
from hisaab.mpesa.errors import MpesaNotConfigured
from hisaab.queue.jobs import arm, batch_handler, enqueue, handler, queued
from hisaab.realtime import alerting, service, triggers
from hisaab.realtime import repository as repo
from hisaab.realtime.sessions import ask_daraja, record_query, stuck_sessions
from hisaab.storage.models import utcnow

logger = logging.getLogger("hisaab.realtime")

STUCK_CHECK_JOB = "realtime.stuck_check"


def _stuck_after() -> dt.timedelta:
    return dt.timedelta(seconds=get_settings().realtime_stuck_after_seconds)


@batch_handler(service.RECONCILE_JOB)
def reconcile_batch(db: Session, payloads: list[dict[str, Any]]) -> None:
    """Reconcile what was queued (the trigger could not, or was set not to, do it at once)."""
    triggers.reconcile_requests(db, payloads, stuck_after=_stuck_after())


@handler(service.QUERY_JOB)
def query_session(db: Session, payload: dict[str, Any]) -> None:
    session_id = str(payload["session_id"])
    # Looked at in a session of its own: the job's session has not touched the database yet,
    # so no connection (or transaction) of it waits while Daraja is asked.
    with Session(db.get_bind()) as peek:
        view = repo.load_session(peek, session_id)
    if view is None or view.status != "processing":
        return  # settled meanwhile: nothing to ask
    received = utcnow()
    if view.checkout_request_id:
        try:
            client = DarajaClient.from_settings(get_settings())
        except MpesaNotConfigured as exc:
            logger.warning("cannot query session %s: %s", session_id, exc.describe())
        else:
            with client:
                outcome = ask_daraja(client, view.checkout_request_id)
            record_query(
                db,
                session_id,
                view.checkout_request_id,
                outcome,
                trigger=str(payload.get("trigger", "query")),
            )
    service.reconcile_session(
        db,
        session_id,
        trigger="periodic_check" if payload.get("trigger") == "periodic_check" else "stk_query",
        stuck_after=_stuck_after(),
        event_received_at=received,
    )


@handler(STUCK_CHECK_JOB)
def stuck_check(db: Session, payload: dict[str, Any]) -> None:
    """Query every session stuck in processing (up to the batch size), then run again later."""
    settings = get_settings()
    for session_id, _checkout in stuck_sessions(db, settings):
        enqueue(db, service.QUERY_JOB, {"session_id": session_id, "trigger": "periodic_check"})
    interval = dt.timedelta(seconds=settings.realtime_check_interval_seconds)
    if queued(db, STUCK_CHECK_JOB) == 0:
        enqueue(db, STUCK_CHECK_JOB, {}, run_after=utcnow() + interval)


def ensure_periodic_check(db: Session) -> bool:
    """Arm the periodic check if no worker has (idempotent; called when a worker starts)."""
    return arm(db, STUCK_CHECK_JOB)


@handler(alerting.ALERT_JOB)
def send_alert(db: Session, payload: dict[str, Any]) -> None:
    alerting.deliver(db, payload, get_settings())
