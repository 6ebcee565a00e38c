"""overview aggregates that do not grow with payments; bank_transactions; job-fed payments

`kpi_daily` loses its merchant key (no Overview answer is per merchant), so its size is bounded
by dates x sources x statuses x currencies; `kpi_exceptions_daily` does the same for exceptions.
Both are filled from the existing rows. `transactions` gains the record id and line of a
job's PG record and the method OTHER; `bank_transactions` holds a job's bank lines.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_METHODS_0004 = "method IN ('UPI', 'CARD', 'NETBANKING', 'WALLET')"
_METHODS_0005 = "method IN ('UPI', 'CARD', 'NETBANKING', 'WALLET', 'OTHER')"

# The columns the aggregates are filled from, as they are at this revision.
_transactions = sa.table(
    "transactions",
    sa.column("business_date", sa.Date()),
    sa.column("merchant_id", sa.String()),
    sa.column("data_source", sa.String()),
    sa.column("status", sa.String()),
    sa.column("reconciliation_status", sa.String()),
    sa.column("currency", sa.String()),
    sa.column("amount_minor", sa.BigInteger()),
)
_exceptions = sa.table(
    "reconciliation_exceptions",
    sa.column("value_date", sa.Date()),
    sa.column("status", sa.String()),
    sa.column("category", sa.String()),
    sa.column("currency", sa.String()),
    sa.column("amount_minor", sa.BigInteger()),
)


def _now() -> sa.BindParameter[dt.datetime]:
    return sa.literal(dt.datetime.now(dt.UTC), sa.DateTime(timezone=True))


def _fill(target: str, keys: list[str], source: sa.TableClause, count: str) -> None:
    """INSERT INTO target (keys, count, amount_minor, refreshed_at) SELECT ... GROUP BY keys."""
    columns = [source.c[k] for k in keys]
    aggregate = sa.select(
        *columns, sa.func.count(), sa.func.sum(source.c.amount_minor), _now()
    ).group_by(*columns)
    names = [*keys, count, "amount_minor", "refreshed_at"]
    table = sa.table(target, *(sa.column(c) for c in names))
    op.get_bind().execute(sa.insert(table).from_select(names, aggregate))


def _kpi_daily(with_merchant: bool) -> None:
    keys = ["business_date", *(["merchant_id"] if with_merchant else []), "data_source"]
    keys += ["status", "reconciliation_status", "currency"]
    op.create_table(
        "kpi_daily",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        *(
            [sa.Column("merchant_id", sa.String(length=32), nullable=False)]
            if with_merchant
            else []
        ),
        sa.Column("data_source", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reconciliation_status", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("transactions", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "transactions >= 0 AND amount_minor >= 0", name=op.f("ck_kpi_daily_totals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_daily")),
        sa.UniqueConstraint(*keys, name="uq_kpi_daily_key"),
    )
    _fill("kpi_daily", keys, _transactions, "transactions")


def upgrade() -> None:
    op.create_table(
        "bank_transactions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("record_id", sa.String(length=200), nullable=False),
        sa.Column("source_line", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("direction", sa.String(length=2), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("utr", sa.String(length=64), nullable=True),
        sa.Column("data_source", sa.String(length=32), nullable=False),
        sa.Column("reconciliation_status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor >= 0", name=op.f("ck_bank_transactions_amount")),
        sa.CheckConstraint(
            "direction IN ('CR', 'DR')", name=op.f("ck_bank_transactions_direction")
        ),
        sa.CheckConstraint(
            "reconciliation_status IN ('matched', 'unmatched', 'exception', 'pending')",
            name=op.f("ck_bank_transactions_reconciliation_status"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["reconciliation_jobs.id"],
            name=op.f("fk_bank_transactions_job_id_reconciliation_jobs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_transactions")),
    )
    with op.batch_alter_table("bank_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bank_transactions_job_id_source_line"),
            ["job_id", "source_line"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_bank_transactions_value_date"), ["value_date"], unique=False
        )

    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("record_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("source_line", sa.BigInteger(), nullable=True))
        batch_op.drop_constraint(batch_op.f("ck_transactions_method"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_transactions_method"), _METHODS_0005)
        batch_op.create_index(
            batch_op.f("ix_transactions_job_id_source_line"),
            ["job_id", "source_line"],
            unique=False,
        )

    with op.batch_alter_table("reconciliation_exceptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconciliation_exceptions_value_date"), ["value_date"], unique=False
        )

    op.drop_table("kpi_daily")
    _kpi_daily(with_merchant=False)

    op.create_table(
        "kpi_exceptions_daily",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("exceptions", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "category IN ('UNMATCHED_PG', 'UNMATCHED_BANK', 'AMOUNT_MISMATCH', 'UTR_MISSING', 'DUPLICATE_UTR', 'AMBIGUOUS', 'DATE_MISMATCH', 'LOW_CONFIDENCE')",
            name=op.f("ck_kpi_exceptions_daily_category"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'in_review', 'pending_approval', 'resolved')",
            name=op.f("ck_kpi_exceptions_daily_status"),
        ),
        sa.CheckConstraint(
            "exceptions >= 0 AND amount_minor >= 0", name=op.f("ck_kpi_exceptions_daily_totals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_exceptions_daily")),
        sa.UniqueConstraint(
            "value_date", "status", "category", "currency", name="uq_kpi_exceptions_daily_key"
        ),
    )
    _fill(
        "kpi_exceptions_daily",
        ["value_date", "status", "category", "currency"],
        _exceptions,
        "exceptions",
    )


def downgrade() -> None:
    op.drop_table("kpi_exceptions_daily")
    op.drop_table("kpi_daily")
    with op.batch_alter_table("reconciliation_exceptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_exceptions_value_date"))

    # The 0004 schema has no method OTHER: such payments cannot be kept.
    op.get_bind().execute(sa.text("DELETE FROM transactions WHERE method = 'OTHER'"))
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transactions_job_id_source_line"))
        batch_op.drop_constraint(batch_op.f("ck_transactions_method"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_transactions_method"), _METHODS_0004)
        batch_op.drop_column("source_line")
        batch_op.drop_column("record_id")
    _kpi_daily(with_merchant=True)

    with op.batch_alter_table("bank_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_transactions_value_date"))
        batch_op.drop_index(batch_op.f("ix_bank_transactions_job_id_source_line"))
    op.drop_table("bank_transactions")
