"""statement findings (BALANCE_MISMATCH, CONTROL_TOTAL_MISMATCH) as exception categories

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ENGINE = (
    "'UNMATCHED_PG', 'UNMATCHED_BANK', 'AMOUNT_MISMATCH', 'UTR_MISSING', 'DUPLICATE_UTR', "
    "'AMBIGUOUS', 'DATE_MISMATCH', 'LOW_CONFIDENCE'"
)
_WITH_FINDINGS = f"category IN ({_ENGINE}, 'BALANCE_MISMATCH', 'CONTROL_TOTAL_MISMATCH')"
_WITHOUT_FINDINGS = f"category IN ({_ENGINE})"
_TABLES = ("reconciliation_exceptions", "kpi_exceptions_daily")


def _category_check(condition: str) -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"ck_{table}_category"), type_="check")
            batch_op.create_check_constraint(batch_op.f(f"ck_{table}_category"), condition)


def upgrade() -> None:
    _category_check(_WITH_FINDINGS)


def downgrade() -> None:
    op.execute(
        "DELETE FROM reconciliation_exceptions "
        "WHERE category IN ('BALANCE_MISMATCH', 'CONTROL_TOTAL_MISMATCH')"
    )
    op.execute(
        "DELETE FROM kpi_exceptions_daily "
        "WHERE category IN ('BALANCE_MISMATCH', 'CONTROL_TOTAL_MISMATCH')"
    )
    _category_check(_WITHOUT_FINDINGS)
