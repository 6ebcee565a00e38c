"""merchants' settlement accounts and status; versioned merchant terms under maker-checker

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merchant_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("proposed_by", sa.Integer(), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(status = 'proposed') = (decided_at IS NULL)",
            name=op.f("ck_merchant_terms_decided_when_not_proposed"),
        ),
        sa.CheckConstraint(
            "status IN ('proposed', 'active', 'rejected', 'superseded')",
            name=op.f("ck_merchant_terms_status"),
        ),
        sa.CheckConstraint("version > 0", name=op.f("ck_merchant_terms_version")),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_merchant_terms_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_merchant_terms_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by"], ["users.id"], name=op.f("fk_merchant_terms_proposed_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchant_terms")),
    )
    with op.batch_alter_table("merchant_terms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_merchant_terms_merchant_id_version"),
            ["merchant_id", "version"],
            unique=True,
        )
        batch_op.create_index(
            "uq_merchant_terms_active",
            ["merchant_id"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.create_index(
            "uq_merchant_terms_proposed",
            ["merchant_id"],
            unique=True,
            sqlite_where=sa.text("status = 'proposed'"),
            postgresql_where=sa.text("status = 'proposed'"),
        )

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="active", nullable=False)
        )
        batch_op.add_column(
            sa.Column("currency", sa.String(length=3), server_default="INR", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "timezone", sa.String(length=64), server_default="Asia/Kolkata", nullable=False
            )
        )
        batch_op.add_column(sa.Column("bank_account_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("bank_account_number", sa.String(length=34), nullable=True))
        batch_op.add_column(sa.Column("bank_ifsc", sa.String(length=11), nullable=True))
        batch_op.create_check_constraint(
            batch_op.f("ck_merchants_status"), "status IN ('active', 'suspended', 'closed')"
        )


def downgrade() -> None:
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_merchants_status"), type_="check")
        batch_op.drop_column("bank_ifsc")
        batch_op.drop_column("bank_account_number")
        batch_op.drop_column("bank_account_name")
        batch_op.drop_column("timezone")
        batch_op.drop_column("currency")
        batch_op.drop_column("status")

    with op.batch_alter_table("merchant_terms", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_merchant_terms_proposed",
            sqlite_where=sa.text("status = 'proposed'"),
            postgresql_where=sa.text("status = 'proposed'"),
        )
        batch_op.drop_index(
            "uq_merchant_terms_active",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index(batch_op.f("ix_merchant_terms_merchant_id_version"))

    op.drop_table("merchant_terms")
