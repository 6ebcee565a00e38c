"""Planning a settlement date from matched payments, on SQLite and PostgreSQL.

Chai Point (T+1, 5% reserve, cards at 1.75%) has matched payments on Thursday 12 and Friday
13 March 2026; Saturday 14 is a second Saturday and the 15th a Sunday, so Friday's payments
are due on Monday 16. A payment the engine did not match (its money never reached escrow) is
never settled. Dosa Hut has a payment whose method the gateway did not say.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from hisaab.settlement.calendar import BankCalendar
from hisaab.settlement.merchants import create_merchant, parse_terms
from hisaab.settlement.plan import last_due_business_day, plan
from hisaab.storage.engine import make_engine
from hisaab.storage.migrate import upgrade
from settlement_rows import matched_payment

THU, FRI, MON = dt.date(2026, 3, 12), dt.date(2026, 3, 13), dt.date(2026, 3, 16)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        create_merchant(
            session,
            merchant_id="M0001234",
            name="Chai Point",
            terms=parse_terms(
                {
                    "reserve_percent": "5",
                    "reserve_days": 30,
                    "rates": [{"instrument": "upi"}, {"instrument": "card", "percent": "1.75"}],
                }
            ),
            actor_id=None,
        )
        create_merchant(session, merchant_id="M0009999", name="Dosa Hut", actor_id=None)
        for pid, merchant, amount, method, day, recon in (
            ("1:1", "M0001234", 1_000_000, "CARD", THU, "matched"),
            ("1:2", "M0001234", 149_900, "UPI", THU, "matched"),
            ("1:3", "M0001234", 500_000, "CARD", FRI, "matched"),
            ("1:4", "M0001234", 75_050, "UPI", FRI, "exception"),
            ("2:1", "M0009999", 20_000, "OTHER", THU, "matched"),
        ):
            session.add(
                matched_payment(
                    pid, merchant, amount, day, method=method, reconciliation_status=recon
                )
            )
    yield engine
    engine.dispose()


def test_friday_is_paid_on_monday_over_a_second_saturday() -> None:
    assert last_due_business_day(BankCalendar(), 1, FRI) == THU
    assert last_due_business_day(BankCalendar(), 1, MON) == FRI
    # On the closed Saturday nothing new is due: Thursday's payments were Friday's.
    assert last_due_business_day(BankCalendar(), 1, dt.date(2026, 3, 14)) == THU


def test_only_matched_payments_due_by_the_date_are_in_the_cycle(engine: Engine) -> None:
    with Session(engine) as session:
        friday = plan(session, FRI, merchant_id="M0001234")[0]
        monday = plan(session, MON, merchant_id="M0001234")[0]
    assert friday.settlement is not None and friday.payments == 2
    assert friday.settlement.components()["gross"] == 1_149_900
    assert friday.settlement.total("mdr_fee") == -17_500  # 1.75% of Rs 10,000; UPI at 0%
    assert friday.settlement.total("gst_on_fee") == -3_150
    assert friday.settlement.total("reserve_hold") == -57_495
    assert friday.settlement.payout_minor == 1_149_900 - 17_500 - 3_150 - 57_495
    # Monday holds Thursday's and Friday's matched payments (nothing has been recorded as
    # settled yet), never the unmatched one.
    assert monday.settlement is not None and monday.payments == 3
    assert monday.settlement.components()["gross"] == 1_649_900


def test_a_merchant_that_cannot_be_priced_is_named_not_skipped(engine: Engine) -> None:
    with Session(engine) as session:
        plans = {p.merchant_id: p for p in plan(session, MON)}
    assert set(plans) == {"M0001234", "M0009999"}
    dosa = plans["M0009999"]
    assert dosa.settlement is None
    assert dosa.problem == "1 payment without a known method (UPI, CARD, NETBANKING, WALLET)"


def test_a_weekly_merchant_is_settled_on_its_weekday_only(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        create_merchant(
            session,
            merchant_id="M0007777",
            name="Vada Corner",
            terms=parse_terms({"schedule": {"cycle": "weekly", "weekday": 4}}),
            actor_id=None,
        )
        session.add(matched_payment("3:1", "M0007777", 10_000, THU, method="UPI"))
    with Session(engine) as session:
        (monday,) = plan(session, MON, merchant_id="M0007777")
        (friday,) = plan(session, dt.date(2026, 3, 20), merchant_id="M0007777")
    assert monday.settlement is None
    assert monday.problem == "not a payout day: paid weekly on Friday"
    assert friday.settlement is not None and friday.settlement.net_minor == 10_000
