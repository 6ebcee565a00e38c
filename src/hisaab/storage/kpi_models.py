"""The tables the Overview reads: transactions, settlements, bank connectors and `kpi_daily`.

`transactions` is the payment gateway's record of every payment and where it stands in the
settlement pipeline; `kpi_daily` is its pre-aggregate (one row per business date, merchant,
source, pipeline status, reconciliation status and currency), rebuilt for a date range by
`hisaab.overview.refresh.refresh_kpis`, so the Overview never scans `transactions`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hisaab.storage.models import Base, UTCDateTime, _one_of, utcnow

PIPELINE_STATUSES = ("captured", "in_settlement", "sent_to_bank", "credited")
RECONCILIATION_STATUSES = ("matched", "unmatched", "exception", "pending")
PAYMENT_METHODS = ("UPI", "CARD", "NETBANKING", "WALLET")
SETTLEMENT_STATUSES = ("pending", "sent_to_bank", "credited", "failed")
CONNECTOR_KINDS = ("sftp", "api", "upload", "webhook")
CONNECTOR_STATUSES = ("active", "paused", "disabled")


class Settlement(Base):
    """A settlement batch: what one merchant is paid for one business date."""

    __tablename__ = "settlements"
    __table_args__ = (
        CheckConstraint(_one_of("status", SETTLEMENT_STATUSES), name="status"),
        CheckConstraint("amount_minor >= 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    settlement_date: Mapped[dt.date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    utr: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    credited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class Transaction(Base):
    """One payment as the gateway captured it, and where it is in settlement and matching.

    `business_date` is the date the payment counts for (the gateway's cut-off, not always the
    UTC date of `created_at`); it is the key of the daily pre-aggregate.
    """

    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint("amount_minor >= 0", name="amount"),
        CheckConstraint(_one_of("method", PAYMENT_METHODS), name="method"),
        CheckConstraint(_one_of("status", PIPELINE_STATUSES), name="status"),
        CheckConstraint(
            _one_of("reconciliation_status", RECONCILIATION_STATUSES),
            name="reconciliation_status",
        ),
        Index(None, "business_date"),
        Index(None, "utr"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(16))
    data_source: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="captured")
    reconciliation_status: Mapped[str] = mapped_column(String(16), default="pending")
    utr: Mapped[str | None] = mapped_column(String(64), default=None)
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlements.id"), default=None)
    business_date: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("reconciliation_jobs.id", ondelete="SET NULL"), default=None
    )


class BankConnector(Base):
    """A feed of bank or gateway data (SFTP drop, API, upload) and its last outcomes."""

    __tablename__ = "bank_connectors"
    __table_args__ = (
        CheckConstraint(_one_of("kind", CONNECTOR_KINDS), name="kind"),
        CheckConstraint(_one_of("status", CONNECTOR_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class KpiDaily(Base):
    """The daily pre-aggregate of `transactions`; never written except by `refresh_kpis`."""

    __tablename__ = "kpi_daily"
    __table_args__ = (
        UniqueConstraint(
            "business_date",
            "merchant_id",
            "data_source",
            "status",
            "reconciliation_status",
            "currency",
            name="uq_kpi_daily_key",
        ),
        CheckConstraint("transactions >= 0 AND amount_minor >= 0", name="totals"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    business_date: Mapped[dt.date] = mapped_column(Date)
    merchant_id: Mapped[str] = mapped_column(String(32))
    data_source: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    reconciliation_status: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    transactions: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    refreshed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
