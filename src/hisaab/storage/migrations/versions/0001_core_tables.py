"""core tables: users, merchants, jobs, files, matches, exceptions, audit, queue

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Written against the models of this revision; it does not import them, so that later model
changes never alter what this migration does.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merchants",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchants")),
    )
    op.create_table(
        "queue_jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(length=200), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_queue_jobs_status")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_queue_jobs_attempts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_jobs")),
    )
    with op.batch_alter_table("queue_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_queue_jobs_status_run_after"), ["status", "run_after"], unique=False
        )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(role = 'merchant-admin') = (merchant_id IS NOT NULL)",
            name=op.f("ck_users_merchant_scope"),
        ),
        sa.CheckConstraint(
            "role IN ('admin', 'sp-ops', 'sp-finance', 'sp-compliance', 'merchant-admin')",
            name=op.f("ck_users_role"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_users_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_audit_log_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    op.create_table(
        "reconciliation_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("ruleset_version", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('created', 'queued', 'running', 'completed', 'failed')",
            name=op.f("ck_reconciliation_jobs_status"),
        ),
        sa.CheckConstraint(
            "progress BETWEEN 0 AND 100", name=op.f("ck_reconciliation_jobs_progress")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_reconciliation_jobs_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_reconciliation_jobs_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_jobs")),
    )
    op.create_table(
        "recon_job_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("filename", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("row_count", sa.BigInteger(), nullable=True),
        sa.Column("storage_path", sa.String(length=1000), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("side IN ('pg', 'bank')", name=op.f("ck_recon_job_files_side")),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_recon_job_files_size")),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["reconciliation_jobs.id"],
            name=op.f("fk_recon_job_files_job_id_reconciliation_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name=op.f("fk_recon_job_files_uploaded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_job_files")),
        sa.UniqueConstraint(
            "job_id", "side", "sha256", name=op.f("uq_recon_job_files_job_id_side_sha256")
        ),
    )
    op.create_table(
        "recon_matches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.BigInteger(), nullable=False),
        sa.Column("match_type", sa.String(length=16), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("confidence", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pg_record_id", sa.String(length=200), nullable=False),
        sa.Column("bank_record_id", sa.String(length=200), nullable=False),
        sa.Column("pg_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("bank_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("pg_source_line", sa.BigInteger(), nullable=False),
        sa.Column("bank_source_line", sa.BigInteger(), nullable=False),
        sa.Column("amount_delta_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "match_type IN ('one_to_one', 'many_to_one')", name=op.f("ck_recon_matches_match_type")
        ),
        sa.CheckConstraint("status IN ('auto', 'suggested')", name=op.f("ck_recon_matches_status")),
        sa.CheckConstraint(
            "pg_amount_minor >= 0 AND bank_amount_minor >= 0", name=op.f("ck_recon_matches_amounts")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["reconciliation_jobs.id"],
            name=op.f("fk_recon_matches_job_id_reconciliation_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recon_matches")),
    )
    with op.batch_alter_table("recon_matches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recon_matches_job_id_bank_record_id"),
            ["job_id", "bank_record_id"],
            unique=False,
        )

    op.create_table(
        "reconciliation_exceptions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("record_id", sa.String(length=200), nullable=False),
        sa.Column("source_line", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("utr", sa.String(length=64), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "category IN ('UNMATCHED_PG', 'UNMATCHED_BANK', 'AMOUNT_MISMATCH', 'UTR_MISSING', 'DUPLICATE_UTR', 'AMBIGUOUS', 'DATE_MISMATCH', 'LOW_CONFIDENCE')",
            name=op.f("ck_reconciliation_exceptions_category"),
        ),
        sa.CheckConstraint(
            "side IN ('pg', 'bank')", name=op.f("ck_reconciliation_exceptions_side")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'in_review', 'pending_approval', 'resolved')",
            name=op.f("ck_reconciliation_exceptions_status"),
        ),
        sa.CheckConstraint("amount_minor >= 0", name=op.f("ck_reconciliation_exceptions_amount")),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["reconciliation_jobs.id"],
            name=op.f("fk_reconciliation_exceptions_job_id_reconciliation_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_reconciliation_exceptions_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_exceptions")),
    )
    with op.batch_alter_table("reconciliation_exceptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconciliation_exceptions_job_id_status_category"),
            ["job_id", "status", "category"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("reconciliation_exceptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_exceptions_job_id_status_category"))

    op.drop_table("reconciliation_exceptions")
    with op.batch_alter_table("recon_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recon_matches_job_id_bank_record_id"))

    op.drop_table("recon_matches")
    op.drop_table("recon_job_files")
    op.drop_table("reconciliation_jobs")
    op.drop_table("audit_log")
    op.drop_table("users")
    with op.batch_alter_table("queue_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_queue_jobs_status_run_after"))

    op.drop_table("queue_jobs")
    op.drop_table("merchants")
