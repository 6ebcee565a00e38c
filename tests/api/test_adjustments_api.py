"""Manual adjustments under maker-checker, into settlements, on SQLite and PostgreSQL.

Ops recovers a Rs 120 courier fee from Chai Point (M0001234, the api fixture's
merchant-admin's); finance approves it; Chai Point's next settlement takes it, once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from conftest import Api
from hisaab.settlement.record import record
from settlement_rows import active_terms, matched_payment

MON, TUE = dt.date(2026, 3, 2), dt.date(2026, 3, 3)


def adjustment(**change: Any) -> dict[str, Any]:
    return {
        "id": "adj_1",
        "merchant_id": "M0001234",
        "amount_minor": -12_000,
        "currency": "INR",
        "note": "courier fee for order 1001",
        **change,
    }


def test_an_approved_adjustment_is_taken_once(api: Api) -> None:
    with api.app.state.sessions.begin() as session:
        session.add(active_terms("M0001234"))
        session.add(matched_payment("1:1", "M0001234", 100_000, MON, method="UPI"))
    ops, finance = api.headers("sp-ops"), api.headers("sp-finance")
    proposed = api.client.post("/api/adjustments", json=adjustment(), headers=ops)
    assert proposed.status_code == 201, proposed.text
    # Until approved, it is not in any settlement.
    (waiting,) = record(api.app.state.sessions, MON + dt.timedelta(days=0), merchant_id="M0001234")
    assert waiting.plan.settlement is None or waiting.plan.settlement.total("adjustment") == 0
    own = api.client.post("/api/adjustments/adj_1/approve", headers=ops)
    assert own.status_code == 403  # sp-ops lacks settlements:approve
    approved = api.client.post("/api/adjustments/adj_1/approve", headers=finance)
    assert approved.json()["status"] == "approved"
    (tuesday,) = record(api.app.state.sessions, TUE, merchant_id="M0001234")
    assert tuesday.plan.settlement is not None
    assert tuesday.plan.settlement.total("adjustment") == -12_000
    assert tuesday.plan.settlement.net_minor == 100_000 - 12_000
    listed = api.client.get("/api/adjustments", headers=api.headers("merchant-admin")).json()
    assert [(a["id"], a["settlement_id"]) for a in listed["adjustments"]] == [
        ("adj_1", tuesday.settlement_id)
    ]


def test_the_maker_cannot_check_and_a_rejection_says_why(api: Api) -> None:
    admin = api.headers("admin")  # holds both permissions, and is still one person
    api.client.post("/api/adjustments", json=adjustment(), headers=admin)
    own = api.client.post("/api/adjustments/adj_1/approve", headers=admin)
    assert own.status_code == 403 and "cannot also decide" in own.text
    finance = api.headers("sp-finance")
    no_reason = api.client.post("/api/adjustments/adj_1/reject", json={}, headers=finance)
    assert no_reason.status_code == 422
    rejected = api.client.post(
        "/api/adjustments/adj_1/reject", json={"reason": "already recovered"}, headers=finance
    )
    assert rejected.json()["status"] == "rejected"
    again = api.client.post("/api/adjustments/adj_1/approve", headers=finance)
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        ({"amount_minor": 0}, 422, "a credit (> 0) or a debit (< 0)"),
        ({"currency": "KES"}, 422, "which settles in INR"),
        ({"note": " "}, 422, "needs a note"),
        ({"merchant_id": "M404"}, 404, "no merchant M404"),
    ],
)
def test_bad_adjustments_are_refused_clearly(
    api: Api, change: dict[str, Any], status: int, text: str
) -> None:
    answer = api.client.post(
        "/api/adjustments", json=adjustment(**change), headers=api.headers("sp-ops")
    )
    assert answer.status_code == status and text in answer.text
