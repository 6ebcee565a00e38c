"""What recording an event about a payment session sets off: that session's reconciliation.

Every trigger of the seed (payment initiation, STK callback, status query, C2B confirmation,
Transaction Status result) calls `reconcile_soon` in the transaction that records its event,
with one request per event:

    {"trigger": "stk_callback", "received_at": "<iso>", "event_id": 17,
     "session_id": "..."}            # or "checkout_request_id" when no session claims it yet

By default (`HISAAB_REALTIME_RECONCILE_AT_INTAKE`, on) the sessions are reconciled right there,
in that same transaction: the event, the session's new status, its result, its discrepancies
and the live messages commit together, and the result reaches WebSocket clients at that commit
instead of after a queue hop (a wake-up, a claim and two more commits). The durable queue stays
the safety net: if reconciling raises, it is rolled back to a savepoint and the requests are
queued as `realtime.reconcile` jobs for a worker, which retries with backoff. (In the group
commit's shared attempt the savepoint is left out: a failure there rolls the batch back, and
each callback is taken again alone, with the savepoint.) With the setting off, every request
is queued. Either way an event is never committed without its reconciliation being done or
queued.

`reconcile_requests` is the work itself, the same whether it runs at intake or in a worker
(the queue's batch handler for `realtime.reconcile`, hisaab.realtime.jobs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from hisaab.config import get_settings
from hisaab.queue.jobs import BadPayload, enqueue_many, run_now
from hisaab.realtime import repository as repo
from hisaab.realtime import service
from hisaab.storage.group_commit import retried_alone
from hisaab.storage.models import utcnow


def request(
    trigger: str,
    received_at: dt.datetime,
    event_id: int | None,
    *,
    session_id: str | None = None,
    checkout_request_id: str | None = None,
) -> dict[str, Any]:
    """One reconciliation request, as run now or stored as a queue job's payload."""
    payload: dict[str, Any] = {
        "trigger": trigger,
        "received_at": received_at.isoformat(),
        "event_id": event_id,
    }
    if session_id is not None:
        payload["session_id"] = session_id
    else:
        payload["checkout_request_id"] = checkout_request_id
    return payload


def reconcile_soon(db: Session, requests: Sequence[dict[str, Any]]) -> None:
    """Reconcile the sessions these requests name: now, in `db`'s transaction, or via the queue."""
    if not requests:
        return
    settings = get_settings()
    if not settings.realtime_reconcile_at_intake:
        enqueue_many(db, service.RECONCILE_JOB, requests)
        return
    stuck_after = dt.timedelta(seconds=settings.realtime_stuck_after_seconds)
    if retried_alone(db):
        # The group commit's shared attempt: a failure rolls back the whole batch and each
        # callback is taken again alone, where the savepoint below guards it. Skipping it here
        # saves two round trips per batch.
        reconcile_requests(db, list(requests), stuck_after=stuck_after)
        return
    run_now(
        db,
        service.RECONCILE_JOB,
        requests,
        lambda session, batch: reconcile_requests(session, batch, stuck_after=stuck_after),
    )


def reconcile_requests(
    db: Session, requests: list[dict[str, Any]], *, stuck_after: dt.timedelta
) -> None:
    """Reconcile each session named once, however many of its events are among the requests.

    A request for a CheckoutRequestID that no session has yet waits (see
    `service.reconcile_orphan`); one whose session has appeared meanwhile links the early
    events to it and reconciles it.
    """
    wanted: dict[str, dict[str, Any]] = {}
    for payload in requests:
        _check(payload)
        session_id = payload.get("session_id")
        if session_id is None:
            checkout = str(payload["checkout_request_id"])
            received = _received(payload) or utcnow()
            event_id = payload.get("event_id")
            if service.reconcile_orphan(db, checkout, received_at=received, event_id=event_id):
                continue
            session_id = repo.session_id_for_checkout(db, checkout)
            if session_id is None:
                continue
            linked = repo.link_events(db, session_id, checkout)
            if not linked and _seen_since(db, session_id, received):
                # The push's answer attached this callback and reconciled the session with
                # it (one transaction): another result would only repeat that one.
                continue
        earlier = wanted.get(str(session_id))
        if earlier is None or (_received(payload) or utcnow()) < (_received(earlier) or utcnow()):
            wanted[str(session_id)] = payload
    service.reconcile_sessions(
        db,
        {
            session_id: service.Request(
                str(payload.get("trigger", "event")),
                _received(payload),
                payload.get("event_id"),
            )
            for session_id, payload in wanted.items()
        },
        stuck_after=stuck_after,
    )


def _seen_since(db: Session, session_id: str, received: dt.datetime) -> bool:
    """Whether the session was reconciled after `received` (so with what arrived then)."""
    row = repo.session_row(db, session_id)
    reconciled = row["reconciled_at"] if row is not None else None
    if reconciled is None:
        return False
    at: dt.datetime = reconciled if reconciled.tzinfo else reconciled.replace(tzinfo=dt.UTC)
    return at >= received


def _check(payload: dict[str, Any]) -> None:
    """Refuse a request no retry can help (a queued job written by hand or by an old version)."""
    named = [k for k in ("session_id", "checkout_request_id") if payload.get(k) is not None]
    if not named:
        raise BadPayload("the request names neither session_id nor checkout_request_id")
    for key in (*named, "trigger"):
        if key in payload and not isinstance(payload[key], str):
            raise BadPayload(f"{key} must be text, got {payload[key]!r}")
    if "event_id" in payload and not isinstance(payload["event_id"], int | None):
        raise BadPayload(f"event_id must be an integer, got {payload['event_id']!r}")
    try:
        _received(payload)
    except (TypeError, ValueError):
        text = payload["received_at"]
        raise BadPayload(f"received_at is not an ISO 8601 time: {text!r}") from None


def _received(payload: dict[str, Any]) -> dt.datetime | None:
    text = payload.get("received_at")
    if not text:
        return None
    value = dt.datetime.fromisoformat(str(text))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
