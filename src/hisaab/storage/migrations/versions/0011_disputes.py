"""disputes: one model for card and UPI chargebacks, and the settlements that moved their money

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("payment_ref", sa.String(length=200), nullable=True),
        sa.Column("network", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("respond_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("double_loss", sa.Boolean(), nullable=False),
        sa.Column(
            "opened_settlement_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "decided_settlement_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "network IN ('visa', 'mastercard', 'rupay', 'upi')", name=op.f("ck_disputes_network")
        ),
        sa.CheckConstraint(
            "stage IN ('retrieval', 'chargeback', 'pre_arbitration', 'arbitration')",
            name=op.f("ck_disputes_stage"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'evidence_draft', 'submitted', 'won', 'lost', 'accepted', 'expired', 'cancelled')",
            name=op.f("ck_disputes_status"),
        ),
        sa.CheckConstraint("amount_minor > 0 AND fee_minor >= 0", name=op.f("ck_disputes_amounts")),
        sa.ForeignKeyConstraint(
            ["decided_settlement_id"],
            ["settlements.id"],
            name=op.f("fk_disputes_decided_settlement_id_settlements"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_disputes_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["opened_settlement_id"],
            ["settlements.id"],
            name=op.f("fk_disputes_opened_settlement_id_settlements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
    )
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_disputes_merchant_id_status"), ["merchant_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_disputes_status_respond_by"), ["status", "respond_by"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disputes_status_respond_by"))
        batch_op.drop_index(batch_op.f("ix_disputes_merchant_id_status"))

    op.drop_table("disputes")
