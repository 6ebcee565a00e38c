"""Disputes from opening to the settlement that books them, on SQLite and PostgreSQL.

Chai Point (debit at opening) has a card payment pay_1 of Rs 3,000 on Monday 7 December
2026, which it refunds in full the same day. Visa opens chargeback D1 (13.1, not received)
for the Rs 3,000 that afternoon with a Rs 500 fee; Dosa Hut (debit only when lost) gets D2.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hisaab.auth.users import create_user
from hisaab.errors import Conflict, InputError, NotFound
from hisaab.settlement.dispute_store import (
    decide,
    expire_overdue,
    get_dispute,
    list_disputes,
    open_dispute,
    respond,
)
from hisaab.settlement.merchants import create_merchant, parse_terms
from hisaab.settlement.record import record
from hisaab.settlement.refunds import create_refund
from hisaab.storage.engine import make_engine
from hisaab.storage.migrate import upgrade
from settlement_rows import matched_payment

MON = dt.date(2026, 12, 7)
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
ARRIVED = dt.datetime(2026, 12, 7, 15, 0, tzinfo=IST)
BEFORE_DEADLINE = dt.datetime(2026, 12, 8, 12, 0, tzinfo=IST)
AFTER_DEADLINE = dt.datetime(2026, 12, 11, 0, 0, tzinfo=IST)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    upgrade(database_url)
    engine: Engine = make_engine(database_url)
    factory = sessionmaker(engine)
    with factory.begin() as session:
        ops = create_user(session, email="ops@hisaab.test", password="x" * 12, role="sp-ops").id
        create_merchant(session, merchant_id="M0001234", name="Chai Point", actor_id=ops)
        create_merchant(
            session,
            merchant_id="M0009999",
            name="Dosa Hut",
            terms=parse_terms({"dispute_debit": "when_lost"}),
            actor_id=ops,
        )
        session.add(
            matched_payment("1:1", "M0001234", 300_000, MON, method="CARD", record_id="pay_1")
        )
        create_refund(
            session,
            refund_id="rfn_1",
            merchant_id="M0001234",
            amount_minor=300_000,
            currency="INR",
            business_date=MON,
            reason="order cancelled",
            payment_ref="pay_1",
            actor_id=ops,
        )
        for dispute_id, merchant in (("D1", "M0001234"), ("D2", "M0009999")):
            open_dispute(
                session,
                dispute_id=dispute_id,
                merchant_id=merchant,
                network="visa",
                reason_code="13.1",
                stage="chargeback",
                amount_minor=300_000,
                currency="INR",
                received_at=ARRIVED,
                payment_ref="pay_1" if merchant == "M0001234" else None,
                fee_minor=50_000,
                actor_id=ops,
            )
    yield factory
    engine.dispose()


def test_opening_normalises_the_code_and_sets_the_deadline(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        d1 = get_dispute(session, "D1")
        assert (d1.category, d1.status, d1.reason_code) == ("product_not_received", "open", "13.1")
        # Three working days after Monday 7 December: Thursday 10, end of day in IST.
        assert d1.respond_by.astimezone(IST) == dt.datetime(2026, 12, 10, 23, 59, 59, tzinfo=IST)
        assert [d.id for d in list_disputes(session, merchant_id="M0009999")] == ["D2"]
        with pytest.raises(NotFound):
            get_dispute(session, "D1", merchant_id="M0009999")


def test_a_merchant_answers_and_the_network_decides(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session, pytest.raises(InputError, match="needs evidence"):
        respond(session, "D1", "submit", merchant_id="M0001234", actor_id=1,
                now=BEFORE_DEADLINE)  # fmt: skip
    with sessions.begin() as session:
        respond(session, "D1", "draft", evidence="courier receipt CR-1", merchant_id="M0001234",
                actor_id=1, now=BEFORE_DEADLINE)  # fmt: skip
        submitted = respond(session, "D1", "submit", merchant_id="M0001234", actor_id=1,
                            now=BEFORE_DEADLINE)  # fmt: skip
        assert submitted.status == "submitted"
        with pytest.raises(Conflict, match="cannot become evidence_draft"):
            respond(session, "D1", "draft", evidence="more", actor_id=1, now=BEFORE_DEADLINE)
    with sessions.begin() as session:
        lost = decide(session, "D1", "lost", actor_id=1)
        # Refunded in full and lost in full: the merchant pays twice for one payment.
        assert (lost.status, lost.double_loss) == ("lost", True)


def test_an_unanswered_dispute_expires_as_a_loss(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        assert expire_overdue(session, BEFORE_DEADLINE) == []
        assert expire_overdue(session, AFTER_DEADLINE) == ["D1", "D2"]
        assert get_dispute(session, "D2").status == "expired"
    with sessions.begin() as session, pytest.raises(Conflict, match="cannot become"):
        respond(session, "D2", "accept", actor_id=1, now=AFTER_DEADLINE)


def test_settlements_book_openings_and_decisions_by_each_merchants_policy(
    sessions: sessionmaker[Session],
) -> None:
    tue = MON + dt.timedelta(days=1)
    done = {
        r.plan.merchant_id: r.plan.settlement for r in record(sessions, tue, now=BEFORE_DEADLINE)
    }
    chai, dosa = done["M0001234"], done["M0009999"]
    assert chai is not None and dosa is not None
    # Debit at opening: the amount and the fee; under debit when lost, the fee alone.
    assert (chai.total("dispute_debit"), chai.total("dispute_fee")) == (-300_000, -50_000)
    assert (dosa.total("dispute_debit"), dosa.total("dispute_fee")) == (0, -50_000)
    with sessions.begin() as session:
        for d in ("D1", "D2"):
            respond(
                session, d, "draft", evidence="proof of delivery", actor_id=1, now=BEFORE_DEADLINE
            )
            respond(session, d, "submit", actor_id=1, now=BEFORE_DEADLINE)
        decide(session, "D1", "won", actor_id=1)
        decide(session, "D2", "lost", actor_id=1)
    wed = tue + dt.timedelta(days=1)
    later = {
        r.plan.merchant_id: r.plan.settlement for r in record(sessions, wed, now=BEFORE_DEADLINE)
    }
    assert later["M0001234"] is not None and later["M0001234"].total("dispute_reversal") == 300_000
    assert later["M0009999"] is not None and later["M0009999"].total("dispute_debit") == -300_000
    # Booked once: the next day carries the balances, and books nothing of the disputes.
    thu = wed + dt.timedelta(days=1)
    for r in record(sessions, thu, now=BEFORE_DEADLINE):
        s = r.plan.settlement
        kinds = {line.kind for line in s.lines} if s is not None else set()
        assert kinds <= {"carry_forward"}, (r.plan.merchant_id, kinds)
