"""Disputes through the API, on SQLite and PostgreSQL: ops opens a chargeback of Chai Point's
payment (M0001234, the api fixture's merchant-admin's), the merchant answers with evidence,
ops records the network's decision."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from conftest import Api


def dispute(**change: Any) -> dict[str, Any]:
    return {
        "id": "D1",
        "merchant_id": "M0001234",
        "network": "upi",
        "reason_code": "U008",
        "stage": "chargeback",
        "amount_minor": 149_900,
        "currency": "INR",
        "received_at": dt.datetime.now(dt.UTC).isoformat(),
        "payment_ref": "pay_1",
        **change,
    }


def test_open_answer_and_decide(api: Api) -> None:
    ops, merchant = api.headers("sp-ops"), api.headers("merchant-admin")
    opened = api.client.post("/api/disputes", json=dispute(), headers=ops)
    assert opened.status_code == 201, opened.text
    body = opened.json()
    assert (body["category"], body["status"]) == ("product_not_received", "open")
    assert dt.datetime.fromisoformat(body["respond_by"]) > dt.datetime.now(dt.UTC)

    mine = api.client.get("/api/disputes", headers=merchant).json()["disputes"]
    assert [d["id"] for d in mine] == ["D1"]
    draft = {"action": "draft", "evidence": "delivery confirmation, OTP 4411"}
    assert (
        api.client.post("/api/disputes/D1/respond", json=draft, headers=merchant).json()["status"]
        == "evidence_draft"
    )
    submitted = api.client.post(
        "/api/disputes/D1/respond", json={"action": "submit"}, headers=merchant
    )
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["evidence"] == "delivery confirmation, OTP 4411"

    by_merchant = api.client.post(
        "/api/disputes/D1/decide", json={"outcome": "won"}, headers=merchant
    )
    assert by_merchant.status_code == 403
    won = api.client.post("/api/disputes/D1/decide", json={"outcome": "won"}, headers=ops)
    assert won.json()["status"] == "won"
    again = api.client.post("/api/disputes/D1/decide", json={"outcome": "lost"}, headers=ops)
    assert again.status_code == 409 and "cannot become lost" in again.text
    finance = api.client.get("/api/disputes/D1", headers=api.headers("sp-compliance"))
    assert finance.status_code == 200


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        ({"network": "amex"}, 422, "network"),
        ({"reason_code": "10 4;"}, 422, "reason code"),
        ({"received_at": "2026-12-07T10:00:00"}, 422, "received_at"),  # no time zone
        ({"currency": "KES"}, 422, "which settles in INR"),
        ({"merchant_id": "M404"}, 404, "no merchant M404"),
        ({"stage": "appeal"}, 422, "stage"),
    ],
)
def test_bad_disputes_are_refused_clearly(
    api: Api, change: dict[str, Any], status: int, text: str
) -> None:
    answer = api.client.post("/api/disputes", json=dispute(**change), headers=api.headers("sp-ops"))
    assert answer.status_code == status and text in answer.text


def test_a_dispute_opened_twice_is_a_conflict(api: Api) -> None:
    ops = api.headers("sp-ops")
    assert api.client.post("/api/disputes", json=dispute(), headers=ops).status_code == 201
    assert api.client.post("/api/disputes", json=dispute(), headers=ops).status_code == 409
