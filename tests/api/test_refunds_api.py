"""Refunds through the API and into settlements, on SQLite and PostgreSQL.

Chai Point (M0001234, the api fixture's merchant-admin's) took a UPI payment of Rs 600 on
Monday 2 March 2026 and refunds Rs 2,000 of an older order the same day: its settlement of
Tuesday 3 nets -Rs 1,400, carried into the next one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from conftest import Api
from hisaab.settlement.record import record
from settlement_rows import active_terms, matched_payment

MON, TUE = dt.date(2026, 3, 2), dt.date(2026, 3, 3)


def refund(**change: Any) -> dict[str, Any]:
    return {
        "id": "rfn_1",
        "merchant_id": "M0001234",
        "amount_minor": 200_000,
        "currency": "INR",
        "business_date": "2026-03-02",
        "reason": "order 1001 cancelled",
        **change,
    }


@pytest.fixture
def chai(api: Api) -> Api:
    with api.app.state.sessions.begin() as session:
        session.add(active_terms("M0001234"))
        session.add(
            matched_payment("1:1", "M0001234", 60_000, MON, method="UPI", record_id="pay_1")
        )
    return api


def test_a_refund_is_taken_by_the_next_settlement_and_a_negative_net_carried(chai: Api) -> None:
    ops = chai.headers("sp-ops")
    created = chai.client.post("/api/refunds", json=refund(), headers=ops)
    assert created.status_code == 201, created.text
    assert created.json()["settlement_id"] is None
    (done,) = record(chai.app.state.sessions, TUE)
    s = done.plan.settlement
    assert s is not None
    assert (s.total("payment"), s.total("refund"), s.net_minor) == (60_000, -200_000, -140_000)
    assert (s.payout_minor, s.carry_forward_minor) == (0, -140_000)
    mine = chai.client.get("/api/refunds", headers=chai.headers("merchant-admin")).json()
    assert [(r["id"], r["settlement_id"]) for r in mine["refunds"]] == [
        ("rfn_1", done.settlement_id)
    ]
    open_ones = chai.client.get("/api/refunds", params={"unsettled": "true"}, headers=ops).json()
    assert open_ones["refunds"] == []


def test_refunds_of_a_payment_cannot_exceed_it(chai: Api) -> None:
    ops = chai.headers("sp-ops")
    first = refund(id="rfn_a", payment_ref="pay_1", amount_minor=50_000)
    assert chai.client.post("/api/refunds", json=first, headers=ops).status_code == 201
    second = refund(id="rfn_b", payment_ref="pay_1", amount_minor=10_001)
    answer = chai.client.post("/api/refunds", json=second, headers=ops)
    assert answer.status_code == 409
    assert "would come to 60001 minor units, more than its 60000" in answer.text


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        ({"currency": "KES"}, 422, "a refund in KES for merchant M0001234, which settles in INR"),
        ({"merchant_id": "M404"}, 404, "no merchant M404"),
        ({"amount_minor": 0}, 422, "amount_minor"),
        ({"id": "rfn 1"}, 422, "is not a refund id"),
        ({"reason": "  "}, 422, "a refund needs a reason"),
    ],
)
def test_bad_refunds_are_refused_clearly(
    chai: Api, change: dict[str, Any], status: int, text: str
) -> None:
    answer = chai.client.post("/api/refunds", json=refund(**change), headers=chai.headers("sp-ops"))
    assert answer.status_code == status and text in answer.text


def test_who_may_record_and_read_refunds(chai: Api) -> None:
    ops = chai.headers("sp-ops")
    assert chai.client.post("/api/refunds", json=refund(), headers=ops).status_code == 201
    assert chai.client.post("/api/refunds", json=refund(), headers=ops).status_code == 409
    merchant = chai.headers("merchant-admin")
    assert (
        chai.client.post("/api/refunds", json=refund(id="r2"), headers=merchant).status_code == 403
    )
    assert chai.client.get("/api/refunds", headers=chai.headers("sp-compliance")).status_code == 403
    assert chai.client.get("/api/refunds", headers=chai.headers("sp-finance")).status_code == 200
