"""Reads and writes of real-time reconciliation, as SQL Core statements.

The callback path runs a thousand times a second, so these are single statements without ORM
unit-of-work overhead. Every function works inside the caller's transaction and never commits.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hisaab.realtime.rules import SEVERITY_RANK, Decision, Evidence, Issue, SessionView
from hisaab.storage.realtime_models import (
    MpesaEvent,
    PaymentSession,
    RealtimeDiscrepancy,
    RealtimeResult,
)
from hisaab.storage.sql import on_postgres, one_of_param

EVENTS = cast(Table, MpesaEvent.__table__)
SESSIONS = cast(Table, PaymentSession.__table__)
RESULTS = cast(Table, RealtimeResult.__table__)
DISCREPANCIES = cast(Table, RealtimeDiscrepancy.__table__)


@dataclass(frozen=True)
class RecordedEvent:
    id: int
    repeat: bool  # an earlier event of the same kind and dedupe key exists


def _dialect_insert(session: Session, table: Any) -> Any:
    if on_postgres(session):
        return postgresql.insert(table)
    return sqlite.insert(table)


def record_event(
    session: Session,
    *,
    kind: str,
    payload: str,
    received_at: dt.datetime,
    dedupe_key: str | None = None,
    session_id: str | None = None,
    checkout_request_id: str | None = None,
    receipt: str | None = None,
    result_code: str | None = None,
    amount_minor: int | None = None,
    phone: str | None = None,
    authenticated: bool = True,
    note: str | None = None,
) -> RecordedEvent:
    """Keep an event; a second copy of the same (kind, dedupe_key) is kept too, as a repeat."""
    values = {
        "kind": kind,
        "payload": payload,
        "received_at": received_at,
        "dedupe_key": dedupe_key,
        "first_of": dedupe_key,
        "session_id": session_id,
        "checkout_request_id": checkout_request_id,
        "receipt": receipt,
        "result_code": result_code,
        "amount_minor": amount_minor,
        "phone": phone,
        "authenticated": authenticated,
        "note": note,
    }
    connection = session.connection()
    if dedupe_key is not None:
        first = _first_event_insert(connection.dialect.name)
        event_id = connection.execute(first, values).scalar_one_or_none()
        if event_id is not None:
            return RecordedEvent(int(event_id), repeat=False)
    values["first_of"] = None
    event_id = connection.execute(_EVENT_INSERT, values).scalar_one()
    return RecordedEvent(int(event_id), repeat=dedupe_key is not None)


# Built once: the callback path runs these a thousand times a second.
_EVENT_INSERT = insert(EVENTS).returning(EVENTS.c.id)
_SESSION_BY_CHECKOUT = select(SESSIONS.c.id).where(
    SESSIONS.c.checkout_request_id == bindparam("checkout")
)


def _claiming(statement: Any) -> Any:
    """The INSERT, made to claim (kind, dedupe key) or, when an event already has, to insert
    nothing (ON CONFLICT on the partial unique index over first_of)."""
    return statement.on_conflict_do_nothing(
        index_elements=["kind", "first_of"], index_where=EVENTS.c.first_of.isnot(None)
    )


@functools.cache
def _first_event_insert(dialect: str) -> Any:
    statement = postgresql.insert(EVENTS) if dialect == "postgresql" else sqlite.insert(EVENTS)
    return _claiming(statement).returning(EVENTS.c.id)


_EVENT_COLUMNS = (
    "kind",
    "payload",
    "received_at",
    "dedupe_key",
    "first_of",
    "session_id",
    "checkout_request_id",
    "receipt",
    "result_code",
    "amount_minor",
    "phone",
    "authenticated",
    "note",
)
_CLAIMED = (EVENTS.c.id, EVENTS.c.kind, EVENTS.c.first_of)
# The rows travel as one JSON array of objects, which json.dumps writes in C; as one array
# parameter per column, psycopg dumped every element in Python (a tenth of the API process's
# time at a thousand callbacks a second, py-spy). The text is fixed, so it is prepared once.
_PG_FIRST_EVENTS = text(
    """
    INSERT INTO mpesa_events (kind, payload, received_at, dedupe_key, first_of, session_id,
        checkout_request_id, receipt, result_code, amount_minor, phone, authenticated, note)
    SELECT kind, payload, received_at, dedupe_key, first_of,
        COALESCE(session_id, (SELECT s.id FROM payment_sessions AS s
                              WHERE s.checkout_request_id = r.checkout_request_id)),
        checkout_request_id, receipt, result_code, amount_minor, phone, authenticated, note
    FROM json_to_recordset(CAST(:rows AS json)) AS r(kind text, payload text,
        received_at timestamptz, dedupe_key text, first_of text, session_id text,
        checkout_request_id text, receipt text, result_code text, amount_minor bigint,
        phone text, authenticated boolean, note text)
    ON CONFLICT (kind, first_of) WHERE first_of IS NOT NULL DO NOTHING
    RETURNING id, kind, first_of, session_id
    """
)


_SQLITE_FIRST_EVENTS = _claiming(sqlite.insert(EVENTS)).returning(*_CLAIMED)


def record_events(session: Session, rows: list[dict[str, Any]]) -> list[tuple[int, str | None]]:
    """Keep many events (see `record_event`), in order; their ids and session ids, in order.

    A row without a session id is attached to the session that has its CheckoutRequestID, if
    one has (on PostgreSQL inside the INSERT, which saves a round trip per batch). One
    multi-row INSERT claims every (kind, dedupe key) it can; the rows whose key was already
    claimed (earlier, or by an earlier row of this batch) are inserted as repeats.
    """
    if not rows:
        return []
    connection = session.connection()
    postgres = on_postgres(session)
    if not postgres:
        sessions = sessions_for_checkouts(
            session,
            {
                r["checkout_request_id"]
                for r in rows
                if r["checkout_request_id"] and not r["session_id"]
            },
        )
        rows = [
            {**r, "session_id": r["session_id"] or sessions.get(r["checkout_request_id"])}
            for r in rows
        ]
    claimed: dict[tuple[str, str], tuple[int, str | None]] = {}
    firsts: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for row in rows:
        key = (row["kind"], row["dedupe_key"])
        if row["dedupe_key"] is not None and key not in seen:
            seen.add(key)
            firsts.append(row)
    if firsts:
        if postgres:
            found = connection.execute(_PG_FIRST_EVENTS, {"rows": _json_rows(firsts)})
            for event_id, kind, first_of, session_id in found:
                claimed[(kind, first_of)] = (int(event_id), session_id)
        else:
            # executemany with RETURNING: SQLAlchemy compiles the statement once and sends
            # the rows as multi-row INSERTs ("insertmanyvalues").
            found = connection.execute(_SQLITE_FIRST_EVENTS, firsts)
            by_key = {(r["kind"], r["dedupe_key"]): r["session_id"] for r in firsts}
            for event_id, kind, first_of in found:
                claimed[(kind, first_of)] = (int(event_id), by_key[(kind, first_of)])
    recorded: list[tuple[int, str | None]] = []
    taken: set[tuple[str, str]] = set()  # a later row with a claimed key is a repeat
    for row in rows:
        key = (row["kind"], row["dedupe_key"])
        if key in claimed and key not in taken:
            taken.add(key)
            recorded.append(claimed[key])
            continue
        repeat = {**row, "first_of": None}
        if repeat["session_id"] is None and repeat["checkout_request_id"]:
            repeat["session_id"] = session_id_for_checkout(session, repeat["checkout_request_id"])
        event_id = int(connection.execute(_EVENT_INSERT, repeat).scalar_one())
        recorded.append((event_id, repeat["session_id"]))
    return recorded


def sessions_for_checkouts(session: Session, checkouts: set[str]) -> dict[str, str]:
    """Session ids by CheckoutRequestID, for those that have one."""
    if not checkouts:
        return {}
    connection = session.connection()
    statement = _statements(connection.dialect.name).sessions_for_checkouts
    rows = connection.execute(statement, {"checkouts": sorted(checkouts)})
    return {str(checkout): str(sid) for checkout, sid in rows}


def session_id_for_checkout(session: Session, checkout_request_id: str) -> str | None:
    found = (
        session.connection()
        .execute(_SESSION_BY_CHECKOUT, {"checkout": checkout_request_id})
        .scalar_one_or_none()
    )
    return str(found) if found is not None else None


def session_for_reference(session: Session, account_reference: str) -> str | None:
    """The session a C2B payment's account reference names: an open one first, else the latest."""
    reference = account_reference.strip()
    if not reference:
        return None
    found = session.execute(
        select(SESSIONS.c.id)
        .where(SESSIONS.c.account_reference == reference)
        .order_by(
            SESSIONS.c.status.in_(("pending", "processing")).desc(), SESSIONS.c.created_at.desc()
        )
        .limit(1)
    ).scalar_one_or_none()
    return str(found) if found is not None else None


def session_for_receipt(session: Session, receipt: str) -> str | None:
    found = session.execute(
        select(SESSIONS.c.id).where(SESSIONS.c.mpesa_receipt == receipt).limit(1)
    ).scalar_one_or_none()
    if found is None:
        found = session.execute(
            select(EVENTS.c.session_id)
            .where(EVENTS.c.receipt == receipt, EVENTS.c.session_id.isnot(None))
            .limit(1)
        ).scalar_one_or_none()
    return str(found) if found is not None else None


# Built once, run on the Core connection: every payment initiated runs them.
_LINK_EVENTS = (
    update(EVENTS)
    .where(EVENTS.c.checkout_request_id == bindparam("b_checkout"), EVENTS.c.session_id.is_(None))
    .values(session_id=bindparam("b_session"))
)
_SESSION_ROW = select(SESSIONS).where(SESSIONS.c.id == bindparam("b_id"))


def link_events_many(session: Session, pairs: Sequence[tuple[str, str]]) -> None:
    """`link_events` for many (session id, CheckoutRequestID) pairs, one statement."""
    if pairs:
        session.connection().execute(
            _LINK_EVENTS, [{"b_session": sid, "b_checkout": checkout} for sid, checkout in pairs]
        )


def link_events(session: Session, session_id: str, checkout_request_id: str) -> int:
    """Attach events that arrived before their session's initiation was recorded."""
    result = session.connection().execute(
        _LINK_EVENTS, {"b_checkout": checkout_request_id, "b_session": session_id}
    )
    return int(result.rowcount or 0)


def load_session(session: Session, session_id: str, *, lock: bool = False) -> SessionView | None:
    query = select(SESSIONS).where(SESSIONS.c.id == session_id)
    if lock:
        query = query.with_for_update()  # rendered on PostgreSQL only
    row = session.execute(query).mappings().one_or_none()
    return view_of(dict(row)) if row is not None else None


def view_of(row: Mapping[str, Any]) -> SessionView:
    return SessionView(
        id=row["id"],
        amount_minor=row["amount_minor"],
        currency=row["currency"],
        phone=row["phone"],
        status=row["status"],
        created_at=_aware(row["created_at"]),
        initiated_at=_aware(row["initiated_at"]),
        checkout_request_id=row["checkout_request_id"],
    )


def load_sessions(
    session: Session, ids: Sequence[str], *, lock: bool = False
) -> dict[str, dict[str, Any]]:
    """Sessions by id (missing ids are absent); locked in id order on PostgreSQL."""
    if not ids:
        return {}
    connection = session.connection()
    statements = _statements(connection.dialect.name)
    query = statements.sessions_locked if lock else statements.sessions
    return {
        row["id"]: dict(row) for row in connection.execute(query, {"ids": list(ids)}).mappings()
    }


def load_evidence_many(
    session: Session, views: Sequence[SessionView]
) -> tuple[dict[str, list[Evidence]], dict[str, set[str]]]:
    """Every event about each session, by session id or CheckoutRequestID; and for each
    receipt on trusted evidence among them, the sessions whose trusted evidence carries it
    (to find one M-Pesa receipt on two sessions). One statement on PostgreSQL, two on SQLite.
    """
    found: dict[str, list[Evidence]] = {v.id: [] for v in views}
    if not views:
        return found, {}
    by_checkout = {v.checkout_request_id: v.id for v in views if v.checkout_request_id}
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    rows = connection.execute(
        _statements(connection.dialect.name).evidence,
        {"ids": list(found), "checkouts": list(by_checkout)},
    ).all()
    holders: dict[str, set[str]] = {}
    for r in rows:
        owners = {r.session_id} if r.session_id in found else set()
        if r.checkout_request_id in by_checkout:
            owners.add(by_checkout[r.checkout_request_id])
        evidence = Evidence(
            id=r.id,
            kind=r.kind,
            received_at=_aware(r.received_at),
            authenticated=bool(r.authenticated),
            repeat=r.dedupe_key is not None and r.first_of is None,
            result_code=r.result_code,
            amount_minor=r.amount_minor,
            receipt=r.receipt,
            phone=r.phone,
        )
        for owner in owners:
            found[owner].append(evidence)
        if postgres and r.receipt_holders and evidence.receipt and evidence.authenticated:
            holders.setdefault(evidence.receipt, set()).update(r.receipt_holders)
    if not postgres:
        receipts = {
            e.receipt for evs in found.values() for e in evs if e.receipt and e.authenticated
        }
        holders = sessions_by_receipt(session, receipts)
    return found, holders


def sessions_by_receipt(session: Session, receipts: set[str]) -> dict[str, set[str]]:
    """For each receipt, the sessions whose trusted evidence carries it."""
    if not receipts:
        return {}
    connection = session.connection()
    rows = connection.execute(
        _statements(connection.dialect.name).receipt_holders, {"receipts": sorted(receipts)}
    ).all()
    holders: dict[str, set[str]] = {}
    for receipt, session_id in rows:
        holders.setdefault(receipt, set()).add(session_id)
    return holders


@dataclass(frozen=True)
class _Reads:
    """The reads of every reconciliation, built once per dialect (see one_of_param)."""

    sessions_for_checkouts: Any
    sessions: Any
    sessions_locked: Any
    evidence: Any
    receipt_holders: Any


@functools.cache
def _statements(dialect: str) -> _Reads:
    def listed(column: Any, name: str) -> ColumnElement[bool]:
        return one_of_param(column, name, dialect)

    sessions = select(SESSIONS).where(listed(SESSIONS.c.id, "ids")).order_by(SESSIONS.c.id)
    evidence_extra: list[Any] = []
    if dialect == "postgresql":  # each receipt's holders, in the same statement
        holder = EVENTS.alias("holder")
        evidence_extra.append(
            select(func.array_agg(holder.c.session_id.distinct()))
            .where(
                holder.c.receipt == EVENTS.c.receipt,
                holder.c.authenticated.is_(True),
                holder.c.session_id.isnot(None),
            )
            .scalar_subquery()
            .label("receipt_holders")
        )
    return _Reads(
        sessions_for_checkouts=select(SESSIONS.c.checkout_request_id, SESSIONS.c.id).where(
            listed(SESSIONS.c.checkout_request_id, "checkouts")
        ),
        sessions=sessions,
        # FOR UPDATE is rendered on PostgreSQL only; SQLite's one writer serializes anyway.
        sessions_locked=sessions.with_for_update(),
        evidence=select(
            *evidence_extra,
            EVENTS.c.id,
            EVENTS.c.kind,
            EVENTS.c.session_id,
            EVENTS.c.checkout_request_id,
            EVENTS.c.received_at,
            EVENTS.c.authenticated,
            EVENTS.c.dedupe_key,
            EVENTS.c.first_of,
            EVENTS.c.result_code,
            EVENTS.c.amount_minor,
            EVENTS.c.receipt,
            EVENTS.c.phone,
        )
        .where(
            or_(
                listed(EVENTS.c.session_id, "ids"),
                listed(EVENTS.c.checkout_request_id, "checkouts"),
            )
        )
        .order_by(EVENTS.c.id),
        receipt_holders=select(EVENTS.c.receipt, EVENTS.c.session_id)
        .where(
            listed(EVENTS.c.receipt, "receipts"),
            EVENTS.c.authenticated.is_(True),
            EVENTS.c.session_id.isnot(None),
        )
        .distinct(),
    )


def outcome_values(decision: Decision, now: dt.datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": decision.session_status,
        "reconciliation_status": decision.result_status,
        "reconciled_at": now,
        "updated_at": now,
    }
    if decision.receipt is not None:
        values["mpesa_receipt"] = decision.receipt
        values["paid_amount_minor"] = decision.paid_amount_minor
    if decision.result_code is not None:
        values["result_code"] = decision.result_code
    return values


Result = tuple[str, str, str, Sequence[Issue], dt.datetime | None]
"""One result row: session id, status, trigger, issues, when its event was received."""


def save_reconciliations(
    session: Session, decisions: Mapping[str, Decision], results: Sequence[Result], now: dt.datetime
) -> dict[str, int]:
    """Write each decided session's new status (as `outcome_values` says) and append one
    result row per `results` entry: one statement on PostgreSQL, whatever the batch size.
    Returns each result row's id by session (a result's cursor for clients catching up)."""
    outcomes = [
        {
            "id": sid,
            "status": d.session_status,
            "result": d.result_status,
            "with_receipt": d.receipt is not None,
            "receipt": d.receipt,
            "paid": d.paid_amount_minor,
            "code": d.result_code,
        }
        for sid, d in sorted(decisions.items())
    ]
    rows = [
        {
            "session_id": session_id,
            "status": status,
            "trigger": trigger[:64],
            "issues": json.dumps([i.as_dict() for i in issues], separators=(",", ":")),
            "processing_us": None
            if received_at is None
            else max(0, int((now - received_at) / dt.timedelta(microseconds=1))),
            "event_received_at": received_at,
            "created_at": now,
        }
        for session_id, status, trigger, issues, received_at in results
    ]
    connection = session.connection()
    if on_postgres(session):
        if not (outcomes or rows):
            return {}
        saved = connection.execute(
            _PG_SAVE, {"now": now, "outcomes": _json_rows(outcomes), "results": _json_rows(rows)}
        )
        return {sid: rid for sid, rid in saved}
    # SQLite: one executemany per shape of update (which columns a decision sets).
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for sid, decision in sorted(decisions.items()):
        values = outcome_values(decision, now)
        shapes.setdefault(tuple(sorted(values)), []).append(
            {"b_id": sid, **{f"b_{k}": v for k, v in values.items()}}
        )
    for columns, params in shapes.items():
        statement = (
            update(SESSIONS)
            .where(SESSIONS.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in columns})
        )
        connection.execute(statement, params)
    if not rows:
        return {}
    saved = connection.execute(insert(RESULTS).returning(RESULTS.c.session_id, RESULTS.c.id), rows)
    return {sid: rid for sid, rid in saved}


# The same change as outcome_values, for many sessions at once (a receipt comes with its paid
# amount, set together even to NULL; a result code only when there is one), and the result
# rows, in one statement: a data-modifying WITH runs whether or not its rows are read.
_PG_SAVE = text(
    """
    WITH saved AS (
        UPDATE payment_sessions AS s
        SET status = v.status,
            reconciliation_status = v.result,
            reconciled_at = :now,
            updated_at = :now,
            mpesa_receipt = CASE WHEN v.with_receipt THEN v.receipt ELSE s.mpesa_receipt END,
            paid_amount_minor = CASE WHEN v.with_receipt THEN v.paid ELSE s.paid_amount_minor END,
            result_code = COALESCE(v.code, s.result_code)
        FROM json_to_recordset(CAST(:outcomes AS json)) AS v(id text, status text, result text,
            with_receipt boolean, receipt text, paid bigint, code text)
        WHERE s.id = v.id
    )
    INSERT INTO realtime_results
        (session_id, status, trigger, issues, processing_us, event_received_at, created_at)
    SELECT session_id, status, trigger, issues, processing_us, event_received_at, created_at
    FROM json_to_recordset(CAST(:results AS json)) AS r(session_id text, status text, trigger text,
        issues text, processing_us bigint, event_received_at timestamptz, created_at timestamptz)
    RETURNING session_id, id
    """
)


def _json_rows(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as one JSON array for PostgreSQL's json_to_recordset (timestamps in ISO 8601 with
    their offset, which it reads back exactly to the microsecond)."""
    return json.dumps(rows, default=_iso_instant, separators=(",", ":"))


def _iso_instant(value: Any) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"a naive timestamp cannot be stored as an instant: {value!r}")
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _aware(value: dt.datetime | None) -> dt.datetime:
    # Core selects bypass the ORM type's result processing only for raw SQL; keep it safe.
    if value is None:
        return None  # type: ignore[return-value]
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def note_discrepancy(
    session: Session, *, subject: str, session_id: str | None, issue: Issue, now: dt.datetime
) -> bool:
    """Record an issue; True when it is new (first time this subject has this type)."""
    inserted = session.execute(
        _dialect_insert(session, DISCREPANCIES)
        .values(
            subject=subject,
            session_id=session_id,
            type=issue.type,
            severity=issue.severity,
            message=issue.message,
            details=json.dumps(issue.details, sort_keys=True, default=str),
            detected_at=now,
            last_seen_at=now,
        )
        .on_conflict_do_nothing(index_elements=["subject", "type"])
        .returning(DISCREPANCIES.c.id)
    ).scalar_one_or_none()
    if inserted is not None:
        return True
    current = session.execute(
        select(DISCREPANCIES.c.severity).where(
            DISCREPANCIES.c.subject == subject, DISCREPANCIES.c.type == issue.type
        )
    ).scalar_one()
    severity = max(current, issue.severity, key=SEVERITY_RANK.__getitem__)
    session.execute(
        update(DISCREPANCIES)
        .where(DISCREPANCIES.c.subject == subject, DISCREPANCIES.c.type == issue.type)
        .values(
            occurrences=DISCREPANCIES.c.occurrences + 1,
            last_seen_at=now,
            severity=severity,
            message=issue.message,
            details=json.dumps(issue.details, sort_keys=True, default=str),
        )
    )
    return False


def results_after(
    session: Session, after: int, limit: int
) -> list[tuple[Mapping[str, Any], Mapping[str, Any] | None]]:
    """Results with an id above `after`, oldest first, each with its session as it is now."""
    found = (
        session.execute(
            select(RESULTS).where(RESULTS.c.id > after).order_by(RESULTS.c.id).limit(limit)
        )
        .mappings()
        .all()
    )
    sessions = load_sessions(session, sorted({r["session_id"] for r in found}))
    return [(dict(r), sessions.get(r["session_id"])) for r in found]


def session_row(session: Session, session_id: str) -> Mapping[str, Any] | None:
    row = session.connection().execute(_SESSION_ROW, {"b_id": session_id}).mappings().first()
    return dict(row) if row is not None else None


def stuck_sessions(
    session: Session, *, older_than: dt.datetime, limit: int
) -> list[tuple[str, str | None]]:
    """Sessions in processing since before `older_than` whose outcome is still unknown."""
    rows = session.execute(
        select(SESSIONS.c.id, SESSIONS.c.checkout_request_id)
        .where(
            SESSIONS.c.status == "processing",
            func.coalesce(SESSIONS.c.initiated_at, SESSIONS.c.created_at) < older_than,
            or_(
                SESSIONS.c.reconciliation_status.is_(None),
                SESSIONS.c.reconciliation_status.in_(("pending", "discrepancy")),
            ),
        )
        .order_by(SESSIONS.c.updated_at)
        .limit(limit)
    ).all()
    return [(r.id, r.checkout_request_id) for r in rows]
