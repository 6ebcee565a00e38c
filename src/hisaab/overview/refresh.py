"""Rebuilds the Overview's pre-aggregates for given dates: `kpi_daily` from `transactions`
(by business date) and `kpi_exceptions_daily` from `reconciliation_exceptions` (by value date).

Delete-and-insert of the dates inside the caller's transaction (the caller commits), so readers
see either the old or the new figures of a date, never half of each. Rebuilding twice gives the
same rows. Whatever writes payments or exceptions refreshes the dates it touched, in the same
transaction: the match job (hisaab.recon.feed) and the exception workflow.

On PostgreSQL a transaction-scoped advisory lock serialises refreshes: two transactions that
each changed a date would otherwise each rebuild it from a snapshot without the other's change
(and collide on the unique key). SQLite serialises writers itself. Take the lock before any
audit entry of the same transaction, as the feed and the workflow do, so they never wait on
each other in opposite orders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, literal, select, text
from sqlalchemy.orm import Session

from hisaab.errors import InputError
from hisaab.storage.kpi_models import KpiDaily, KpiExceptionsDaily, Transaction
from hisaab.storage.models import ReconciliationException, utcnow
from hisaab.storage.sql import on_postgres

# pg_advisory_xact_lock key: "KPI" in ASCII, to stay clear of other users of advisory locks.
_ADVISORY_LOCK_KEY = 0x4B5049

# Which dates to rebuild, as a condition on a date column (of the aggregate or its source).
Within = Callable[[Any], ColumnElement[bool]]


@dataclass(frozen=True, slots=True)
class Refreshed:
    """Rows the rebuilt dates now have in each aggregate."""

    payments: int
    exceptions: int


def refresh_kpis(session: Session, from_date: dt.date, to_date: dt.date) -> Refreshed:
    """Rebuild both aggregates for dates from_date..to_date (inclusive)."""
    if from_date > to_date:
        raise InputError(f"from {from_date} is after to {to_date}", expected="from <= to")
    return _refresh(session, lambda column: column.between(from_date, to_date), True, True)


def refresh_dates(
    session: Session,
    dates: Iterable[dt.date],
    *,
    payments: bool = True,
    exceptions: bool = True,
) -> Refreshed:
    """Rebuild exactly `dates` (any order, repeats allowed) in the aggregates asked for."""
    days = sorted(set(dates))
    if not days:
        return Refreshed(0, 0)
    return _refresh(session, lambda column: column.in_(days), payments, exceptions)


def _refresh(session: Session, within: Within, payments: bool, exceptions: bool) -> Refreshed:
    if on_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
    return Refreshed(
        payments=_rebuild(
            session,
            KpiDaily,
            Transaction,
            ("business_date", "data_source", "status", "reconciliation_status", "currency"),
            "transactions",
            within,
        )
        if payments
        else 0,
        exceptions=_rebuild(
            session,
            KpiExceptionsDaily,
            ReconciliationException,
            ("value_date", "status", "category", "currency"),
            "exceptions",
            within,
        )
        if exceptions
        else 0,
    )


def _rebuild(
    session: Session,
    target: type[KpiDaily] | type[KpiExceptionsDaily],
    source: type[Transaction] | type[ReconciliationException],
    keys: tuple[str, ...],
    count_column: str,
    within: Within,
) -> int:
    """Replace the target's rows of the dates with counts and sums of the source's rows.

    `keys[0]` is the date column, named alike in both tables.
    """
    target_dates = within(getattr(target, keys[0]))
    session.execute(delete(target).where(target_dates))
    columns = [getattr(source, key) for key in keys]
    aggregate = (
        select(
            *columns,
            func.count(),
            func.sum(source.amount_minor),
            literal(utcnow(), target.refreshed_at.type),
        )
        .where(within(getattr(source, keys[0])))
        .group_by(*columns)
    )
    names = [*keys, count_column, "amount_minor", "refreshed_at"]
    session.execute(insert(target).from_select(names, aggregate))
    # Counted, not taken from rowcount: through the ORM session it read 0 on PostgreSQL.
    written = session.scalar(select(func.count()).select_from(target).where(target_dates))
    return int(written or 0)
