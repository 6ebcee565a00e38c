"""Recorded settlements through the API, on SQLite and PostgreSQL.

The api fixture's merchant-admin belongs to Chai Point (M0001234); it is given terms (cards
at 2%) and a matched card payment of Rs 10,000 on Monday 2 March 2026, settled on Tuesday 3.
Dosa Hut (M0009999) is settled the same day.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from conftest import Api
from hisaab.settlement.record import record
from hisaab.storage.kpi_models import Settlement
from settlement_rows import active_terms, matched_payment

MON, TUE = dt.date(2026, 3, 2), dt.date(2026, 3, 3)


@pytest.fixture
def settled(api: Api) -> dict[str, int]:
    ops = api.headers("sp-ops")
    api.client.post("/api/merchants", json={"id": "M0009999", "name": "Dosa Hut"}, headers=ops)
    with api.app.state.sessions.begin() as session:
        session.add(active_terms("M0001234"))
        for pid, merchant in (("1:1", "M0001234"), ("1:2", "M0009999")):
            session.add(matched_payment(pid, merchant, 1_000_000, MON, method="CARD"))
    done = record(api.app.state.sessions, TUE)
    return {r.plan.merchant_id: r.settlement_id or 0 for r in done}


def test_finance_reads_every_settlement_with_its_lines(api: Api, settled: dict[str, int]) -> None:
    finance = api.headers("sp-finance")
    page = api.client.get("/api/settlements", params={"date": "2026-03-03"}, headers=finance)
    assert page.status_code == 200, page.text
    assert {s["merchant_id"] for s in page.json()["settlements"]} == {"M0001234", "M0009999"}
    one = api.client.get(f"/api/settlements/{settled['M0001234']}", headers=finance).json()
    assert (one["payout_minor"], one["net_minor"], one["status"]) == (976_400, 976_400, "computed")
    assert [(x["kind"], x["amount_minor"]) for x in one["lines"]] == [
        ("payment", 1_000_000),
        ("mdr_fee", -20_000),
        ("gst_on_fee", -3_600),
    ]
    assert sum(x["amount_minor"] for x in one["lines"]) == one["net_minor"]
    filtered = api.client.get(
        "/api/settlements",
        params={"merchant_id": "M0009999", "status": "computed"},
        headers=finance,
    ).json()
    assert [s["id"] for s in filtered["settlements"]] == [settled["M0009999"]]


def test_a_merchant_reads_its_own_only(api: Api, settled: dict[str, int]) -> None:
    merchant = api.headers("merchant-admin")
    mine = api.client.get("/api/settlements", headers=merchant).json()["settlements"]
    assert [s["id"] for s in mine] == [settled["M0001234"]]
    other = api.client.get(f"/api/settlements/{settled['M0009999']}", headers=merchant)
    assert other.status_code == 404
    assert other.json()["error"]["message"] == f"no settlement {settled['M0009999']}"
    assert api.client.get("/api/settlements", headers=api.headers("sp-ops")).status_code == 403


def test_approval_is_a_second_finance_users(api: Api, settled: dict[str, int]) -> None:
    chai = settled["M0001234"]
    finance = api.headers("sp-finance")
    ops = api.client.post(f"/api/settlements/{chai}/approve", headers=api.headers("sp-ops"))
    assert ops.status_code == 403
    approved = api.client.post(f"/api/settlements/{chai}/approve", headers=finance)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    again = api.client.post(f"/api/settlements/{chai}/approve", headers=finance)
    assert again.status_code == 409
    # A settlement this finance user computed waits for another one.
    me = api.client.get("/api/auth/me", headers=finance).json()["id"]
    dosa = settled["M0009999"]
    with api.app.state.sessions.begin() as session:
        session.execute(update(Settlement).where(Settlement.id == dosa).values(computed_by=me))
    own = api.client.post(f"/api/settlements/{dosa}/approve", headers=finance)
    assert own.status_code == 403
    assert "cannot also approve" in own.json()["error"]["message"]
    missing = api.client.post("/api/settlements/999999/approve", headers=finance)
    assert missing.status_code == 404
