"""Reconciling one payment session: load its evidence, apply the rules, persist and announce.

Runs inside the caller's transaction (a queue job's, or an API request's for a manual trigger),
so the session's new status, the result row, the discrepancies, the alert jobs and the
broadcast all commit together or not at all: a worker killed halfway leaves nothing, and the
job runs again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from hisaab.alerts.message import Alert, Issue
from hisaab.audit.log import Entry as AuditEntry
from hisaab.audit.log import record_many
from hisaab.money import Money
from hisaab.mpesa.payloads.c2b import C2BPayment
from hisaab.mpesa.phones import mask_phone
from hisaab.pubsub import publish, publish_many
from hisaab.queue.jobs import enqueue
from hisaab.realtime import repository as repo
from hisaab.realtime import rules
from hisaab.realtime.alerting import ALERT_JOB
from hisaab.storage.models import utcnow

RECONCILE_JOB = "realtime.reconcile"
QUERY_JOB = "mpesa.query"
# A callback nobody claims is kept; it becomes an orphan only if no session claims it by then.
ORPHAN_GRACE = dt.timedelta(seconds=30)
# After an inconclusive callback (1037 timeout, 1001 busy...), ask M-Pesa this much later.
QUERY_DELAY = dt.timedelta(seconds=20)


@dataclass
class Outcome:
    session_id: str
    status: str  # matched | discrepancy | pending | failed
    message: dict[str, Any]  # the `reconciliation_result` data sent to WebSocket clients
    new_issues: list[rules.Issue] = field(default_factory=list)


@dataclass(frozen=True)
class Request:
    """Why a session is being reconciled: the trigger, and the event that caused it."""

    trigger: str
    event_received_at: dt.datetime | None = None
    event_id: int | None = None


def reconcile_session(
    db: Session,
    session_id: str,
    *,
    trigger: str,
    stuck_after: dt.timedelta,
    event_received_at: dt.datetime | None = None,
    event_id: int | None = None,
) -> Outcome:
    request = Request(trigger, event_received_at, event_id)
    return reconcile_sessions(db, {session_id: request}, stuck_after=stuck_after)[0]


def reconcile_sessions(
    db: Session, requests: Mapping[str, Request], *, stuck_after: dt.timedelta
) -> list[Outcome]:
    """Reconcile many sessions with a fixed number of statements, whatever their number.

    Sessions are read (and locked, on PostgreSQL, in id order so concurrent workers cannot
    deadlock) in one statement, their evidence and any receipts they share in another; the
    rules run per session in Python; statuses and results are written together (one
    statement on PostgreSQL). Discrepancies, queries and alerts, which are rare, go one by one.
    """
    started = utcnow()
    ids = sorted(requests)
    rows = repo.load_sessions(db, ids, lock=True)
    views = {sid: repo.view_of(row) for sid, row in rows.items()}
    evidence, holders = repo.load_evidence_many(db, list(views.values()))
    decisions: dict[str, rules.Decision] = {}
    for sid, view in views.items():
        mine = {e.receipt for e in evidence[sid] if e.receipt and e.authenticated}
        others = sorted({h for r in mine for h in holders.get(r, ())} - {sid})
        decisions[sid] = rules.reconcile(
            view, evidence[sid], now=started, stuck_after=stuck_after, receipt_also_on=others
        )
    now = utcnow()
    # A session that is not there is a failed reconciliation: counted (the stats' failures
    # and error rate) and announced like any other result.
    result_ids = repo.save_reconciliations(
        db,
        decisions,
        [
            (
                sid[:64],
                decisions[sid].result_status if sid in decisions else "failed",
                requests[sid].trigger,
                decisions[sid].issues if sid in decisions else (),
                requests[sid].event_received_at,
            )
            for sid in ids
        ],
        now,
    )
    outcomes: list[Outcome] = []
    announcements: list[dict[str, Any]] = []  # published together, in order, at the end
    for sid in ids:
        request = requests[sid]
        if sid not in views:
            message = _message(sid, "failed", None, request.trigger, now, request.event_received_at)
            message["resultId"] = result_ids.get(sid[:64])
            message["error"] = f"no payment session {sid!r}"
            announcements.append({"type": "reconciliation_result", "data": message})
            outcomes.append(Outcome(sid, "failed", message))
            continue
        decision = decisions[sid]
        row = {**rows[sid], **repo.outcome_values(decision, now)}
        new = [
            issue
            for issue in decision.issues
            if repo.note_discrepancy(db, subject=sid, session_id=sid, issue=issue, now=now)
        ]
        if decision.query_needed and request.trigger not in ("stk_query", "periodic_check"):
            enqueue(
                db,
                QUERY_JOB,
                {"session_id": sid, "trigger": "inconclusive_callback"},
                run_after=now + QUERY_DELAY,
            )
        message = _message(
            sid, decision.result_status, row, request.trigger, now, request.event_received_at
        )
        message["resultId"] = result_ids.get(sid)
        message["issues"] = [i.as_dict() for i in decision.issues]
        announcements.append({"type": "reconciliation_result", "data": message})
        for issue in new:
            announcements.append(discrepancy_alert(sid, issue, now))
            if issue.severity == "high":
                enqueue(db, ALERT_JOB, {"alert": _alert(row, issue, now).to_payload()})
        outcomes.append(Outcome(sid, decision.result_status, message, new))
    publish_many(db, announcements)
    return outcomes


def reconcile_by_admin(
    db: Session, session_ids: Sequence[str], *, trigger: str, stuck_after: dt.timedelta, actor: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """Reconcile the named sessions now, for an admin: (their results in the order asked,
    the ids no session has). Every session is locked first, in id order, and the audit entries
    come last, as in every other transaction that reconciles: two of them never wait for
    each other in opposite orders."""
    wanted = list(dict.fromkeys(session_ids))
    known = repo.load_sessions(db, wanted)
    missing = [sid for sid in wanted if sid not in known]
    now = utcnow()
    outcomes = reconcile_sessions(
        db,
        {sid: Request(trigger, now) for sid in wanted if sid in known},
        stuck_after=stuck_after,
    )
    by_id = {outcome.session_id: outcome for outcome in outcomes}
    found = [sid for sid in wanted if sid in known]
    record_many(
        db,
        [
            AuditEntry(
                actor_id=actor,
                action="realtime.reconcile",
                entity="payment_session",
                entity_id=sid,
                details={"trigger": trigger, "status": by_id[sid].status},
            )
            for sid in found
        ],
    )
    return [by_id[sid].message for sid in found], missing


def reconcile_orphan(
    db: Session, checkout_request_id: str, *, received_at: dt.datetime, event_id: int | None
) -> Outcome | None:
    """A callback for an unknown CheckoutRequestID: wait for its session, then call it orphan."""
    session_id = repo.session_id_for_checkout(db, checkout_request_id)
    if session_id is not None:
        return None  # the initiation is now recorded; the caller reconciles the session
    now = utcnow()
    if now - received_at < ORPHAN_GRACE:
        enqueue(
            db,
            RECONCILE_JOB,
            {
                "checkout_request_id": checkout_request_id,
                "trigger": "orphan_recheck",
                "received_at": received_at.isoformat(),
                "event_id": event_id,
            },
            run_after=received_at + ORPHAN_GRACE,
        )
        return Outcome("", "pending", {})
    issue = rules.Issue(
        "orphan_callback",
        "medium",
        "a callback arrived for a CheckoutRequestID no payment session has",
        {"checkout_request_id": checkout_request_id, "event_id": event_id},
    )
    subject = f"checkout:{checkout_request_id}"
    if repo.note_discrepancy(db, subject=subject, session_id=None, issue=issue, now=now):
        publish(db, discrepancy_alert(subject, issue, now))
        return Outcome(subject, "discrepancy", {}, [issue])
    return Outcome(subject, "discrepancy", {})


def flag_unclaimed_payment(db: Session, payment: C2BPayment, *, event_id: int) -> bool:
    """A C2B payment M-Pesa confirmed for an account reference no payment session has.

    The money has arrived and nothing claims it: a high-severity `orphan_callback` for the
    M-Pesa transaction (subject `c2b:<TransID>`), broadcast and sent by email and SMS, so that
    someone applies or refunds it. Recorded once per transaction (the intake does not call this
    for a repeated confirmation, which is the same payment). True when it is new.
    """
    now = utcnow()
    amount = Money(payment.amount_minor, payment.currency)
    account = f"account {payment.bill_ref!r}" if payment.bill_ref else "no account reference"
    issue = rules.Issue(
        "orphan_callback",
        "high",
        f"M-Pesa confirmed a C2B payment of {amount} with {account}, which no payment session has",
        {
            "kind": "c2b_confirmation",
            "trans_id": payment.trans_id,
            "bill_ref_number": payment.bill_ref,
            "amount_minor": payment.amount_minor,
            "currency": payment.currency,
            "phone": mask_phone(payment.phone) if payment.phone else None,
            "event_id": event_id,
        },
    )
    subject = f"c2b:{payment.trans_id}"
    if not repo.note_discrepancy(db, subject=subject, session_id=None, issue=issue, now=now):
        return False
    publish(db, discrepancy_alert(subject, issue, now))
    alert = Alert(
        session_id=subject,
        kind=issue.type,
        severity="high",
        issues=(Issue(issue.type, issue.message),),
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        receipt=payment.trans_id,
        phone=payment.phone,
        detected_at=now,
    )
    enqueue(db, ALERT_JOB, {"alert": alert.to_payload()})
    return True


def discrepancy_alert(subject: str, issue: rules.Issue, now: dt.datetime) -> dict[str, Any]:
    return {
        "type": "discrepancy_alert",
        "data": {
            "sessionId": subject,
            "issues": [{"type": issue.type, "message": issue.message, "details": issue.details}],
            "severity": issue.severity,
            "timestamp": _iso(now),
        },
    }


def _alert(row: Any, issue: rules.Issue, now: dt.datetime) -> Alert:
    return Alert(
        session_id=row["id"],
        kind=issue.type,
        severity=issue.severity,  # type: ignore[arg-type]
        issues=(Issue(issue.type, issue.message),),
        amount_minor=row["amount_minor"],
        currency=row["currency"],
        receipt=row["mpesa_receipt"],
        phone=row["phone"],
        detected_at=now,
    )


def _message(
    session_id: str,
    status: str,
    row: Any,
    trigger: str,
    now: dt.datetime,
    received_at: dt.datetime | None,
) -> dict[str, Any]:
    processing_ms = None
    if received_at is not None:
        processing_ms = round((now - received_at) / dt.timedelta(milliseconds=1), 3)
    return {
        "sessionId": session_id,
        "status": status,
        "sessionDetails": session_details(row) if row is not None else None,
        "reconciliationMetadata": {
            "trigger": trigger,
            "processingTime": processing_ms,  # ms from the event's arrival to this result
            "receivedAt": _iso(received_at) if received_at is not None else None,
            "timestamp": _iso(now),
        },
    }


def stored_result_message(result: Mapping[str, Any], row: Any) -> dict[str, Any]:
    """A stored result as the `reconciliation_result` data it was broadcast as (the session's
    details as they are now): what a client that fell behind fetches."""
    message = _message(
        result["session_id"],
        result["status"],
        row,
        result["trigger"],
        result["created_at"],
        result["event_received_at"],
    )
    message["resultId"] = result["id"]
    message["issues"] = json.loads(result["issues"] or "[]")
    if row is None:
        message["error"] = f"no payment session {result['session_id']!r}"
    return message


def session_details(row: Any) -> dict[str, Any]:
    """A session as shown to admins: exact amounts, phone numbers masked."""
    amount = Money(row["amount_minor"], row["currency"])
    paid = row["paid_amount_minor"]
    return {
        "merchantId": row["merchant_id"],
        "amount": str(amount.to_decimal()),
        "amountMinor": row["amount_minor"],
        "currency": row["currency"],
        "phone": mask_phone(row["phone"]),
        "accountReference": row["account_reference"],
        "sessionStatus": row["status"],
        "transactionId": row["mpesa_receipt"],
        "paidAmountMinor": paid,
        "resultCode": row["result_code"],
        "checkoutRequestId": row["checkout_request_id"],
    }


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
