"""Rebuilding `kpi_daily`: exact sums per day, source, status and currency, and idempotent.

Two merchants' payments over 1-2 March 2026: Chai Point (M0001234) three UPI payments in INR
paise on the 1st, one of them already matched, and a card payment in US cents on the 2nd;
Dosa Hut (M0009999) one INR payment on the 2nd.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from hisaab.errors import InputError
from hisaab.overview.refresh import refresh_kpis
from hisaab.storage.engine import make_engine
from hisaab.storage.kpi_models import KpiDaily, Transaction
from hisaab.storage.migrate import upgrade
from hisaab.storage.models import Merchant

MARCH_1, MARCH_2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)


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


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(database_url)
    engine: Engine = make_engine(database_url)
    made = sessionmaker(engine, expire_on_commit=False)
    with made.begin() as session:
        session.add_all(
            [Merchant(id="M0001234", name="Chai Point"), Merchant(id="M0009999", name="Dosa Hut")]
        )
        session.flush()
        session.add_all(
            [
                _txn("P1", "M0001234", 10_050, "INR", "pending", MARCH_1),
                _txn("P2", "M0001234", 99_999, "INR", "matched", MARCH_1),
                _txn("P3", "M0001234", 1, "INR", "pending", MARCH_1),
                _txn("P4", "M0001234", 2_500, "USD", "pending", MARCH_2),
                _txn("P5", "M0009999", 70_000, "INR", "pending", MARCH_2),
            ]
        )
    yield made
    engine.dispose()


def _rows(session: Session) -> list[tuple[object, ...]]:
    rows = session.execute(
        select(
            KpiDaily.business_date,
            KpiDaily.merchant_id,
            KpiDaily.reconciliation_status,
            KpiDaily.currency,
            KpiDaily.transactions,
            KpiDaily.amount_minor,
        ).order_by(
            KpiDaily.business_date,
            KpiDaily.merchant_id,
            KpiDaily.reconciliation_status,
            KpiDaily.currency,
        )
    )
    return [tuple(r) for r in rows]


EXPECTED = [
    (MARCH_1, "M0001234", "matched", "INR", 1, 99_999),
    (MARCH_1, "M0001234", "pending", "INR", 2, 10_051),
    (MARCH_2, "M0001234", "pending", "USD", 1, 2_500),
    (MARCH_2, "M0009999", "pending", "INR", 1, 70_000),
]


def test_amounts_are_exact_per_day_merchant_status_and_currency(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        assert refresh_kpis(session, MARCH_1, MARCH_2) == 4
    with sessions() as session:
        assert _rows(session) == EXPECTED


def test_refreshing_twice_gives_the_same_rows(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        refresh_kpis(session, MARCH_1, MARCH_2)
    with sessions.begin() as session:
        refresh_kpis(session, MARCH_1, MARCH_2)
    with sessions() as session:
        assert _rows(session) == EXPECTED


def test_a_refresh_replaces_only_its_own_dates(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        refresh_kpis(session, MARCH_1, MARCH_2)
        p1 = session.get(Transaction, "P1")
        assert p1 is not None
        p1.reconciliation_status = "matched"
        session.add(_txn("P6", "M0009999", 5, "INR", "pending", MARCH_2))
    with sessions.begin() as session:
        assert refresh_kpis(session, MARCH_1, MARCH_1) == 2
    with sessions() as session:
        # March 1st is rebuilt with P1 matched; March 2nd still lacks P6 until it is refreshed.
        assert _rows(session) == [
            (MARCH_1, "M0001234", "matched", "INR", 2, 110_049),
            (MARCH_1, "M0001234", "pending", "INR", 1, 1),
            *EXPECTED[2:],
        ]


def test_a_reversed_range_is_refused(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session, pytest.raises(InputError, match="after"):
        refresh_kpis(session, MARCH_2, MARCH_1)
