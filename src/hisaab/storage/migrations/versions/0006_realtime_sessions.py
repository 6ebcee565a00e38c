"""real-time payment sessions and events

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mpesa_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("checkout_request_id", sa.String(length=64), nullable=True),
        sa.Column("receipt", sa.String(length=32), nullable=True),
        sa.Column("result_code", sa.String(length=32), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("phone", sa.String(length=80), nullable=True),
        sa.Column("authenticated", sa.Boolean(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=True),
        sa.Column("first_of", sa.String(length=128), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('stk_push', 'stk_callback', 'stk_query', 'c2b_validation', 'c2b_confirmation', 'transaction_status', 'rejected')",
            name=op.f("ck_mpesa_events_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mpesa_events")),
    )
    with op.batch_alter_table("mpesa_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mpesa_events_checkout_request_id"), ["checkout_request_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_mpesa_events_kind_first_of"),
            ["kind", "first_of"],
            unique=True,
            sqlite_where=sa.text("first_of IS NOT NULL"),
            postgresql_where=sa.text("first_of IS NOT NULL"),
        )
        batch_op.create_index(batch_op.f("ix_mpesa_events_receipt"), ["receipt"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_mpesa_events_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "payment_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("account_reference", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("checkout_request_id", sa.String(length=64), nullable=True),
        sa.Column("merchant_request_id", sa.String(length=64), nullable=True),
        sa.Column("mpesa_receipt", sa.String(length=32), nullable=True),
        sa.Column("paid_amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("result_code", sa.String(length=32), nullable=True),
        sa.Column("result_desc", sa.Text(), nullable=True),
        sa.Column("reconciliation_status", sa.String(length=16), nullable=True),
        sa.Column("reconciled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("initiated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reconciliation_status IS NULL OR reconciliation_status IN ('matched', 'discrepancy', 'pending', 'failed')",
            name=op.f("ck_payment_sessions_reconciliation_status"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'paid', 'failed', 'cancelled', 'expired')",
            name=op.f("ck_payment_sessions_status"),
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payment_sessions_amount_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_sessions")),
    )
    with op.batch_alter_table("payment_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_sessions_account_reference"), ["account_reference"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_payment_sessions_checkout_request_id"),
            ["checkout_request_id"],
            unique=True,
        )
        batch_op.create_index(
            batch_op.f("ix_payment_sessions_merchant_id_created_at"),
            ["merchant_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_payment_sessions_status_updated_at"),
            ["status", "updated_at"],
            unique=False,
        )

    op.create_table(
        "realtime_alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("provider_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'suppressed', 'failed')",
            name=op.f("ck_realtime_alerts_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_realtime_alerts")),
    )
    with op.batch_alter_table("realtime_alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_realtime_alerts_subject_type_channel_created_at"),
            ["subject", "type", "channel", "created_at"],
            unique=False,
        )

    op.create_table(
        "realtime_discrepancies",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "severity IN ('high', 'medium', 'low')", name=op.f("ck_realtime_discrepancies_severity")
        ),
        sa.CheckConstraint(
            "type IN ('amount_mismatch', 'status_mismatch', 'duplicate_receipt', 'phone_mismatch', 'missing_callback', 'stuck_processing', 'late_callback', 'orphan_callback', 'duplicate_callback')",
            name=op.f("ck_realtime_discrepancies_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_realtime_discrepancies")),
    )
    with op.batch_alter_table("realtime_discrepancies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_realtime_discrepancies_detected_at"), ["detected_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_realtime_discrepancies_subject_type"), ["subject", "type"], unique=True
        )

    op.create_table(
        "realtime_results",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("issues", sa.Text(), nullable=False),
        sa.Column("processing_us", sa.BigInteger(), nullable=True),
        sa.Column("event_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('matched', 'discrepancy', 'pending', 'failed')",
            name=op.f("ck_realtime_results_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_realtime_results")),
    )
    with op.batch_alter_table("realtime_results", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_realtime_results_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_realtime_results_session_id_id"), ["session_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("realtime_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_realtime_results_session_id_id"))
        batch_op.drop_index(batch_op.f("ix_realtime_results_created_at"))

    op.drop_table("realtime_results")
    with op.batch_alter_table("realtime_discrepancies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_realtime_discrepancies_subject_type"))
        batch_op.drop_index(batch_op.f("ix_realtime_discrepancies_detected_at"))

    op.drop_table("realtime_discrepancies")
    with op.batch_alter_table("realtime_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_realtime_alerts_subject_type_channel_created_at"))

    op.drop_table("realtime_alerts")
    with op.batch_alter_table("payment_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_sessions_status_updated_at"))
        batch_op.drop_index(batch_op.f("ix_payment_sessions_merchant_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_payment_sessions_checkout_request_id"))
        batch_op.drop_index(batch_op.f("ix_payment_sessions_account_reference"))

    op.drop_table("payment_sessions")
    with op.batch_alter_table("mpesa_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mpesa_events_session_id"))
        batch_op.drop_index(batch_op.f("ix_mpesa_events_receipt"))
        batch_op.drop_index(
            batch_op.f("ix_mpesa_events_kind_first_of"),
            sqlite_where=sa.text("first_of IS NOT NULL"),
            postgresql_where=sa.text("first_of IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_mpesa_events_checkout_request_id"))

    op.drop_table("mpesa_events")
