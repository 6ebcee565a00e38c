"""The merchant portal of Chai Point (M0001234, the api fixture's merchant-admin's), on SQLite
and PostgreSQL. Chai Point settles T+1 with a 10% reserve. Its card payment of Rs 10,000 a
week ago was settled yesterday; a UPI payment of Rs 1,499 today waits for its settlement; a
chargeback of Rs 500 is open."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import Api
from hisaab.settlement.record import record
from settlement_rows import active_terms, matched_payment

TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def chai(api: Api) -> Api:
    with api.app.state.sessions.begin() as session:
        session.add(active_terms("M0001234", '{"reserve_percent": "10", "reserve_days": 30}'))
        for pid, amount, method, day in (
            ("1:1", 1_000_000, "CARD", TODAY - dt.timedelta(days=7)),
            ("1:2", 149_900, "UPI", TODAY),
        ):
            session.add(matched_payment(pid, "M0001234", amount, day, method=method))
    record(api.app.state.sessions, TODAY - dt.timedelta(days=1))
    answer = api.client.post(
        "/api/disputes",
        json={
            "id": "D1",
            "merchant_id": "M0001234",
            "network": "visa",
            "reason_code": "13.3",
            "stage": "chargeback",
            "amount_minor": 50_000,
            "currency": "INR",
            "received_at": dt.datetime.now(dt.UTC).isoformat(),
        },
        headers=api.headers("sp-ops"),
    )
    assert answer.status_code == 201, answer.text
    return api


def test_the_dashboard_shows_the_merchants_money(chai: Api) -> None:
    body = chai.client.get("/merchant/dashboard", headers=chai.headers("merchant-admin")).json()
    assert body["merchant_id"] == "M0001234"
    assert body["pending_minor"] == 149_900  # today's UPI payment, not settled yet
    assert body["reserved_minor"] == 100_000  # 10% of yesterday's Rs 10,000
    assert body["fees_30d_minor"] == 20_000 + 3_600
    assert (body["volume_30d_minor"], body["payments_30d"]) == (1_149_900, 2)
    assert body["next_settlement_date"] > TODAY.isoformat()
    assert [d["id"] for d in body["open_disputes"]] == ["D1"]


def test_settlements_in_json_and_csv(chai: Api) -> None:
    merchant = chai.headers("merchant-admin")
    page = chai.client.get("/merchant/settlements", headers=merchant).json()
    assert [s["payout_minor"] for s in page["settlements"]] == [1_000_000 - 23_600 - 100_000]
    csv_text = chai.client.get(
        "/merchant/settlements", params={"format": "csv"}, headers=merchant
    ).text
    assert csv_text.splitlines()[0].startswith("id,merchant_id,settlement_date")
    assert ",876400," in csv_text.splitlines()[1]


def test_a_schedule_change_waits_for_finance_and_on_demand_is_not_built(chai: Api) -> None:
    merchant = chai.headers("merchant-admin")
    weekly = {"schedule": {"cycle": "weekly", "weekday": 4, "t_plus": 2}, "note": "Fridays"}
    proposed = chai.client.post("/merchant/settlement/schedule", json=weekly, headers=merchant)
    assert proposed.status_code == 201, proposed.text
    assert (proposed.json()["version"], proposed.json()["status"]) == (2, "proposed")
    assert proposed.json()["terms"]["reserve_percent"] == "10"  # the rest of the terms kept
    approved = chai.client.post(
        "/api/merchants/M0001234/terms/2/approve", headers=chai.headers("sp-finance")
    )
    assert approved.json()["status"] == "active"
    on_demand = chai.client.post(
        "/merchant/settlement/schedule", json={"on_demand": True, "note": "now"}, headers=merchant
    )
    assert on_demand.status_code == 501


def test_disputes_are_answered_from_the_portal(chai: Api) -> None:
    merchant = chai.headers("merchant-admin")
    assert [d["id"] for d in chai.client.get("/merchant/disputes", headers=merchant).json()] == [
        "D1"
    ]
    accepted = chai.client.post(
        "/merchant/disputes/D1/respond", json={"action": "accept"}, headers=merchant
    )
    assert accepted.json()["status"] == "accepted"


def test_the_portal_is_for_merchant_admins(chai: Api) -> None:
    for role in ("sp-ops", "sp-finance", "admin"):
        answer = chai.client.get("/merchant/dashboard", headers=chai.headers(role))
        assert answer.status_code == 403
    assert chai.client.get("/merchant/dashboard").status_code == 401
