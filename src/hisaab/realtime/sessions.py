"""Payment sessions: creating them, asking M-Pesa for the money (STK Push), querying the result.

Calls to Daraja happen outside any database transaction, between two short ones, and on the
event loop (AsyncDarajaClient): a push waiting for Daraja holds neither a connection, nor
SQLite's write lock, nor a thread. The first transaction takes the session (`pending` ->
`processing`, so two callers can never push twice), the second records what Daraja answered,
attaches callbacks that arrived before it, and reconciles the session (or queues that;
hisaab.realtime.triggers). If Daraja refuses, the session goes back to `pending` and the
refusal is kept as an event; if Daraja's answer cannot be recorded (a CheckoutRequestID that
another session holds), the session fails with the answer kept, and the caller gets a 502.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from anyio import CancelScope
from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hisaab.audit.log import Entry as AuditEntry
from hisaab.audit.log import record as audit
from hisaab.audit.log import record_many
from hisaab.auth.tokens import Claims
from hisaab.config import Settings
from hisaab.errors import Conflict, Forbidden, HisaabError, InputError, NotFound
from hisaab.money import exponent, normalize_currency
from hisaab.mpesa.client import AsyncDarajaClient, DarajaClient
from hisaab.mpesa.errors import DarajaError, MpesaNotConfigured
from hisaab.mpesa.payloads import QueryStatus, StkPushAnswer, StkQueryAnswer
from hisaab.mpesa.phones import normalise_phone
from hisaab.realtime import repository as repo
from hisaab.realtime import triggers
from hisaab.storage.group_commit import retried_alone
from hisaab.storage.models import utcnow

SessionFactory = Callable[[], Session]
T = TypeVar("T")
MAX_ID = 64
MAX_REFERENCE = 64
MAX_AMOUNT_MINOR = 2**63 - 1  # the BIGINT column
_PLAIN_AMOUNT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)


def parse_new_session(body: Mapping[str, Any]) -> dict[str, Any]:
    """Validate `{"sessionId"?, "merchantId", "amount", "currency"?, "phone", "accountReference"?}`.

    `amount` is in major units, a JSON number or a decimal string, read exactly (decode the
    JSON with `parse_float=Decimal`); more decimals than the currency has are refused.
    """
    unknown = sorted(
        set(body) - {"sessionId", "merchantId", "amount", "currency", "phone", "accountReference"}
    )
    if unknown:
        raise InputError(
            f"unknown field {unknown[0]!r}",
            column=unknown[0],
            expected="sessionId, merchantId, amount, currency, phone, accountReference",
        )
    currency = normalize_currency(_text(body, "currency", required=False) or "KES")
    merchant = _text(body, "merchantId", required=True, limit=32)
    phone = normalise_phone(_text(body, "phone", required=True, limit=32) or "", path="phone")
    session_id = _text(body, "sessionId", required=False, limit=MAX_ID) or new_session_id()
    reference = _text(body, "accountReference", required=False, limit=MAX_REFERENCE)
    return {
        "id": session_id,
        "merchant_id": merchant,
        "amount_minor": _amount_minor(body.get("amount"), currency),
        "currency": currency,
        "phone": phone,
        "account_reference": reference,
    }


def new_session_id() -> str:
    return f"ps_{secrets.token_hex(12)}"


def _text(body: Mapping[str, Any], name: str, *, required: bool, limit: int = 64) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InputError(f"{name} is required", column=name)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(f"{name} must be a string", column=name)
    text = str(value).strip()
    if len(text) > limit:
        raise InputError(f"{name} is longer than {limit} characters", column=name)
    return text


def _amount_minor(value: Any, currency: str) -> int:
    if value is None:
        raise InputError("amount is required", column="amount", expected='e.g. 2500 or "2500.00"')
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise InputError(f"amount {value!r} is not a number", column="amount")
    text = str(value).strip()
    if not _PLAIN_AMOUNT.fullmatch(text):
        # Exponents ("1e3"), digit groups and other scripts' digits are not how money is written.
        raise InputError(
            f"amount {value!r} is not a plain decimal number",
            column="amount",
            expected='digits with an optional decimal point, e.g. 2500 or "2500.50"',
        )
    amount = Decimal(text)
    if amount <= 0:
        raise InputError(f"amount {value!r} must be positive", column="amount")
    places = exponent(currency)
    minor = amount.scaleb(places)
    if minor != minor.to_integral_value():
        raise InputError(
            f"amount {value!r} has more than {places} decimals for {currency}", column="amount"
        )
    if minor > MAX_AMOUNT_MINOR:
        raise InputError(
            f"amount {value!r} is too large",
            column="amount",
            expected=f"at most {MAX_AMOUNT_MINOR} minor units",
        )
    return int(minor)


def check_merchant_access(
    claims: Claims, merchant_id: str, *, write: bool, session_id: str | None = None
) -> None:
    """Staff with the permission act on any merchant; a merchant-admin on its own only.

    To a merchant-admin, another merchant's session is answered word for word like a session
    that does not exist, and another merchant is not named back, so that a 404 never tells
    which ids are taken.
    """
    needed = "reconciliation:write" if write else "overview:read"
    if needed in claims.permissions:
        return
    if claims.merchant_id is not None and claims.merchant_id == merchant_id:
        return
    if claims.merchant_id is not None:
        if session_id is not None:
            raise NotFound(f"no payment session {session_id!r}")
        raise NotFound("no such merchant")  # not even echoed: it names another tenant
    raise Forbidden(f"the {claims.role} role lacks the permission {needed}")


def create_session(db: Session, values: dict[str, Any], claims: Claims) -> dict[str, Any]:
    """Insert a pending session (and its audit entry) in `db`'s transaction: a request's, or
    a group commit's (hisaab.storage.group_commit), where many sessions share one commit."""
    check_merchant_access(claims, values["merchant_id"], write=True)
    now = utcnow()
    statement = insert(repo.SESSIONS).values(
        **values, status="pending", created_by=claims.user_id, created_at=now, updated_at=now
    )
    if retried_alone(db):
        # A group's shared attempt: a taken id fails the batch, whose pieces then run alone
        # (below), so no savepoint is spent on the common case.
        db.execute(statement)
    else:
        try:
            with db.begin_nested():
                db.execute(statement)
        except IntegrityError:
            # Ids are unique across merchants; the answer says the id is taken, not whose.
            raise Conflict("the sessionId is already taken; choose another") from None
    record_many(db, [_created(values, claims)])
    row = repo.session_row(db, values["id"])
    assert row is not None
    return dict(row)


def create_sessions(
    db: Session, items: list[tuple[dict[str, Any], Claims]]
) -> list[dict[str, Any]]:
    """`create_session` for many (values, claims) at once: the group commit's batch function.

    In the group's shared attempt the sessions go in with one multi-row INSERT and their
    audit entries with one more (hisaab.audit.log.record_many); alone (after a clash), each
    goes through `create_session`, which names the taken id.
    """
    if not retried_alone(db):
        return [create_session(db, values, claims) for values, claims in items]
    now = utcnow()
    for values, claims in items:
        check_merchant_access(claims, values["merchant_id"], write=True)
    rows = [
        {
            **values,
            "status": "pending",
            "created_by": claims.user_id,
            "created_at": now,
            "updated_at": now,
        }
        for values, claims in items
    ]
    saved = db.connection().execute(_INSERT_SESSIONS, rows).mappings().all()
    by_id = {row["id"]: dict(row) for row in saved}
    record_many(db, [_created(values, claims) for values, claims in items])
    return [by_id[values["id"]] for values, _claims in items]


_INSERT_SESSIONS = insert(repo.SESSIONS).returning(*repo.SESSIONS.c)


def _created(values: dict[str, Any], claims: Claims) -> AuditEntry:
    return AuditEntry(
        actor_id=claims.user_id,
        action="payment_session.create",
        entity="payment_session",
        entity_id=values["id"],
        details={
            "merchant_id": values["merchant_id"],
            "amount_minor": values["amount_minor"],
            "currency": values["currency"],
        },
    )


def _pushed(session_id: str, claims: Claims, checkout_request_id: str) -> AuditEntry:
    return AuditEntry(
        actor_id=claims.user_id,
        action="payment_session.stk_push",
        entity="payment_session",
        entity_id=session_id,
        details={"checkout_request_id": checkout_request_id},
    )


def get_session(db: Session, session_id: str, claims: Claims) -> dict[str, Any]:
    row = repo.session_row(db, session_id)
    if row is None:
        raise NotFound(f"no payment session {session_id!r}")
    check_merchant_access(claims, row["merchant_id"], write=False, session_id=session_id)
    return dict(row)


def callback_url(settings: Settings, path: str) -> str:
    base = settings.mpesa_callback_url
    secret = settings.mpesa_callback_secret
    missing = [
        name
        for name, value in (
            ("HISAAB_MPESA_CALLBACK_URL", base),
            ("HISAAB_MPESA_CALLBACK_SECRET", secret.get_secret_value() if secret else None),
        )
        if not value
    ]
    if missing:
        raise MpesaNotConfigured(missing)
    assert base is not None and secret is not None
    query = urllib.parse.urlencode({"secret": secret.get_secret_value()})
    return f"{base.rstrip('/')}{path}?{query}"


Writer = Callable[[Callable[[Session], T]], Awaitable[T]]
# submit_many(item, many): `item` joins the others for `many` in the next group transaction.
BatchWriter = Callable[[Any, Callable[[Session, list[Any]], list[Any]]], Awaitable[Any]]


async def stk_push(
    write: Writer[Any],
    write_many: BatchWriter,
    session_id: str,
    claims: Claims,
    settings: Settings,
    client: AsyncDarajaClient,
    *,
    description: str = "Payment",
) -> dict[str, Any]:
    """Push a pending session: take it, ask Daraja (holding no thread, no connection and no
    write lock), record the answer. `write(work)` runs `work(session)` in a committed
    transaction, and `write_many(item, many)` passes `item` to a batch function with the
    others of its transaction (the API's group commit: GroupCommit.submit, submit_many).
    Once taken, the rest runs to its end even if the caller goes away, so a session is never
    left `processing` without what Daraja said."""
    url = callback_url(settings, "/api/mpesa/callback")
    row: dict[str, Any] = await write(lambda db: _take_for_push(db, session_id, claims))
    with CancelScope(shield=True):
        reference = row["account_reference"] or session_id[-12:]
        sent_at = utcnow()
        try:
            answer = await client.stk_push(
                row["amount_minor"], row["phone"], reference, description, url
            )
        except HisaabError as exc:
            await write(
                functools.partial(_push_refused, session_id=session_id, sent_at=sent_at, exc=exc)
            )
            raise
        recorded = await write_many(
            Accepted(session_id, claims, row, answer, sent_at), record_acceptances
        )
    if isinstance(recorded, _Untrackable):
        raise DarajaError(f"session {session_id!r}: {recorded.note}")
    fresh: dict[str, Any] = recorded
    return fresh


def _take_for_push(db: Session, session_id: str, claims: Claims) -> dict[str, Any]:
    """`pending` -> `processing`, so that two callers can never push the same session.

    One statement when the session is pending (the common case); when not, the session is
    read to say why (not found, or its status). A caller that may not push this merchant's
    session raises after the update, which rolls it back with the transaction.
    """
    taken = (
        db.connection()
        .execute(_TAKE_PENDING, {"b_id": session_id, "b_now": utcnow()})
        .mappings()
        .first()
    )
    if taken is None:
        row = get_session(db, session_id, claims)
        check_merchant_access(claims, row["merchant_id"], write=True, session_id=session_id)
        raise Conflict(
            f"session {session_id!r} is {row['status']}: only a pending session can be pushed"
        )
    row = dict(taken)
    check_merchant_access(claims, row["merchant_id"], write=True, session_id=session_id)
    return row


_TAKE_PENDING = (
    update(repo.SESSIONS)
    .where(repo.SESSIONS.c.id == bindparam("b_id"), repo.SESSIONS.c.status == "pending")
    .values(status="processing", updated_at=bindparam("b_now"))
    .returning(*repo.SESSIONS.c)
)


def _push_refused(db: Session, *, session_id: str, sent_at: dt.datetime, exc: HisaabError) -> None:
    """Daraja said no (or could not be reached): the session is pending again, the refusal
    kept as an event."""
    db.execute(
        update(repo.SESSIONS)
        .where(repo.SESSIONS.c.id == session_id, repo.SESSIONS.c.status == "processing")
        .values(status="pending", updated_at=utcnow())
    )
    repo.record_event(
        db,
        kind="stk_push",
        session_id=session_id,
        received_at=utcnow(),
        payload=json.dumps({"request_sent_at": sent_at.isoformat()}),
        note=f"refused: {exc.describe()}"[:2000],
    )


def _answer_payload(answer: StkPushAnswer) -> str:
    return json.dumps(
        {
            "MerchantRequestID": answer.merchant_request_id,
            "CheckoutRequestID": answer.checkout_request_id,
            "ResponseCode": answer.response_code,
            "ResponseDescription": answer.response_description,
            "CustomerMessage": answer.customer_message,
        }
    )


@dataclass(frozen=True)
class _Untrackable:
    note: str


def _push_accepted(
    db: Session,
    session_id: str,
    claims: Claims,
    row: dict[str, Any],
    answer: StkPushAnswer,
    sent_at: dt.datetime,
) -> dict[str, Any] | _Untrackable:
    """Record Daraja's acceptance, attach callbacks that came before it, reconcile."""
    now = utcnow()
    statement = (
        update(repo.SESSIONS)
        .where(repo.SESSIONS.c.id == session_id)
        .values(
            checkout_request_id=answer.checkout_request_id,
            merchant_request_id=answer.merchant_request_id,
            initiated_at=sent_at,
            updated_at=now,
        )
    )
    if retried_alone(db):
        db.execute(statement)  # a clash fails the shared attempt; each push then runs alone
    else:
        try:
            with db.begin_nested():
                db.execute(statement)
        except IntegrityError:
            return _push_answer_taken(db, session_id, claims, answer)
    event = repo.record_event(
        db,
        kind="stk_push",
        session_id=session_id,
        received_at=now,
        checkout_request_id=answer.checkout_request_id,
        dedupe_key=answer.checkout_request_id,
        result_code=answer.response_code,
        amount_minor=row["amount_minor"],
        payload=_answer_payload(answer),
    )
    repo.link_events(db, session_id, answer.checkout_request_id)
    triggers.reconcile_soon(
        db, [triggers.request("payment_initiation", now, event.id, session_id=session_id)]
    )
    record_many(db, [_pushed(session_id, claims, answer.checkout_request_id)])
    fresh = repo.session_row(db, session_id)
    assert fresh is not None
    return dict(fresh)


@dataclass(frozen=True)
class Accepted:
    """A push Daraja accepted, to be recorded (`record_acceptances`)."""

    session_id: str
    claims: Claims
    row: dict[str, Any]
    answer: StkPushAnswer
    sent_at: dt.datetime


def record_acceptances(db: Session, items: list[Accepted]) -> list[dict[str, Any] | _Untrackable]:
    """`_push_accepted` for many pushes at once: the group commit's batch function.

    In the shared attempt: the sessions' CheckoutRequestIDs in one statement, the `stk_push`
    events in one (hisaab.realtime.repository.record_events), earlier callbacks attached,
    every session reconciled together (a fixed number of statements), the audit entries, and
    the sessions read back in one SELECT. Alone (after a CheckoutRequestID clash), each push
    goes through `_push_accepted`, which fails an untrackable one and says why.
    """
    if not retried_alone(db):
        return [
            _push_accepted(db, i.session_id, i.claims, i.row, i.answer, i.sent_at) for i in items
        ]
    now = utcnow()
    connection = db.connection()
    connection.execute(
        _SET_CHECKOUT,
        [
            {
                "b_id": i.session_id,
                "b_checkout": i.answer.checkout_request_id,
                "b_merchant_request": i.answer.merchant_request_id,
                "b_initiated": i.sent_at,
                "b_now": now,
            }
            for i in items
        ],
    )
    events = repo.record_events(
        db,
        [
            {
                "kind": "stk_push",
                "payload": _answer_payload(i.answer),
                "received_at": now,
                "dedupe_key": i.answer.checkout_request_id,
                "first_of": i.answer.checkout_request_id,
                "session_id": i.session_id,
                "checkout_request_id": i.answer.checkout_request_id,
                "receipt": None,
                "result_code": i.answer.response_code,
                "amount_minor": i.row["amount_minor"],
                "phone": None,
                "authenticated": True,
                "note": None,
            }
            for i in items
        ],
    )
    repo.link_events_many(db, [(i.session_id, i.answer.checkout_request_id) for i in items])
    triggers.reconcile_soon(
        db,
        [
            triggers.request("payment_initiation", now, event_id, session_id=i.session_id)
            for i, (event_id, _sid) in zip(items, events, strict=True)
        ],
    )
    record_many(db, [_pushed(i.session_id, i.claims, i.answer.checkout_request_id) for i in items])
    fresh = repo.load_sessions(db, [i.session_id for i in items])
    return [dict(fresh[i.session_id]) for i in items]


_SET_CHECKOUT = (
    update(repo.SESSIONS)
    .where(repo.SESSIONS.c.id == bindparam("b_id"))
    .values(
        checkout_request_id=bindparam("b_checkout"),
        merchant_request_id=bindparam("b_merchant_request"),
        initiated_at=bindparam("b_initiated"),
        updated_at=bindparam("b_now"),
    )
)


def _push_answer_taken(
    db: Session, session_id: str, claims: Claims, answer: StkPushAnswer
) -> _Untrackable:
    """Daraja accepted the push but named a CheckoutRequestID another session already holds:
    its callback could not be told apart from that session's. The session fails with the
    answer kept as an event, and the caller gets a 502 saying so (never a dropped request)."""
    checkout = answer.checkout_request_id
    note = (
        f"Daraja accepted the push but answered CheckoutRequestID {checkout!r}, which another "
        "session already holds: this push cannot be tracked, so the session is failed; check "
        "with the payer before pushing again"
    )
    db.execute(
        update(repo.SESSIONS)
        .where(repo.SESSIONS.c.id == session_id)
        .values(status="failed", updated_at=utcnow())
    )
    repo.record_event(
        db,
        kind="stk_push",
        session_id=session_id,
        received_at=utcnow(),
        result_code=answer.response_code,
        payload=_answer_payload(answer),
        note=note,
    )
    audit(
        db,
        actor_id=claims.user_id,
        action="payment_session.stk_push_untrackable",
        entity="payment_session",
        entity_id=session_id,
        details={"checkout_request_id": checkout},
    )
    return _Untrackable(note)


@dataclass(frozen=True)
class QueryOutcome:
    """What asking Daraja about a push gave: its answer, or why there is none."""

    received_at: dt.datetime
    answer: StkQueryAnswer | None = None
    error: HisaabError | None = None


def ask_daraja(client: DarajaClient, checkout_request_id: str) -> QueryOutcome:
    """Ask M-Pesa about a push (no database involved, so no connection waits on Daraja)."""
    received = utcnow()
    try:
        return QueryOutcome(received, answer=client.stk_query(checkout_request_id))
    except HisaabError as exc:
        return QueryOutcome(received, error=exc)


async def ask_daraja_async(client: AsyncDarajaClient, checkout_request_id: str) -> QueryOutcome:
    received = utcnow()
    try:
        return QueryOutcome(received, answer=await client.stk_query(checkout_request_id))
    except HisaabError as exc:
        return QueryOutcome(received, error=exc)


def record_query(
    db: Session, session_id: str, checkout_request_id: str, outcome: QueryOutcome, *, trigger: str
) -> tuple[int, str]:
    """Keep what Daraja said about a push as an event; (event id, answer status)."""
    answer = outcome.answer
    if answer is None:
        assert outcome.error is not None
        event = repo.record_event(
            db,
            kind="stk_query",
            session_id=session_id,
            checkout_request_id=checkout_request_id,
            received_at=utcnow(),
            payload="{}",
            note=f"{trigger}: {outcome.error.describe()}"[:2000],
        )
        return event.id, "error"
    code = answer.result.code if answer.status is QueryStatus.FINAL and answer.result else None
    event = repo.record_event(
        db,
        kind="stk_query",
        session_id=session_id,
        checkout_request_id=checkout_request_id,
        received_at=outcome.received_at,
        result_code=code,
        payload=json.dumps(
            {
                "status": answer.status.value,
                "ResultCode": code,
                "ResultDesc": answer.result_desc,
                "ResponseCode": answer.response_code,
            }
        ),
        note=None if code is not None else f"{trigger}: {answer.status.value}",
    )
    return event.id, answer.status.value


async def query(
    write: Writer[Any], session_id: str, claims: Claims, client: AsyncDarajaClient
) -> dict[str, Any]:
    """Ask Daraja about a session's push now and reconcile with what it says."""
    row: dict[str, Any] = await write(lambda db: _queryable(db, session_id, claims))
    checkout = row["checkout_request_id"]
    outcome = await ask_daraja_async(client, checkout)
    with CancelScope(shield=True):
        result: dict[str, Any] = await write(
            lambda db: _record_asked(db, session_id, checkout, outcome)
        )
    return result


def _queryable(db: Session, session_id: str, claims: Claims) -> dict[str, Any]:
    row = get_session(db, session_id, claims)
    check_merchant_access(claims, row["merchant_id"], write=True, session_id=session_id)
    if not row["checkout_request_id"]:
        raise Conflict(f"session {session_id!r} has no STK Push to query yet")
    return row


def _record_asked(
    db: Session, session_id: str, checkout: str, outcome: QueryOutcome
) -> dict[str, Any]:
    event_id, status = record_query(db, session_id, checkout, outcome, trigger="status_query")
    triggers.reconcile_soon(
        db, [triggers.request("stk_query", utcnow(), event_id, session_id=session_id)]
    )
    fresh = repo.session_row(db, session_id)
    assert fresh is not None
    return {"session": dict(fresh), "query": status}


def stuck_sessions(db: Session, settings: Settings) -> list[tuple[str, str | None]]:
    older = utcnow() - dt.timedelta(seconds=settings.realtime_stuck_after_seconds)
    return repo.stuck_sessions(db, older_than=older, limit=settings.realtime_check_batch_size)
