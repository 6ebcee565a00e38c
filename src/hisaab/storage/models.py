"""The tables of the application database, with their invariants enforced by the database too.

Money is BIGINT minor units in `*_minor` columns beside a 3-letter currency, never a float.
Timestamps are timezone-aware UTC (`*_at`); business dates are `*_date`. Enumerations are
CHECK constraints, so a bad value is refused by SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hisaab.auth.roles import ROLES as ROLES
from hisaab.matching.categories import EXCEPTION_CATEGORIES as EXCEPTION_CATEGORIES

JOB_STATUSES = ("created", "queued", "running", "completed", "failed")
EXCEPTION_STATUSES = ("open", "in_review", "pending_approval", "resolved")
QUEUE_STATUSES = ("queued", "running", "done", "failed")
RESOLUTIONS = ("manual_match", "write_off", "mark_duplicate", "accept")
EXCEPTION_ACTIONS = ("assign", "start_review", "resolve", "approve", "reject", "reopen")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stored as UTC; read back timezone-aware on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


MERCHANT_STATUSES = ("active", "suspended", "closed")


class Merchant(Base):
    """A merchant, and the bank account its settlements are paid to (IFSC checked on entry)."""

    __tablename__ = "merchants"
    __table_args__ = (CheckConstraint(_one_of("status", MERCHANT_STATUSES), name="status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    currency: Mapped[str] = mapped_column(String(3), default="INR", server_default="INR")
    timezone: Mapped[str] = mapped_column(
        String(64), default="Asia/Kolkata", server_default="Asia/Kolkata"
    )
    bank_account_name: Mapped[str | None] = mapped_column(String(200), default=None)
    bank_account_number: Mapped[str | None] = mapped_column(String(34), default=None)
    bank_ifsc: Mapped[str | None] = mapped_column(String(11), default=None)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_one_of("role", ROLES), name="role"),
        CheckConstraint(
            "(role = 'merchant-admin') = (merchant_id IS NOT NULL)", name="merchant_scope"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"), default=None)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReconciliationJob(Base):
    __tablename__ = "reconciliation_jobs"
    __table_args__ = (
        CheckConstraint(_one_of("status", JOB_STATUSES), name="status"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="created")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"), default=None)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ruleset_version: Mapped[str | None] = mapped_column(String(64), default=None)
    summary: Mapped[str | None] = mapped_column(Text, default=None)  # summary.json of the run
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class ReconJobFile(Base):
    __tablename__ = "recon_job_files"
    __table_args__ = (
        CheckConstraint("side IN ('pg', 'bank')", name="side"),
        CheckConstraint("size_bytes >= 0", name="size"),
        UniqueConstraint("job_id", "side", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_jobs.id", ondelete="CASCADE"))
    side: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    template: Mapped[str | None] = mapped_column(String(64), default=None)
    row_count: Mapped[int | None] = mapped_column(BigInteger, default=None)
    storage_path: Mapped[str] = mapped_column(String(1000))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReconMatch(Base):
    __tablename__ = "recon_matches"
    __table_args__ = (
        CheckConstraint("status IN ('auto', 'suggested')", name="status"),
        CheckConstraint("match_type IN ('one_to_one', 'many_to_one')", name="match_type"),
        CheckConstraint("pg_amount_minor >= 0 AND bank_amount_minor >= 0", name="amounts"),
        Index(None, "job_id", "bank_record_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_jobs.id", ondelete="CASCADE"))
    match_id: Mapped[int] = mapped_column(BigInteger)
    match_type: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[Any] = mapped_column(Numeric(5, 4))
    status: Mapped[str] = mapped_column(String(16))
    pg_record_id: Mapped[str] = mapped_column(String(200))
    bank_record_id: Mapped[str] = mapped_column(String(200))
    pg_amount_minor: Mapped[int] = mapped_column(BigInteger)
    bank_amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    pg_source_line: Mapped[int] = mapped_column(BigInteger)
    bank_source_line: Mapped[int] = mapped_column(BigInteger)
    amount_delta_minor: Mapped[int] = mapped_column(BigInteger)


class ReconciliationException(Base):
    __tablename__ = "reconciliation_exceptions"
    __table_args__ = (
        CheckConstraint(_one_of("category", EXCEPTION_CATEGORIES), name="category"),
        CheckConstraint(
            f"resolution IS NULL OR {_one_of('resolution', RESOLUTIONS)}", name="resolution"
        ),
        CheckConstraint(_one_of("status", EXCEPTION_STATUSES), name="status"),
        CheckConstraint("side IN ('pg', 'bank')", name="side"),
        CheckConstraint("amount_minor >= 0", name="amount"),
        Index(None, "job_id", "status", "category"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_jobs.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    record_id: Mapped[str] = mapped_column(String(200))
    source_line: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    value_date: Mapped[dt.date] = mapped_column(Date)
    utr: Mapped[str | None] = mapped_column(String(64), default=None)
    details: Mapped[str] = mapped_column(Text)  # the engine's JSON evidence
    status: Mapped[str] = mapped_column(String(20), default="open")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    sla_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # The current (or pending) resolution; its whole history is in exception_actions.
    resolution: Mapped[str | None] = mapped_column(String(20), default=None)
    resolution_reason: Mapped[str | None] = mapped_column(Text, default=None)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)


class ExceptionAction(Base):
    """Every step taken on an exception, by whom and when: its workflow history."""

    __tablename__ = "exception_actions"
    __table_args__ = (
        CheckConstraint(_one_of("action", EXCEPTION_ACTIONS), name="action"),
        CheckConstraint(
            f"resolution IS NULL OR {_one_of('resolution', RESOLUTIONS)}", name="resolution"
        ),
        CheckConstraint(_one_of("status_after", EXCEPTION_STATUSES), name="status_after"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    exception_id: Mapped[int] = mapped_column(
        ForeignKey("reconciliation_exceptions.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(20))
    resolution: Mapped[str | None] = mapped_column(String(20), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    record_ids: Mapped[str | None] = mapped_column(Text, default=None)  # JSON list, manual_match
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status_after: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Append-only, hash-chained: each entry carries the hash of the one before it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64), default=None)
    details: Mapped[str] = mapped_column(Text, default="{}")
    # Unique: no two entries may follow the same one, so the chain can never fork.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class QueueJob(Base):
    """Background work, written in the same transaction as the change that causes it."""

    __tablename__ = "queue_jobs"
    __table_args__ = (
        CheckConstraint(_one_of("status", QUEUE_STATUSES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index(None, "status", "run_after"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(200), default=None)
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
