"""Rebuilding the Overview's aggregates: exact sums per day, source, status and currency, only
for the dates asked, the same however often.

Two merchants' payments over 1-2 March 2026: Chai Point (M0001234) three UPI payments in INR
paise on the 1st, one of them already matched, and a card payment in US cents on the 2nd;
Dosa Hut (M0009999) one INR payment on the 2nd. Their March job left three exceptions.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from hisaab.errors import InputError
from hisaab.overview.refresh import Refreshed, refresh_dates, refresh_kpis
from hisaab.storage.engine import make_engine
from hisaab.storage.kpi_models import KpiDaily, KpiExceptionsDaily, Transaction
from hisaab.storage.migrate import upgrade
from hisaab.storage.models import Merchant, ReconciliationException, ReconciliationJob, User

MARCH_1, MARCH_2, MARCH_3 = dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)


def _txn(
    txn_id: str, merchant: str, amount: int, currency: str, recon: str, day: dt.date
) -> Transaction:
    return Transaction(
        id=txn_id,
        merchant_id=merchant,
        amount_minor=amount,
        currency=currency,
        method="UPI" if currency == "INR" else "CARD",
        data_source="PG_API",
        status="captured",
        reconciliation_status=recon,
        business_date=day,
        created_at=dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC),
    )


def _exception(
    job_id: int, category: str, amount: int, status: str, day: dt.date
) -> ReconciliationException:
    return ReconciliationException(
        job_id=job_id,
        category=category,
        side="pg",
        record_id=f"{category}-{amount}",
        source_line=2,
        amount_minor=amount,
        currency="INR",
        value_date=day,
        details=json.dumps({"reason": category}),
        status=status,
    )


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(database_url)
    engine: Engine = make_engine(database_url)
    made = sessionmaker(engine, expire_on_commit=False)
    with made.begin() as session:
        session.add_all(
            [Merchant(id="M0001234", name="Chai Point"), Merchant(id="M0009999", name="Dosa Hut")]
        )
        ops = User(email="ops@hisaab.test", password_hash="!", role="sp-ops")
        session.add(ops)
        session.flush()
        job = ReconciliationJob(name="March", merchant_id="M0001234", created_by=ops.id)
        session.add(job)
        session.flush()
        session.add_all(
            [
                _txn("P1", "M0001234", 10_050, "INR", "pending", MARCH_1),
                _txn("P2", "M0001234", 99_999, "INR", "matched", MARCH_1),
                _txn("P3", "M0001234", 1, "INR", "pending", MARCH_1),
                _txn("P4", "M0001234", 2_500, "USD", "pending", MARCH_2),
                _txn("P5", "M0009999", 70_000, "INR", "pending", MARCH_2),
                _exception(job.id, "UNMATCHED_PG", 10_050, "open", MARCH_1),
                _exception(job.id, "UNMATCHED_PG", 1, "resolved", MARCH_1),
                _exception(job.id, "AMOUNT_MISMATCH", 70_000, "open", MARCH_2),
            ]
        )
    yield made
    engine.dispose()


def _payments(session: Session) -> list[tuple[object, ...]]:
    k = KpiDaily
    keys = (k.business_date, k.reconciliation_status, k.currency)
    rows = session.execute(select(*keys, k.transactions, k.amount_minor).order_by(*keys))
    return [tuple(r) for r in rows]


def _exceptions(session: Session) -> list[tuple[object, ...]]:
    k = KpiExceptionsDaily
    keys = (k.value_date, k.status, k.category, k.currency)
    rows = session.execute(select(*keys, k.exceptions, k.amount_minor).order_by(*keys))
    return [tuple(r) for r in rows]


# Both merchants' payments of a day, source and status share one row: no merchant key.
PAYMENTS = [
    (MARCH_1, "matched", "INR", 1, 99_999),
    (MARCH_1, "pending", "INR", 2, 10_051),
    (MARCH_2, "pending", "INR", 1, 70_000),
    (MARCH_2, "pending", "USD", 1, 2_500),
]
EXCEPTIONS = [
    (MARCH_1, "open", "UNMATCHED_PG", "INR", 1, 10_050),
    (MARCH_1, "resolved", "UNMATCHED_PG", "INR", 1, 1),
    (MARCH_2, "open", "AMOUNT_MISMATCH", "INR", 1, 70_000),
]


def test_amounts_are_exact_per_day_status_and_currency(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        assert refresh_kpis(session, MARCH_1, MARCH_2) == Refreshed(payments=4, exceptions=3)
    with sessions() as session:
        assert _payments(session) == PAYMENTS
        assert _exceptions(session) == EXCEPTIONS


def test_refreshing_twice_gives_the_same_rows(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        refresh_kpis(session, MARCH_1, MARCH_2)
    with sessions.begin() as session:
        refresh_kpis(session, MARCH_1, MARCH_2)
    with sessions() as session:
        assert (_payments(session), _exceptions(session)) == (PAYMENTS, EXCEPTIONS)


def test_a_refresh_replaces_only_its_own_dates(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        refresh_kpis(session, MARCH_1, MARCH_2)
        p1 = session.get(Transaction, "P1")
        assert p1 is not None
        p1.reconciliation_status = "matched"
        session.add(_txn("P6", "M0009999", 5, "INR", "pending", MARCH_2))
    with sessions.begin() as session:
        assert refresh_kpis(session, MARCH_1, MARCH_1).payments == 2
    with sessions() as session:
        # March 1st is rebuilt with P1 matched; March 2nd still lacks P6 until it is refreshed.
        assert _payments(session) == [
            (MARCH_1, "matched", "INR", 2, 110_049),
            (MARCH_1, "pending", "INR", 1, 1),
            *PAYMENTS[2:],
        ]


def test_only_the_dates_given_are_rebuilt_in_the_aggregates_asked(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        session.add(_txn("P7", "M0009999", 300, "INR", "pending", MARCH_3))
        refresh_kpis(session, MARCH_1, MARCH_3)
    with sessions.begin() as session:
        for txn_id in ("P1", "P5", "P7"):
            txn = session.get(Transaction, txn_id)
            assert txn is not None
            txn.reconciliation_status = "exception"
        exc = session.scalars(
            select(ReconciliationException).where(ReconciliationException.value_date == MARCH_1)
        ).first()
        assert exc is not None
        exc.status = "in_review"
    with sessions.begin() as session:
        done = refresh_dates(session, [MARCH_3, MARCH_1, MARCH_3], exceptions=False)
    assert done == Refreshed(payments=4, exceptions=0)
    with sessions() as session:
        rows = _payments(session)
        assert (MARCH_1, "exception", "INR", 1, 10_050) in rows
        assert (MARCH_3, "exception", "INR", 1, 300) in rows
        assert (MARCH_2, "pending", "INR", 1, 70_000) in rows  # P5's date was not asked for
        assert _exceptions(session) == EXCEPTIONS  # nor were exceptions


def test_no_dates_is_nothing_to_do(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        assert refresh_dates(session, []) == Refreshed(0, 0)


def test_a_reversed_range_is_refused(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session, pytest.raises(InputError, match="after"):
        refresh_kpis(session, MARCH_2, MARCH_1)
