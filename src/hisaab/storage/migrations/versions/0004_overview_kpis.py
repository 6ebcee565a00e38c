"""overview tables and kpi_daily pre-aggregate

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_connectors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('sftp', 'api', 'upload', 'webhook')", name=op.f("ck_bank_connectors_kind")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'disabled')", name=op.f("ck_bank_connectors_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_connectors")),
        sa.UniqueConstraint("name", name=op.f("uq_bank_connectors_name")),
    )
    op.create_table(
        "kpi_daily",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
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
        sa.UniqueConstraint(
            "business_date",
            "merchant_id",
            "data_source",
            "status",
            "reconciliation_status",
            "currency",
            name="uq_kpi_daily_key",
        ),
    )
    op.create_table(
        "settlements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("settlement_date", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("utr", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("credited_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent_to_bank', 'credited', 'failed')",
            name=op.f("ck_settlements_status"),
        ),
        sa.CheckConstraint("amount_minor >= 0", name=op.f("ck_settlements_amount")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_settlements_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlements")),
    )
    op.create_table(
        "transactions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("data_source", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reconciliation_status", sa.String(length=16), nullable=False),
        sa.Column("utr", sa.String(length=64), nullable=True),
        sa.Column(
            "settlement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "method IN ('UPI', 'CARD', 'NETBANKING', 'WALLET')", name=op.f("ck_transactions_method")
        ),
        sa.CheckConstraint(
            "reconciliation_status IN ('matched', 'unmatched', 'exception', 'pending')",
            name=op.f("ck_transactions_reconciliation_status"),
        ),
        sa.CheckConstraint(
            "status IN ('captured', 'in_settlement', 'sent_to_bank', 'credited')",
            name=op.f("ck_transactions_status"),
        ),
        sa.CheckConstraint("amount_minor >= 0", name=op.f("ck_transactions_amount")),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["reconciliation_jobs.id"],
            name=op.f("fk_transactions_job_id_reconciliation_jobs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_transactions_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["settlements.id"],
            name=op.f("fk_transactions_settlement_id_settlements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transactions_business_date"), ["business_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_transactions_utr"), ["utr"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transactions_utr"))
        batch_op.drop_index(batch_op.f("ix_transactions_business_date"))

    op.drop_table("transactions")
    op.drop_table("settlements")
    op.drop_table("kpi_daily")
    op.drop_table("bank_connectors")
