"""Taking in what M-Pesa posts to us: STK callbacks, C2B requests, Transaction Status results.

Each function records the message as an event and has its session reconciled in the caller's
transaction (or queued; hisaab.realtime.triggers), then returns the acknowledgement Daraja
expects. Nothing is dropped: a payload with a wrong or missing secret, or one that cannot be
read, is kept as a `rejected` event (and the caller answers 403 or 422 after committing it); a
repeat is kept as a repeat and changes nothing; a callback whose session is not yet recorded
is kept and reconciled when the session appears.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from hisaab.errors import Forbidden, HisaabError, InputError
from hisaab.mpesa.errors import MpesaPayloadError
from hisaab.mpesa.payloads import (
    c2b_confirmation_ack,
    c2b_validation_answer,
    parse_c2b,
    parse_stk_callback,
    parse_transaction_status_result,
)
from hisaab.realtime import repository as repo
from hisaab.realtime import service, triggers

ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}


@dataclass(frozen=True)
class Intake:
    """What to answer: Daraja's acknowledgement, or an error to raise once the event commits."""

    answer: dict[str, Any]
    error: HisaabError | None = None
    event_id: int | None = None


def secret_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time check of a callback URL's ?secret=; no configured secret accepts nothing."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def reject(
    db: Session, kind: str, raw: bytes, received_at: dt.datetime, error: HisaabError
) -> Intake:
    """Keep a refused payload for audit and say why it was refused."""
    recorded = repo.record_event(
        db,
        kind="rejected",
        payload=_text(raw),
        received_at=received_at,
        authenticated=False,
        note=f"{kind}: {error.describe()}"[:2000],
    )
    return Intake({}, error, recorded.id)


def forbidden(db: Session, kind: str, raw: bytes, received_at: dt.datetime) -> Intake:
    return reject(
        db,
        kind,
        raw,
        received_at,
        Forbidden("the callback secret is wrong or missing; the payload was recorded, not used"),
    )


def stk_callback(db: Session, raw: bytes, received_at: dt.datetime) -> Intake:
    try:
        callback = parse_stk_callback(_json(raw))
    except InputError as exc:
        return reject(db, "stk_callback", raw, received_at, exc)
    checkout = callback.checkout_request_id
    session_id = repo.session_id_for_checkout(db, checkout)
    event = repo.record_event(
        db,
        kind="stk_callback",
        payload=_text(raw),
        received_at=received_at,
        dedupe_key=checkout,
        session_id=session_id,
        checkout_request_id=checkout,
        receipt=callback.receipt,
        result_code=callback.result.code,
        amount_minor=callback.amount_minor,
        phone=callback.phone,
    )
    _reconcile(db, session_id, checkout, "stk_callback", received_at, event.id)
    return Intake(ACCEPTED, None, event.id)


def stk_callbacks(db: Session, arrived: list[tuple[bytes, dt.datetime]]) -> list[Intake]:
    """Many authenticated STK callbacks at once: the same as `stk_callback` for each, with a
    fixed number of statements (one round trip each on PostgreSQL) instead of three per
    callback. The group commit hands over every callback that arrived during one commit."""
    parsed: list[Any] = []
    for raw, _received_at in arrived:
        try:
            parsed.append(parse_stk_callback(_json(raw)))
        except InputError as exc:
            parsed.append(exc)
    good = [(n, cb) for n, cb in enumerate(parsed) if not isinstance(cb, InputError)]
    rows = [
        {
            "kind": "stk_callback",
            "payload": _text(arrived[n][0]),
            "received_at": arrived[n][1],
            "dedupe_key": cb.checkout_request_id,
            "first_of": cb.checkout_request_id,
            "session_id": None,  # the session that has its CheckoutRequestID, if any
            "checkout_request_id": cb.checkout_request_id,
            "receipt": cb.receipt,
            "result_code": cb.result.code,
            "amount_minor": cb.amount_minor,
            "phone": cb.phone,
            "authenticated": True,
            "note": None,
        }
        for n, cb in good
    ]
    recorded = repo.record_events(db, rows)
    triggers.reconcile_soon(
        db,
        [
            triggers.request(
                "stk_callback",
                row["received_at"],
                event_id,
                session_id=session_id,
                checkout_request_id=row["checkout_request_id"],
            )
            for row, (event_id, session_id) in zip(rows, recorded, strict=True)
        ],
    )
    answers: list[Intake] = []
    ids = iter(event_id for event_id, _session_id in recorded)
    for n, cb in enumerate(parsed):
        if isinstance(cb, InputError):
            raw, received_at = arrived[n]
            answers.append(reject(db, "stk_callback", raw, received_at, cb))
        else:
            answers.append(Intake(ACCEPTED, None, next(ids)))
    return answers


def c2b_validation(db: Session, raw: bytes, received_at: dt.datetime) -> Intake:
    """Accept a C2B payment whose account reference names a known session; keep the request."""
    try:
        payment = parse_c2b(_json(raw))
    except InputError as exc:
        recorded = reject(db, "c2b_validation", raw, received_at, exc)
        return Intake(c2b_validation_answer("C2B00016"), None, recorded.event_id)
    session_id = repo.session_for_reference(db, payment.bill_ref)
    answer = c2b_validation_answer(None if session_id else "C2B00012")
    event = repo.record_event(
        db,
        kind="c2b_validation",
        payload=_text(raw),
        received_at=received_at,
        session_id=session_id,
        receipt=payment.trans_id,
        amount_minor=payment.amount_minor,
        phone=payment.phone or payment.msisdn,
        note=None if session_id else f"no open session for account {payment.bill_ref!r}",
    )
    return Intake(answer, None, event.id)


def c2b_confirmation(db: Session, raw: bytes, received_at: dt.datetime) -> Intake:
    try:
        payment = parse_c2b(_json(raw))
    except InputError as exc:
        return reject(db, "c2b_confirmation", raw, received_at, exc)
    session_id = repo.session_for_reference(db, payment.bill_ref)
    event = repo.record_event(
        db,
        kind="c2b_confirmation",
        payload=_text(raw),
        received_at=received_at,
        dedupe_key=payment.trans_id,
        session_id=session_id,
        receipt=payment.trans_id,
        result_code="0",
        amount_minor=payment.amount_minor,
        phone=payment.phone or payment.msisdn,
        note=None if session_id else f"no open session for account {payment.bill_ref!r}",
    )
    if session_id is not None:
        _reconcile(db, session_id, None, "c2b_confirmation", received_at, event.id)
    elif not event.repeat:
        service.flag_unclaimed_payment(db, payment, event_id=event.id)
    return Intake(c2b_confirmation_ack(), None, event.id)


def transaction_status(db: Session, raw: bytes, received_at: dt.datetime) -> Intake:
    try:
        result = parse_transaction_status_result(_json(raw))
    except InputError as exc:
        return reject(db, "transaction_status", raw, received_at, exc)
    completed = result.result_code == "0" and (result.status or "").lower() == "completed"
    session_id = None
    if result.receipt:
        session_id = repo.session_for_receipt(db, result.receipt)
    phone = result.debit_party.phone if result.debit_party else None
    event = repo.record_event(
        db,
        kind="transaction_status",
        payload=_text(raw),
        received_at=received_at,
        dedupe_key=result.conversation_id or result.originator_conversation_id,
        session_id=session_id,
        # Only a completed transaction is evidence of payment (see rules.outcome_of).
        receipt=result.receipt if completed else None,
        result_code=result.result_code,
        amount_minor=result.amount_minor,
        phone=phone,
        note=None if completed else f"status {result.status!r}",
    )
    if session_id is not None:
        _reconcile(db, session_id, None, "transaction_status", received_at, event.id)
    return Intake(ACCEPTED, None, event.id)


def transaction_status_timeout(db: Session, raw: bytes, received_at: dt.datetime) -> Intake:
    """Daraja gave up on a Transaction Status query (QueueTimeOutURL): keep it, nothing else."""
    event = repo.record_event(
        db,
        kind="rejected",
        payload=_text(raw),
        received_at=received_at,
        note="transaction_status: the query timed out in Daraja's queue",
    )
    return Intake(ACCEPTED, None, event.id)


def _reconcile(
    db: Session,
    session_id: str | None,
    checkout_request_id: str | None,
    trigger: str,
    received_at: dt.datetime,
    event_id: int,
) -> None:
    triggers.reconcile_soon(
        db,
        [
            triggers.request(
                trigger,
                received_at,
                event_id,
                session_id=session_id,
                checkout_request_id=checkout_request_id,
            )
        ],
    )


def _json(raw: bytes) -> Any:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MpesaPayloadError(f"the body is not JSON: {exc}", expected="a JSON object") from None
    except RecursionError:
        raise MpesaPayloadError(
            "the body is nested too deeply to be an M-Pesa payload", expected="a JSON object"
        ) from None
    _refuse_nul(body)
    return body


def _refuse_nul(body: Any) -> None:
    """No M-Pesa field holds a NUL character (and PostgreSQL text cannot store one)."""
    waiting: list[tuple[str, Any]] = [("", body)]
    while waiting:
        path, value = waiting.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise MpesaPayloadError(
                    "a text holds a NUL character (\\u0000)", path=path or "(root)", expected="text"
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                waiting.append((path or "(root)", key))
                waiting.append((f"{path}.{key}" if path else str(key), item))
        elif isinstance(value, list):
            waiting.extend((f"{path}[{index}]", item) for index, item in enumerate(value))


def _text(raw: bytes) -> str:
    """The body as text for the record; a NUL byte (which PostgreSQL refuses) becomes U+FFFD."""
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
