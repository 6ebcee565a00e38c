"""Rebuilds the daily pre-aggregate `kpi_daily` from `transactions` for a range of dates.

Delete-and-insert of the whole range inside the caller's transaction (the caller commits), so
readers see either the old or the new figures of a range, never half of each. Running it twice
gives the same rows. On PostgreSQL a transaction-scoped advisory lock serialises concurrent
refreshes, which would otherwise collide on the unique key; SQLite serialises writers itself.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, insert, literal, select, text
from sqlalchemy.orm import Session

from hisaab.errors import InputError
from hisaab.storage.kpi_models import KpiDaily, Transaction
from hisaab.storage.models import utcnow

# pg_advisory_xact_lock key: "KPI" in ASCII, to stay clear of other users of advisory locks.
_ADVISORY_LOCK_KEY = 0x4B5049


def refresh_kpis(session: Session, from_date: dt.date, to_date: dt.date) -> int:
    """Recompute `kpi_daily` for business dates from_date..to_date (inclusive); rows written."""
    if from_date > to_date:
        raise InputError(f"from {from_date} is after to {to_date}", expected="from <= to")
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
    in_range = Transaction.business_date.between(from_date, to_date)
    session.execute(delete(KpiDaily).where(KpiDaily.business_date.between(from_date, to_date)))
    keys = (
        Transaction.business_date,
        Transaction.merchant_id,
        Transaction.data_source,
        Transaction.status,
        Transaction.reconciliation_status,
        Transaction.currency,
    )
    aggregate = (
        select(
            *keys,
            func.count().label("transactions"),
            func.sum(Transaction.amount_minor).label("amount_minor"),
            literal(utcnow(), KpiDaily.refreshed_at.type).label("refreshed_at"),
        )
        .where(in_range)
        .group_by(*keys)
    )
    columns = [
        "business_date",
        "merchant_id",
        "data_source",
        "status",
        "reconciliation_status",
        "currency",
        "transactions",
        "amount_minor",
        "refreshed_at",
    ]
    session.execute(insert(KpiDaily).from_select(columns, aggregate))
    # Counted, not taken from rowcount: through the ORM session it read 0 on PostgreSQL.
    written = session.scalar(
        select(func.count())
        .select_from(KpiDaily)
        .where(KpiDaily.business_date.between(from_date, to_date))
    )
    return int(written or 0)
