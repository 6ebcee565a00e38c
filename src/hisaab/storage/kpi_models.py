"""The tables the Overview reads, and what feeds them.

`transactions` is every payment (the gateway's record, or a PG record of a completed
reconciliation job) and where it stands in the settlement pipeline and in matching;
`bank_transactions` the bank lines of completed jobs. The Overview never scans either: it reads
two pre-aggregates whose size does not grow with the number of payments,

    kpi_daily             one row per business date, data source, pipeline status,
                          reconciliation status and currency: payments and their amount
    kpi_exceptions_daily  one row per value date, exception status, category and currency:
                          exceptions and their amount

both rebuilt for given dates by `hisaab.overview.refresh`.
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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hisaab.settlement.ledger import LINE_KINDS
from hisaab.storage.models import (
    EXCEPTION_CATEGORIES,
    EXCEPTION_STATUSES,
    Base,
    ReconciliationException,
    UTCDateTime,
    _one_of,
    utcnow,
)

PIPELINE_STATUSES = ("captured", "in_settlement", "sent_to_bank", "credited")
RECONCILIATION_STATUSES = ("matched", "unmatched", "exception", "pending")
# OTHER: a payment whose record does not say its method (a statement line, an M-Pesa receipt).
PAYMENT_METHODS = ("UPI", "CARD", "NETBANKING", "WALLET", "OTHER")
# A settlement's lifecycle: computed, approved by a second finance user, sent in a payout
# file, credited (its UTR on the statement); or failed, returned (even after credited),
# cancelled. `draft` is a settlement being assembled.
SETTLEMENT_STATUSES = (
    "draft",
    "computed",
    "approved",
    "sent_to_bank",
    "credited",
    "failed",
    "returned",
    "cancelled",
)
CONNECTOR_KINDS = ("sftp", "api", "upload", "webhook")
CONNECTOR_STATUSES = ("active", "paused", "disabled")


class Settlement(Base):
    """One merchant's settlement for one date: the sum of its ledger lines (`ledger_lines`).

    `amount_minor` is what is paid out; `net_minor` the sum of the lines, which is paid when it
    reaches the minimum payout, else carried (`carry_forward_minor`) or, when negative and the
    terms say so, debited from the merchant (`debit_minor`). Computing a date twice never pays
    twice: one settlement per merchant and date.
    """

    __tablename__ = "settlements"
    __table_args__ = (
        CheckConstraint(_one_of("status", SETTLEMENT_STATUSES), name="status"),
        CheckConstraint("amount_minor >= 0", name="amount"),
        CheckConstraint("debit_minor >= 0", name="debit"),
        Index(None, "merchant_id", "settlement_date", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    settlement_date: Mapped[dt.date] = mapped_column(Date)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="computed")
    utr: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    credited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    terms_version: Mapped[int | None] = mapped_column(Integer, default=None)
    payments: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    gross_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    net_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    debit_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    carry_forward_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    computed_by: Mapped[int | None] = mapped_column(Integer, default=None)


_ONCE = (
    "kind IN ('payment', 'refund', 'reserve_release', 'carry_forward', 'dispute_debit',"
    " 'dispute_reversal', 'dispute_fee', 'adjustment')"
)


class LedgerLine(Base):
    """An immutable balance movement of a merchant, signed from the merchant's side.

    `source_id` names its cause: a payment id, `ledger:<id>` of the reserve hold a release
    frees, `settlement:<id>` of the settlement whose balance a carry-forward brings.
    """

    __tablename__ = "ledger_lines"
    __table_args__ = (
        CheckConstraint(_one_of("kind", LINE_KINDS), name="kind"),
        Index(None, "merchant_id", "kind", "available_on"),
        Index(None, "settlement_id"),
        Index(None, "source_id"),
        # Booked once, ever: a payment, a refund, a reserve release, a carried balance. Runs that
        # race for the same money cannot both commit.
        Index(
            "uq_ledger_lines_once",
            "kind",
            "source_id",
            unique=True,
            sqlite_where=text(_ONCE),
            postgresql_where=text(_ONCE),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlements.id"))
    kind: Mapped[str] = mapped_column(String(24))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    source_id: Mapped[str | None] = mapped_column(String(64), default=None)
    note: Mapped[str] = mapped_column(Text)
    available_on: Mapped[dt.date | None] = mapped_column(Date, default=None)  # a hold's release
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Transaction(Base):
    """One payment as the gateway captured it, and where it is in settlement and matching.

    `business_date` is the date the payment counts for (the gateway's cut-off, not always the
    UTC date of `created_at`); it is the key of the daily pre-aggregate. A payment that came
    from a reconciliation job keeps the job, and its record's id and line in the PG file.
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
        Index(None, "job_id", "source_line"),
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
    record_id: Mapped[str | None] = mapped_column(String(200), default=None)
    source_line: Mapped[int | None] = mapped_column(BigInteger, default=None)


class BankTransaction(Base):
    """One line of a bank statement reconciled by a job, and whether it was matched."""

    __tablename__ = "bank_transactions"
    __table_args__ = (
        CheckConstraint("amount_minor >= 0", name="amount"),
        CheckConstraint("direction IN ('CR', 'DR')", name="direction"),
        CheckConstraint(
            _one_of("reconciliation_status", RECONCILIATION_STATUSES),
            name="reconciliation_status",
        ),
        Index(None, "job_id", "source_line"),
        Index(None, "value_date"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[int | None] = mapped_column(
        ForeignKey("reconciliation_jobs.id", ondelete="SET NULL"), default=None
    )
    record_id: Mapped[str] = mapped_column(String(200))
    source_line: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    direction: Mapped[str] = mapped_column(String(2))
    value_date: Mapped[dt.date] = mapped_column(Date)
    utr: Mapped[str | None] = mapped_column(String(64), default=None)
    data_source: Mapped[str] = mapped_column(String(32))
    reconciliation_status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


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
    """Payments per business date, source, pipeline and reconciliation status and currency.

    At most days x sources x 4 x 4 x currencies rows, however many payments there are; never
    written except by `hisaab.overview.refresh`.
    """

    __tablename__ = "kpi_daily"
    __table_args__ = (
        UniqueConstraint(
            "business_date",
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
    data_source: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    reconciliation_status: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    transactions: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    refreshed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class KpiExceptionsDaily(Base):
    """Reconciliation exceptions per value date, workflow status, category and currency.

    At most days x 4 x 8 x currencies rows; never written except by `hisaab.overview.refresh`.
    """

    __tablename__ = "kpi_exceptions_daily"
    __table_args__ = (
        UniqueConstraint(
            "value_date", "status", "category", "currency", name="uq_kpi_exceptions_daily_key"
        ),
        CheckConstraint(_one_of("status", EXCEPTION_STATUSES), name="status"),
        CheckConstraint(_one_of("category", EXCEPTION_CATEGORIES), name="category"),
        CheckConstraint("exceptions >= 0 AND amount_minor >= 0", name="totals"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    value_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    exceptions: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    refreshed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# Rebuilding a day of `kpi_exceptions_daily` reads that day's exceptions, not all of them.
Index("ix_reconciliation_exceptions_value_date", ReconciliationException.value_date)


class Refund(Base):
    """A refund a merchant owes back, from the gateway's feed or entered by staff.

    It is taken from the merchant's next settlement on or after its business date
    (`settlement_id` then names that settlement). `payment_ref` is the gateway's id of the
    payment refunded, when known.
    """

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount"),
        Index(None, "merchant_id", "settlement_id", "business_date"),
        Index(None, "merchant_id", "payment_ref"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    payment_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    business_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlements.id"), default=None)
    created_by: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


DISPUTE_NETWORKS = ("visa", "mastercard", "rupay", "upi")
DISPUTE_STAGES = ("retrieval", "chargeback", "pre_arbitration", "arbitration")
DISPUTE_STATUSES = (
    "open",
    "evidence_draft",
    "submitted",
    "won",
    "lost",
    "accepted",
    "expired",
    "cancelled",
)


class Dispute(Base):
    """A dispute (chargeback) of a payment: where it stands, and which settlements moved its
    money (`opened_settlement_id` took the debit or fee at opening, `decided_settlement_id`
    booked the decision)."""

    __tablename__ = "disputes"
    __table_args__ = (
        CheckConstraint(_one_of("network", DISPUTE_NETWORKS), name="network"),
        CheckConstraint(_one_of("stage", DISPUTE_STAGES), name="stage"),
        CheckConstraint(_one_of("status", DISPUTE_STATUSES), name="status"),
        CheckConstraint("amount_minor > 0 AND fee_minor >= 0", name="amounts"),
        Index(None, "merchant_id", "status"),
        Index(None, "status", "respond_by"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    payment_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    network: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16), default="open")
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    respond_by: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    evidence: Mapped[str | None] = mapped_column(Text, default=None)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    double_loss: Mapped[bool] = mapped_column(default=False)
    opened_settlement_id: Mapped[int | None] = mapped_column(
        ForeignKey("settlements.id"), default=None
    )
    decided_settlement_id: Mapped[int | None] = mapped_column(
        ForeignKey("settlements.id"), default=None
    )
    created_by: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


ADJUSTMENT_STATUSES = ("proposed", "approved", "rejected")


class Adjustment(Base):
    """A manual credit (positive) or debit (negative) to a merchant's balance.

    Proposed by one user and approved by a different one (maker-checker); an approved one is
    taken once, by the merchant's next settlement (`settlement_id`).
    """

    __tablename__ = "adjustments"
    __table_args__ = (
        CheckConstraint(_one_of("status", ADJUSTMENT_STATUSES), name="status"),
        CheckConstraint("amount_minor <> 0", name="amount"),
        CheckConstraint("(status = 'proposed') = (decided_at IS NULL)", name="decided"),
        Index(None, "merchant_id", "status", "settlement_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    proposed_by: Mapped[int] = mapped_column(Integer)
    proposed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(Integer, default=None)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    decision_reason: Mapped[str | None] = mapped_column(Text, default=None)
    settlement_id: Mapped[int | None] = mapped_column(ForeignKey("settlements.id"), default=None)
