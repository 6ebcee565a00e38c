"""Every query the Overview runs: sums over `kpi_daily` and `kpi_exceptions_daily`, and the
connectors. Nothing here reads `transactions` or `reconciliation_exceptions`: every query reads
at most days x (a few hundred key combinations) rows, however many payments there are."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hisaab.storage.kpi_models import BankConnector, KpiDaily, KpiExceptionsDaily

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
    """Exceptions by workflow status, over value dates from_date..to_date."""
    k = KpiExceptionsDaily
    rows = session.execute(
        select(k.status, func.sum(k.exceptions))
        .where(k.value_date.between(from_date, to_date))
        .group_by(k.status)
    )
    return {str(status): int(count) for status, count in rows}


def unresolved_exceptions_by_category(
    session: Session, from_date: dt.date, to_date: dt.date
) -> list[tuple[str, str, int, int]]:
    """(category, currency, count, amount_minor) of exceptions not yet resolved."""
    k = KpiExceptionsDaily
    rows = session.execute(
        select(k.category, k.currency, func.sum(k.exceptions), func.sum(k.amount_minor))
        .where(k.value_date.between(from_date, to_date), k.status != "resolved")
        .group_by(k.category, k.currency)
    )
    return [(str(c), str(cur), int(n), int(amount)) for c, cur, n, amount in rows]


def connectors(session: Session) -> list[BankConnector]:
    return list(session.scalars(select(BankConnector).order_by(BankConnector.name)))
