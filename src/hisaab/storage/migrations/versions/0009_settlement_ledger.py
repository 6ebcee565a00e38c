"""settlements as ledger sums: ledger_lines, the settlement lifecycle, payments' pipeline

Settlements gain their figures (payments, gross, net, debit, carried, terms version), one per
merchant and date, and the lifecycle computed -> approved -> sent_to_bank -> credited (with
draft, failed, returned, cancelled); a `pending` settlement becomes `computed`. A payment's
pipeline status now means what the merchant was paid: the match of its bank credit is its
reconciliation status alone, so matched payments that no settlement holds go back from
`credited` to `captured`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ONCE = (
    "kind IN ('payment', 'refund', 'reserve_release', 'carry_forward', 'dispute_debit',"
    " 'dispute_reversal', 'dispute_fee', 'adjustment')"
)
_OLD_STATUSES = "status IN ('pending', 'sent_to_bank', 'credited', 'failed')"
_NEW_STATUSES = (
    "status IN ('draft', 'computed', 'approved', 'sent_to_bank', 'credited', 'failed',"
    " 'returned', 'cancelled')"
)


def upgrade() -> None:
    op.create_table(
        "ledger_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column(
            "settlement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("available_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('payment', 'mdr_fee', 'gst_on_fee', 'refund', 'dispute_debit', 'dispute_reversal', 'dispute_fee', 'reserve_hold', 'reserve_release', 'adjustment', 'payout', 'payout_return', 'carry_forward')",
            name=op.f("ck_ledger_lines_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_ledger_lines_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["settlements.id"],
            name=op.f("fk_ledger_lines_settlement_id_settlements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_lines")),
    )
    with op.batch_alter_table("ledger_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_lines_merchant_id_kind_available_on"),
            ["merchant_id", "kind", "available_on"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_lines_settlement_id"), ["settlement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ledger_lines_source_id"), ["source_id"], unique=False)
        batch_op.create_index(
            "uq_ledger_lines_once",
            ["kind", "source_id"],
            unique=True,
            sqlite_where=sa.text(_ONCE),
            postgresql_where=sa.text(_ONCE),
        )

    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("terms_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("payments", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("gross_minor", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("net_minor", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("debit_minor", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("carry_forward_minor", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("computed_by", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_settlements_merchant_id_settlement_date"),
            ["merchant_id", "settlement_date"],
            unique=True,
        )
        batch_op.drop_constraint(batch_op.f("ck_settlements_status"), type_="check")
    op.execute("UPDATE settlements SET status = 'computed' WHERE status = 'pending'")
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.create_check_constraint(batch_op.f("ck_settlements_status"), _NEW_STATUSES)
        batch_op.create_check_constraint(batch_op.f("ck_settlements_debit"), "debit_minor >= 0")
    op.execute(
        "UPDATE transactions SET status = 'captured'"
        " WHERE status = 'credited' AND settlement_id IS NULL"
    )
    _rebuild_kpi_daily_of_credited()


def downgrade() -> None:
    op.execute(
        "UPDATE transactions SET status = 'credited'"
        " WHERE status = 'captured' AND reconciliation_status = 'matched'"
    )
    _rebuild_kpi_daily_of_credited()
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_settlements_debit"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_settlements_status"), type_="check")
    op.execute(
        "UPDATE settlements SET status = 'pending'"
        " WHERE status NOT IN ('pending', 'sent_to_bank', 'credited', 'failed')"
    )
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.create_check_constraint(batch_op.f("ck_settlements_status"), _OLD_STATUSES)
        batch_op.drop_index(batch_op.f("ix_settlements_merchant_id_settlement_date"))
        batch_op.drop_column("computed_by")
        batch_op.drop_column("carry_forward_minor")
        batch_op.drop_column("debit_minor")
        batch_op.drop_column("net_minor")
        batch_op.drop_column("gross_minor")
        batch_op.drop_column("payments")
        batch_op.drop_column("terms_version")

    with op.batch_alter_table("ledger_lines", schema=None) as batch_op:
        batch_op.drop_index("uq_ledger_lines_once")
        batch_op.drop_index(batch_op.f("ix_ledger_lines_source_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_lines_settlement_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_lines_merchant_id_kind_available_on"))

    op.drop_table("ledger_lines")


def _rebuild_kpi_daily_of_credited() -> None:
    """The Overview's daily payment aggregate, rebuilt for the dates whose payments changed
    status above (as `hisaab.overview.refresh` builds it), so its figures stay true."""
    dates = (
        "SELECT DISTINCT business_date FROM transactions"
        " WHERE status IN ('captured', 'credited') AND reconciliation_status = 'matched'"
    )
    op.execute(f"DELETE FROM kpi_daily WHERE business_date IN ({dates})")
    op.execute(
        "INSERT INTO kpi_daily (business_date, data_source, status, reconciliation_status,"
        " currency, transactions, amount_minor, refreshed_at)"
        " SELECT business_date, data_source, status, reconciliation_status, currency,"
        " count(*), sum(amount_minor), CURRENT_TIMESTAMP FROM transactions"
        f" WHERE business_date IN ({dates})"
        " GROUP BY business_date, data_source, status, reconciliation_status, currency"
    )
