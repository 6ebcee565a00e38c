"""The reconciliation rules of one payment session: what its evidence says, and what is wrong.

Pure functions over plain values, so every rule is tested without a database. The caller loads
the session and every event about it, calls `reconcile`, and persists the `Decision`.

What counts as evidence: only authenticated provider messages (STK callbacks, STK query
answers, Transaction Status results, C2B confirmations). A paid status is never granted on an
unauthenticated payload, and never on an unknown result code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hisaab.mpesa.codes import Outcome, classify
from hisaab.mpesa.errors import MpesaPayloadError
from hisaab.mpesa.phones import mask_phone

TERMINAL_UNPAID = frozenset({"failed", "cancelled", "expired"})
PROVIDER_KINDS = frozenset({"stk_callback", "stk_query", "transaction_status", "c2b_confirmation"})
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True)
class SessionView:
    id: str
    amount_minor: int
    currency: str
    phone: str
    status: str
    created_at: dt.datetime
    initiated_at: dt.datetime | None = None
    checkout_request_id: str | None = None


@dataclass(frozen=True)
class Evidence:
    """One event about the session, as stored (see hisaab.storage.realtime_models.MpesaEvent)."""

    id: int
    kind: str
    received_at: dt.datetime
    authenticated: bool = True
    repeat: bool = False  # a second copy of an event already recorded
    result_code: str | None = None
    amount_minor: int | None = None
    receipt: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Issue:
    type: str
    severity: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "severity": self.severity,
            "message": self.message,
            "details": self.details,
        }


@dataclass(frozen=True)
class Decision:
    session_status: str
    result_status: str  # matched | discrepancy | pending
    issues: tuple[Issue, ...]
    receipt: str | None = None
    paid_amount_minor: int | None = None
    result_code: str | None = None
    query_needed: bool = False  # the evidence is inconclusive: ask M-Pesa (STK Query)

    @property
    def severity(self) -> str | None:
        if not self.issues:
            return None
        return max((i.severity for i in self.issues), key=SEVERITY_RANK.__getitem__)


def outcome_of(event: Evidence) -> Outcome | None:
    """What a provider event says happened; None when it says nothing about the outcome."""
    if event.kind == "c2b_confirmation":
        return Outcome.PAID  # a confirmation is M-Pesa telling us the money moved
    if event.kind not in PROVIDER_KINDS or event.result_code is None:
        return None
    if event.kind == "transaction_status":
        # Transaction Status results carry the code of the query; "0" with a receipt is success.
        return Outcome.PAID if event.result_code == "0" and event.receipt else Outcome.UNKNOWN
    code = classify(event.result_code)
    if event.kind == "stk_callback" and code.query_first:
        # A callback saying 1019 (expired) does not settle the payment: M-Pesa is asked first,
        # and only its answer to the query concludes (shared/FORMATS.md, result codes).
        return Outcome.UNKNOWN
    return code.outcome


def reconcile(
    session: SessionView,
    events: Sequence[Evidence],
    *,
    now: dt.datetime,
    stuck_after: dt.timedelta,
    receipt_also_on: Sequence[str] = (),
) -> Decision:
    """Decide the session's status and find what disagrees.

    `receipt_also_on` names other sessions whose evidence carries the same M-Pesa receipt.
    """
    ordered = sorted(events, key=lambda e: (e.received_at, e.id))
    trusted = [e for e in ordered if e.authenticated and e.kind in PROVIDER_KINDS]
    issues: list[Issue] = []
    issues += _duplicate_callbacks(ordered)

    paid = [e for e in trusted if outcome_of(e) is Outcome.PAID and not e.repeat]
    final = [
        e
        for e in trusted
        if not e.repeat and outcome_of(e) in (Outcome.FAILED, Outcome.CANCELLED, Outcome.EXPIRED)
    ]
    status = session.status
    receipt = paid[0].receipt if paid else None
    paid_amount = paid[0].amount_minor if paid else None
    deciding = paid or final
    result_code = deciding[0].result_code if deciding else None
    query_needed = False

    if paid:
        evidence = paid[0]
        if status in TERMINAL_UNPAID:
            issues.append(
                Issue(
                    "status_mismatch",
                    "high",
                    f"M-Pesa reports a successful payment but the session is {status}",
                    {"session_status": status, "receipt": evidence.receipt},
                )
            )
        if evidence.amount_minor is not None and evidence.amount_minor != session.amount_minor:
            issues.append(
                Issue(
                    "amount_mismatch",
                    "high",
                    "M-Pesa amount differs from the session amount",
                    {
                        "expected_minor": session.amount_minor,
                        "received_minor": evidence.amount_minor,
                        "currency": session.currency,
                    },
                )
            )
        elif status in ("pending", "processing"):
            status = "paid"
        if evidence.phone and not phones_agree(session.phone, evidence.phone):
            issues.append(
                Issue(
                    "phone_mismatch",
                    "medium",
                    "the paying phone number differs from the session's",
                    {
                        "expected": masked_phone(session.phone),
                        "received": masked_phone(evidence.phone),
                    },
                )
            )
        if receipt and receipt_also_on:
            issues.append(
                Issue(
                    "duplicate_receipt",
                    "high",
                    f"M-Pesa receipt {receipt} is also evidence for another session",
                    {"receipt": receipt, "other_sessions": sorted(receipt_also_on)},
                )
            )
        conflicting = [e for e in final if e.received_at <= evidence.received_at]
        if conflicting and session.status not in TERMINAL_UNPAID:
            issues.append(
                Issue(
                    "status_mismatch",
                    "high",
                    "M-Pesa reported both a failure and a success for this payment",
                    {"failure_code": conflicting[0].result_code, "receipt": evidence.receipt},
                )
            )
    elif status == "paid":
        # Paid here, yet no M-Pesa message says so (or M-Pesa says it failed).
        issues.append(
            Issue(
                "status_mismatch",
                "high",
                "the session is paid but M-Pesa has confirmed no payment",
                {"failure_code": final[0].result_code} if final else {},
            )
        )
    elif final:
        if status in ("pending", "processing"):
            status = _status_for(outcome_of(final[0]))
    else:
        inconclusive = [e for e in trusted if outcome_of(e) is Outcome.UNKNOWN]
        query_needed = status == "processing" and (
            bool(inconclusive) or _waited_too_long(session, now, stuck_after)
        )

    issues += _timing_issues(session, ordered, trusted, status, now, stuck_after)
    if issues:
        result = "discrepancy"
    elif status in ("pending", "processing"):
        result = "pending"
    else:
        result = "matched"
    return Decision(
        session_status=status,
        result_status=result,
        issues=tuple(issues),
        receipt=receipt,
        paid_amount_minor=paid_amount,
        result_code=result_code,
        query_needed=query_needed,
    )


def _status_for(outcome: Outcome | None) -> str:
    if outcome is Outcome.CANCELLED:
        return "cancelled"
    if outcome is Outcome.EXPIRED:
        return "expired"
    return "failed"


def _waited_too_long(session: SessionView, now: dt.datetime, stuck_after: dt.timedelta) -> bool:
    started = session.initiated_at or session.created_at
    return now - started > stuck_after


def _duplicate_callbacks(events: Sequence[Evidence]) -> list[Issue]:
    callbacks = [e for e in events if e.kind == "stk_callback" and e.authenticated]
    repeats = [e for e in callbacks if e.repeat]
    if not repeats:
        return []
    first = next((e for e in callbacks if not e.repeat), None)
    codes = {e.result_code for e in callbacks}
    if len(codes) > 1:
        return [
            Issue(
                "duplicate_callback",
                "high",
                "M-Pesa sent contradicting callbacks for the same request",
                {"result_codes": sorted(c or "" for c in codes), "copies": len(callbacks)},
            )
        ]
    return [
        Issue(
            "duplicate_callback",
            "low",
            f"the same callback arrived {len(callbacks)} times; repeats changed nothing",
            {"copies": len(callbacks), "first_event_id": first.id if first else None},
        )
    ]


def _timing_issues(
    session: SessionView,
    events: Sequence[Evidence],
    trusted: Sequence[Evidence],
    status: str,
    now: dt.datetime,
    stuck_after: dt.timedelta,
) -> list[Issue]:
    issues: list[Issue] = []
    started = session.initiated_at or session.created_at
    callbacks = [e for e in trusted if e.kind == "stk_callback" and not e.repeat]
    # A callback that settles nothing (1037 timeout, 1019 before its query) leaves it stuck.
    conclusive = [e for e in callbacks if outcome_of(e) is not Outcome.UNKNOWN]
    settled_without_callback = status not in ("pending", "processing") and not callbacks
    queried = any(e.kind in ("stk_query", "transaction_status") for e in trusted)
    if settled_without_callback and queried and session.initiated_at is not None:
        issues.append(
            Issue(
                "missing_callback",
                "medium",
                "no callback arrived; the outcome came from a status query",
                {"initiated_at": session.initiated_at.isoformat()},
            )
        )
    if callbacks and callbacks[0].received_at - started > stuck_after:
        late_by = callbacks[0].received_at - started
        issues.append(
            Issue(
                "late_callback",
                "low",
                f"the callback arrived {int(late_by.total_seconds())} s after initiation",
                {"seconds": int(late_by.total_seconds())},
            )
        )
    if status == "processing" and not conclusive and now - started > stuck_after:
        issues.append(
            Issue(
                "stuck_processing",
                "medium",
                f"processing for {int((now - started).total_seconds())} s without an outcome",
                {"since": started.isoformat()},
            )
        )
    return issues


def phones_agree(expected: str, received: str) -> bool:
    """Whether a received MSISDN (possibly masked like 2547****149) can be the expected one.

    A masked number agrees when its visible leading and trailing digits are the expected
    number's: M-Pesa masks with as many stars as hidden digits (25470****149), Hisaab's own
    display with four whatever the length (2547****149). A hashed MSISDN (64 hex digits,
    C2B v1) cannot be compared and is not a mismatch.
    """
    received = received.strip()
    if len(received) == 64 and all(c in "0123456789abcdefABCDEF" for c in received):
        return True
    if "*" in received:
        head, tail = received.split("*", 1)[0], received.rsplit("*", 1)[1]
        if received[len(head) : len(received) - len(tail)].strip("*"):
            return False  # digits between two runs of stars: not a masking M-Pesa uses
        return (
            len(head) + len(tail) < len(expected)
            and expected.startswith(head)
            and expected.endswith(tail)
        )
    return received == expected


def masked_phone(phone: str) -> str:
    """A phone number fit to show: 2547****149; never the number itself, whatever it is."""
    try:
        return mask_phone(phone)
    except MpesaPayloadError:
        # Not a Kenyan mobile number (a foreign MSISDN in a C2B request): mask it all the same.
        text = phone.strip()
        return f"{text[:4]}****{text[-3:]}" if len(text) >= 10 else "****"
