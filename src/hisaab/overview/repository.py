"""Every query the Overview runs: sums over `kpi_daily`, exceptions by status and category,
and the connectors. Nothing here reads `transactions`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hisaab.storage.kpi_models import BankConnector, KpiDaily
from hisaab.storage.models import ReconciliationException

KPI_KEYS = ("status", "reconciliation_status", "data_source", "currency")


@dataclass(frozen=True, slots=True)
class KpiSum:
    """Transactions and their amount for one combination of the requested keys."""

    key: tuple[str, ...]
    transactions: int
    amount_minor: int


def kpi_sums(
    session: Session, from_date: dt.date, to_date: dt.date, by: Sequence[str]
) -> list[KpiSum]:
    """Sum `kpi_daily` over business dates from_date..to_date, grouped by `by` (KPI_KEYS)."""
    unknown = set(by) - set(KPI_KEYS)
    if unknown:
        raise ValueError(f"not a key of kpi_daily: {sorted(unknown)}")
    keys = [getattr(KpiDaily, name) for name in by]
    rows = session.execute(
        select(*keys, func.sum(KpiDaily.transactions), func.sum(KpiDaily.amount_minor))
        .where(KpiDaily.business_date.between(from_date, to_date))
        .group_by(*keys)
    )
    n = len(keys)
    return [KpiSum(tuple(str(v) for v in row[:n]), int(row[n]), int(row[n + 1])) for row in rows]


def exception_counts_by_status(
    session: Session, from_date: dt.date, to_date: dt.date
) -> dict[str, int]:
    rows = session.execute(
        select(ReconciliationException.status, func.count())
        .where(ReconciliationException.value_date.between(from_date, to_date))
        .group_by(ReconciliationException.status)
    )
    return {str(status): int(count) for status, count in rows}


def unresolved_exceptions_by_category(
    session: Session, from_date: dt.date, to_date: dt.date
) -> list[tuple[str, str, int, int]]:
    """(category, currency, count, amount_minor) of exceptions not yet resolved."""
    e = ReconciliationException
    rows = session.execute(
        select(e.category, e.currency, func.count(), func.sum(e.amount_minor))
        .where(e.value_date.between(from_date, to_date), e.status != "resolved")
        .group_by(e.category, e.currency)
    )
    return [(str(c), str(cur), int(n), int(amount)) for c, cur, n, amount in rows]


def connectors(session: Session) -> list[BankConnector]:
    return list(session.scalars(select(BankConnector).order_by(BankConnector.name)))
