"""Property: every Overview sum read from the aggregates equals a GROUP BY over the ledger itself.

For generated payments and exceptions (amounts up to ₹10 trillion in paise, so that sums pass
2**53 and a float would show), any date range, and each grouping the Overview asks for, the
repository's answer from `kpi_daily` / `kpi_exceptions_daily` is exactly what a GROUP BY over
`transactions` / `reconciliation_exceptions` gives. The same holds after the ledger changes and
only the dates it changed on are rebuilt.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from hisaab.overview import repository
from hisaab.overview.refresh import refresh_dates, refresh_kpis
from hisaab.storage.engine import make_engine
from hisaab.storage.kpi_models import (
    PIPELINE_STATUSES,
    RECONCILIATION_STATUSES,
    KpiDaily,
    KpiExceptionsDaily,
    Transaction,
)
from hisaab.storage.migrate import upgrade
from hisaab.storage.models import (
    EXCEPTION_STATUSES,
    Merchant,
    ReconciliationException,
    ReconciliationJob,
    User,
)

FIRST = dt.date(2026, 6, 1)
DAYS = 8
SOURCES = ("PG_API", "BANK_SFTP", "pg-generic")
CURRENCIES = ("INR", "USD", "KES")
CATEGORIES = ("UNMATCHED_PG", "UNMATCHED_BANK", "AMOUNT_MISMATCH")
GROUPINGS = (
    ("status", "reconciliation_status", "currency"),  # overview
    ("status", "currency"),  # pipeline
    ("data_source", "reconciliation_status", "currency"),  # sources
)
MAX_AMOUNT = 10**15

day = st.integers(0, DAYS - 1).map(lambda n: FIRST + dt.timedelta(days=n))
payment = st.tuples(
    day,
    st.sampled_from(SOURCES),
    st.sampled_from(PIPELINE_STATUSES),
    st.sampled_from(RECONCILIATION_STATUSES),
    st.sampled_from(CURRENCIES),
    st.integers(0, MAX_AMOUNT),
)
exception = st.tuples(
    day,
    st.sampled_from(EXCEPTION_STATUSES),
    st.sampled_from(CATEGORIES),
    st.sampled_from(CURRENCIES),
    st.integers(0, MAX_AMOUNT),
)
date_range = st.tuples(day, day).map(sorted)


@dataclass
class Ledger:
    sessions: sessionmaker[Session]
    job_id: int


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    upgrade(database_url)
    engine: Engine = make_engine(database_url)
    made = sessionmaker(engine, expire_on_commit=False)
    with made.begin() as session:
        session.add(Merchant(id="M0001234", name="Chai Point"))
        ops = User(email="ops@hisaab.test", password_hash="!", role="sp-ops")
        session.add(ops)
        session.flush()
        job = ReconciliationJob(name="June", created_by=ops.id)
        session.add(job)
        session.flush()
        job_id = job.id
    yield Ledger(made, job_id)
    engine.dispose()


def _write(
    session: Session, job_id: int, payments: Sequence[Any], exceptions: Sequence[Any]
) -> None:
    for model in (Transaction, ReconciliationException, KpiDaily, KpiExceptionsDaily):
        session.execute(delete(model))
    session.add_all(
        Transaction(
            id=f"T{i}",
            merchant_id="M0001234",
            amount_minor=amount,
            currency=currency,
            method="UPI",
            data_source=source,
            status=status,
            reconciliation_status=recon,
            business_date=business_date,
        )
        for i, (business_date, source, status, recon, currency, amount) in enumerate(payments)
    )
    session.add_all(
        ReconciliationException(
            job_id=job_id,
            category=category,
            side="pg",
            record_id=f"E{i}",
            source_line=i + 2,
            amount_minor=amount,
            currency=currency,
            value_date=value_date,
            details=json.dumps({}),
            status=status,
        )
        for i, (value_date, status, category, currency, amount) in enumerate(exceptions)
    )
    session.flush()


def _assert_aggregates_match_the_ledger(session: Session, first: dt.date, last: dt.date) -> None:
    for by in GROUPINGS:
        keys = [getattr(Transaction, name) for name in by]
        truth = session.execute(
            select(*keys, func.count(), func.sum(Transaction.amount_minor))
            .where(Transaction.business_date.between(first, last))
            .group_by(*keys)
        )
        expected = {tuple(row[: len(by)]): (row[-2], row[-1]) for row in truth}
        got = {
            s.key: (s.transactions, s.amount_minor)
            for s in repository.kpi_sums(session, first, last, by)
        }
        assert got == expected, by
    e = ReconciliationException
    in_range = e.value_date.between(first, last)
    by_status = session.execute(select(e.status, func.count()).where(in_range).group_by(e.status))
    assert repository.exception_counts_by_status(session, first, last) == dict(list(by_status))
    unresolved = session.execute(
        select(e.category, e.currency, func.count(), func.sum(e.amount_minor))
        .where(in_range, e.status != "resolved")
        .group_by(e.category, e.currency)
    )
    assert sorted(repository.unresolved_exceptions_by_category(session, first, last)) == sorted(
        tuple(row) for row in unresolved
    )


EXAMPLES = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@EXAMPLES
@given(
    payments=st.lists(payment, max_size=40),
    exceptions=st.lists(exception, max_size=20),
    asked=date_range,
)
def test_every_sum_equals_a_group_by_over_the_ledger(
    ledger: Ledger, payments: list[Any], exceptions: list[Any], asked: list[dt.date]
) -> None:
    with ledger.sessions.begin() as session:
        _write(session, ledger.job_id, payments, exceptions)
        refresh_kpis(session, FIRST, FIRST + dt.timedelta(days=DAYS - 1))
    with ledger.sessions() as session:
        _assert_aggregates_match_the_ledger(session, asked[0], asked[1])


@EXAMPLES
@given(
    payments=st.lists(payment, min_size=1, max_size=30),
    changes=st.lists(st.tuples(st.integers(0, 29), payment), max_size=10),
    added=st.lists(payment, max_size=5),
    asked=date_range,
)
def test_rebuilding_only_the_changed_dates_is_enough(
    ledger: Ledger,
    payments: list[Any],
    changes: list[tuple[int, Any]],
    added: list[Any],
    asked: list[dt.date],
) -> None:
    with ledger.sessions.begin() as session:
        _write(session, ledger.job_id, payments, [])
        refresh_kpis(session, FIRST, FIRST + dt.timedelta(days=DAYS - 1))
    touched: set[dt.date] = set()
    with ledger.sessions.begin() as session:
        for index, (business_date, source, status, recon, currency, amount) in changes:
            txn = session.get(Transaction, f"T{index % len(payments)}")
            assert txn is not None
            touched |= {txn.business_date, business_date}  # where it was, and where it is
            txn.business_date, txn.data_source, txn.status = business_date, source, status
            txn.reconciliation_status, txn.currency = recon, currency
            txn.amount_minor = amount
        for i, (business_date, source, status, recon, currency, amount) in enumerate(added):
            touched.add(business_date)
            session.add(
                Transaction(
                    id=f"N{i}",
                    merchant_id="M0001234",
                    amount_minor=amount,
                    currency=currency,
                    method="CARD",
                    data_source=source,
                    status=status,
                    reconciliation_status=recon,
                    business_date=business_date,
                )
            )
        session.flush()
        refresh_dates(session, touched)
    with ledger.sessions() as session:
        _assert_aggregates_match_the_ledger(session, asked[0], asked[1])
