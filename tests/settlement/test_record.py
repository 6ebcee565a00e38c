"""Recording settlement dates, on SQLite and PostgreSQL.

Chai Point (T+1, cards 1.75%, a 5% reserve held for one day) has matched payments on Thursday
12 March 2026 (a card payment of Rs 10,000 and a UPI one of Rs 1,499) and Friday 13 (a card
payment of Rs 5,000); Saturday 14 is a second Saturday, so Friday's are paid on Monday 16
with Thursday's reserve released. Dosa Hut's minimum payout is Rs 1,00,000, so its Rs 200 is
carried from one settlement to the next.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from hisaab.audit.log import verify
from hisaab.settlement.merchants import create_merchant, parse_terms
from hisaab.settlement.plan import due_merchants
from hisaab.settlement.record import record
from hisaab.storage.engine import make_engine
from hisaab.storage.kpi_models import KpiDaily, LedgerLine, Settlement, Transaction
from hisaab.storage.migrate import upgrade
from settlement_rows import matched_payment

THU, FRI, MON, TUE = (dt.date(2026, 3, d) for d in (12, 13, 16, 17))


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(database_url)
    engine: Engine = make_engine(database_url)
    factory = sessionmaker(engine)
    with factory.begin() as session:
        rates = [{"instrument": "upi"}, {"instrument": "card", "percent": "1.75"}]
        create_merchant(
            session,
            merchant_id="M0001234",
            name="Chai Point",
            terms=parse_terms({"reserve_percent": "5", "reserve_days": 1, "rates": rates}),
            actor_id=None,
        )
        create_merchant(
            session,
            merchant_id="M0009999",
            name="Dosa Hut",
            terms=parse_terms({"min_payout_minor": 10_000_000, "rates": rates}),
            actor_id=None,
        )
        for pid, merchant, amount, method, day in (
            ("1:1", "M0001234", 1_000_000, "CARD", THU),
            ("1:2", "M0001234", 149_900, "UPI", THU),
            ("1:3", "M0001234", 500_000, "CARD", FRI),
            ("2:1", "M0009999", 20_000, "UPI", THU),
        ):
            session.add(matched_payment(pid, merchant, amount, day, method=method))
    yield factory
    engine.dispose()


def lines(session: Session, settlement_id: int) -> dict[str, int]:
    rows = session.execute(
        select(LedgerLine.kind, func.sum(LedgerLine.amount_minor))
        .where(LedgerLine.settlement_id == settlement_id)
        .group_by(LedgerLine.kind)
    ).all()
    return {kind: int(total) for kind, total in rows}


def test_a_date_is_recorded_once_as_ledger_lines_that_sum_to_it(
    sessions: sessionmaker[Session],
) -> None:
    done = {r.plan.merchant_id: r for r in record(sessions, FRI)}
    assert {m: r.outcome for m, r in done.items()} == {
        "M0001234": "recorded",
        "M0009999": "recorded",
    }
    with sessions() as session:
        chai = session.get(Settlement, done["M0001234"].settlement_id)
        assert chai is not None
        assert lines(session, chai.id) == {
            "payment": 1_149_900,
            "mdr_fee": -17_500,
            "gst_on_fee": -3_150,
            "reserve_hold": -57_495,
        }
        assert (chai.net_minor, chai.amount_minor, chai.status) == (
            1_071_755,
            1_071_755,
            "computed",
        )
        assert chai.payments == 2 and chai.terms_version == 1
        held = session.scalars(
            select(LedgerLine.available_on).where(LedgerLine.kind == "reserve_hold")
        ).all()
        assert held == [dt.date(2026, 3, 14)]
        statuses = dict(session.execute(select(Transaction.id, Transaction.status)).all())
        assert statuses == {
            "1:1": "in_settlement",
            "1:2": "in_settlement",
            "1:3": "captured",
            "2:1": "in_settlement",
        }
        # The Overview's pipeline follows: Thursday's payments are in settlement.
        pipeline = session.execute(
            select(KpiDaily.status, func.sum(KpiDaily.transactions))
            .where(KpiDaily.business_date == THU)
            .group_by(KpiDaily.status)
        ).all()
        assert dict(pipeline) == {"in_settlement": 3}
        assert verify(session).ok

    again = record(sessions, FRI)
    assert {r.outcome for r in again} == {"already"}
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Settlement)) == 2
        assert session.scalar(select(func.count()).select_from(LedgerLine)) == 6


def test_the_next_date_pays_the_rest_and_releases_the_reserve(
    sessions: sessionmaker[Session],
) -> None:
    record(sessions, FRI, merchant_id="M0001234")
    (monday,) = record(sessions, MON, merchant_id="M0001234")
    assert monday.outcome == "recorded"
    with sessions() as session:
        assert lines(session, monday.settlement_id or 0) == {
            "payment": 500_000,
            "mdr_fee": -8_750,
            "gst_on_fee": -1_575,
            "reserve_hold": -25_000,
            "reserve_release": 57_495,
        }
    # Tuesday: nothing new is due; Monday's reserve is released (Tuesday is its date).
    (tuesday,) = record(sessions, TUE, merchant_id="M0001234")
    assert tuesday.outcome == "recorded"
    assert tuesday.plan.settlement is not None
    assert tuesday.plan.settlement.net_minor == 25_000
    (wednesday,) = record(sessions, dt.date(2026, 3, 18), merchant_id="M0001234")
    assert wednesday.outcome == "nothing_due"
    # Released reserves are not due again: a run for every merchant leaves Chai Point out.
    with sessions() as session:
        assert "M0001234" not in due_merchants(session, dt.date(2026, 3, 18))


def test_a_balance_below_the_minimum_payout_is_carried_once(
    sessions: sessionmaker[Session],
) -> None:
    (friday,) = record(sessions, FRI, merchant_id="M0009999")
    assert friday.plan.settlement is not None
    assert (friday.plan.settlement.payout_minor, friday.plan.settlement.carry_forward_minor) == (
        0,
        20_000,
    )
    (monday,) = record(sessions, MON, merchant_id="M0009999")
    assert monday.plan.settlement is not None
    assert monday.plan.settlement.total("carry_forward") == 20_000
    assert monday.plan.settlement.carry_forward_minor == 20_000  # still below Rs 1,00,000
    with sessions() as session:
        carried = session.scalars(
            select(LedgerLine.source_id).where(LedgerLine.kind == "carry_forward")
        ).all()
        assert carried == [f"settlement:{friday.settlement_id}"]
