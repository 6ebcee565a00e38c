"""Tables of real-time mobile-money reconciliation: payment sessions, provider events, results.

A payment session is what a merchant expects to be paid. Every message about it (our STK Push,
Safaricom's callback, a status query answer, a C2B confirmation, a Transaction Status result)
is kept verbatim as an `mpesa_events` row, including unauthenticated and duplicate ones, so the
evidence behind every status can be shown. Reconciling a session reads its events, decides its
status, and appends a `realtime_results` row; problems found are `realtime_discrepancies`, and
the alerts sent about them are `realtime_alerts`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hisaab.storage.models import Base, UTCDateTime, _one_of, utcnow

SESSION_STATUSES = ("pending", "processing", "paid", "failed", "cancelled", "expired")
RESULT_STATUSES = ("matched", "discrepancy", "pending", "failed")
EVENT_KINDS = (
    "stk_push",  # our request and Daraja's synchronous answer
    "stk_callback",
    "stk_query",
    "c2b_validation",
    "c2b_confirmation",
    "transaction_status",
    "rejected",  # a callback refused before parsing: wrong secret, unreadable body
)
DISCREPANCY_TYPES = (
    "amount_mismatch",
    "status_mismatch",
    "duplicate_receipt",
    "phone_mismatch",
    "missing_callback",
    "stuck_processing",
    "late_callback",
    "orphan_callback",
    "duplicate_callback",
)
SEVERITIES = ("high", "medium", "low")
ALERT_STATUSES = ("pending", "sent", "suppressed", "failed")

_ID = BigInteger().with_variant(Integer, "sqlite")


class PaymentSession(Base):
    __tablename__ = "payment_sessions"
    __table_args__ = (
        CheckConstraint(_one_of("status", SESSION_STATUSES), name="status"),
        CheckConstraint(
            f"reconciliation_status IS NULL OR {_one_of('reconciliation_status', RESULT_STATUSES)}",
            name="reconciliation_status",
        ),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index(None, "checkout_request_id", unique=True),
        Index(None, "status", "updated_at"),
        Index(None, "merchant_id", "created_at"),
        Index(None, "account_reference"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(32))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="KES")
    phone: Mapped[str] = mapped_column(String(32))
    account_reference: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    checkout_request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    merchant_request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    mpesa_receipt: Mapped[str | None] = mapped_column(String(32), default=None)
    paid_amount_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    result_code: Mapped[str | None] = mapped_column(String(32), default=None)
    result_desc: Mapped[str | None] = mapped_column(Text, default=None)
    reconciliation_status: Mapped[str | None] = mapped_column(String(16), default=None)
    reconciled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_by: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    initiated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class MpesaEvent(Base):
    """One message received from or sent to M-Pesa, kept as it came (phones masked on output).

    `first_of` holds the dedupe key of the first event of its kind and key, and is NULL on
    repeats: the partial unique index lets exactly one event claim a key, even when two copies
    of a callback arrive at the same instant, and every repeat is still recorded.
    """

    __tablename__ = "mpesa_events"
    __table_args__ = (
        CheckConstraint(_one_of("kind", EVENT_KINDS), name="kind"),
        Index(
            None,
            "kind",
            "first_of",
            unique=True,
            sqlite_where=text("first_of IS NOT NULL"),
            postgresql_where=text("first_of IS NOT NULL"),
        ),
        Index(None, "checkout_request_id"),
        Index(None, "session_id"),
        Index(None, "receipt"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[str | None] = mapped_column(String(64), default=None)
    checkout_request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    receipt: Mapped[str | None] = mapped_column(String(32), default=None)
    result_code: Mapped[str | None] = mapped_column(String(32), default=None)
    amount_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    phone: Mapped[str | None] = mapped_column(String(80), default=None)
    authenticated: Mapped[bool] = mapped_column(Boolean, default=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(128), default=None)
    first_of: Mapped[str | None] = mapped_column(String(128), default=None)
    payload: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RealtimeResult(Base):
    """One reconciliation of one session: appended, never updated."""

    __tablename__ = "realtime_results"
    __table_args__ = (
        CheckConstraint(_one_of("status", RESULT_STATUSES), name="status"),
        Index(None, "session_id", "id"),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(64))
    issues: Mapped[str] = mapped_column(Text, default="[]")
    # From the moment the triggering event was received to the result's commit, in microseconds.
    processing_us: Mapped[int | None] = mapped_column(BigInteger, default=None)
    event_received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RealtimeDiscrepancy(Base):
    """A problem found about a session (or an unknown CheckoutRequestID): one open per type."""

    __tablename__ = "realtime_discrepancies"
    __table_args__ = (
        CheckConstraint(_one_of("type", DISCREPANCY_TYPES), name="type"),
        CheckConstraint(_one_of("severity", SEVERITIES), name="severity"),
        Index(None, "subject", "type", unique=True),
        Index(None, "detected_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    # The session id, or "checkout:<CheckoutRequestID>" for a callback no session claims.
    subject: Mapped[str] = mapped_column(String(128))
    session_id: Mapped[str | None] = mapped_column(String(64), default=None)
    type: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text, default="{}")
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    detected_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RealtimeAlert(Base):
    """An alert about a discrepancy on one channel, and what became of it."""

    __tablename__ = "realtime_alerts"
    __table_args__ = (
        CheckConstraint(_one_of("status", ALERT_STATUSES), name="status"),
        Index(None, "subject", "type", "channel", "created_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    subject: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    provider_id: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
