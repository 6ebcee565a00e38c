"""exception workflow: resolution columns and action history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exception_actions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "exception_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("record_ids", sa.Text(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("status_after", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('assign', 'start_review', 'resolve', 'approve', 'reject', 'reopen')",
            name=op.f("ck_exception_actions_action"),
        ),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('manual_match', 'write_off', 'mark_duplicate', 'accept')",
            name=op.f("ck_exception_actions_resolution"),
        ),
        sa.CheckConstraint(
            "status_after IN ('open', 'in_review', 'pending_approval', 'resolved')",
            name=op.f("ck_exception_actions_status_after"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_exception_actions_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["exception_id"],
            ["reconciliation_exceptions.id"],
            name=op.f("fk_exception_actions_exception_id_reconciliation_exceptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exception_actions")),
    )
    with op.batch_alter_table("exception_actions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exception_actions_exception_id"), ["exception_id"], unique=False
        )

    with op.batch_alter_table("reconciliation_exceptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolution", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("resolution_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("approved_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_reconciliation_exceptions_approved_by_users"),
            "users",
            ["approved_by"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_reconciliation_exceptions_resolved_by_users"),
            "users",
            ["resolved_by"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("reconciliation_exceptions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_reconciliation_exceptions_resolved_by_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_reconciliation_exceptions_approved_by_users"), type_="foreignkey"
        )
        batch_op.drop_column("approved_by")
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("resolution_reason")
        batch_op.drop_column("resolution")

    with op.batch_alter_table("exception_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exception_actions_exception_id"))

    op.drop_table("exception_actions")
