"""Merchants and their terms through the API, on SQLite and PostgreSQL.

Platform ops creates Chai Point (M0005555) and Dosa Hut (M0009999); finance proposes cheaper
cards for Chai Point; a second finance user approves. The api fixture's merchant-admin belongs
to M0001234, a merchant made with its user and without terms.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import PASSWORD, Api
from hisaab.auth.users import create_user

CHAI = {
    "id": "M0005555",
    "name": "Chai Point",
    "bank_account": {
        "name": "Chai Point Pvt Ltd",
        "number": "50100012345678",
        "ifsc": "HDFC0001234",
    },
}
CHEAPER = {
    "terms": {
        "reserve_percent": "5",
        "reserve_days": 30,
        "rates": [{"instrument": "upi"}, {"instrument": "card", "percent": "1.75"}],
    },
    "note": "volume discount from April",
}


@pytest.fixture
def second_finance(api: Api) -> dict[str, str]:
    with api.app.state.sessions.begin() as session:
        create_user(session, email="ravi@hisaab.test", password=PASSWORD, role="sp-finance")
    response = api.client.post(
        "/api/auth/login", json={"email": "ravi@hisaab.test", "password": PASSWORD}
    )
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def error(response: Any) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


def test_ops_creates_a_merchant_and_everyone_concerned_reads_it(api: Api) -> None:
    ops = api.headers("sp-ops")
    created = api.client.post("/api/merchants", json=CHAI, headers=ops)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["bank_account"]["ifsc"] == "HDFC0001234"
    assert body["terms"]["version"] == 1 and body["terms"]["status"] == "active"
    assert body["terms"]["terms"]["gst_percent"] == "18"  # exact decimals travel as text
    api.client.post("/api/merchants", json={"id": "M0009999", "name": "Dosa Hut"}, headers=ops)

    listed = api.client.get("/api/merchants", headers=api.headers("sp-compliance")).json()
    assert [m["id"] for m in listed["merchants"]] == ["M0001234", "M0005555", "M0009999"]
    page = api.client.get("/api/merchants", params={"limit": 2}, headers=ops).json()
    assert page["next_after"] == "M0005555"
    after = api.client.get("/api/merchants", params={"after": "M0005555"}, headers=ops).json()
    assert [m["id"] for m in after["merchants"]] == ["M0009999"]

    merchant = api.headers("merchant-admin")
    own = api.client.get("/api/merchants", headers=merchant).json()
    assert [m["id"] for m in own["merchants"]] == ["M0001234"]
    mine = api.client.get("/api/merchants/M0001234", headers=merchant).json()
    assert mine["terms"] is None  # made with its user; terms come when ops sets them up
    assert error(api.client.get("/api/merchants/M0005555", headers=merchant)) == (
        404,
        "NOT_FOUND",
        "no such merchant",
    )


def test_terms_change_under_maker_checker(api: Api, second_finance: dict[str, str]) -> None:
    api.client.post("/api/merchants", json=CHAI, headers=api.headers("sp-ops"))
    asha = api.headers("sp-finance")
    proposed = api.client.post("/api/merchants/M0005555/terms", json=CHEAPER, headers=asha)
    assert proposed.status_code == 201, proposed.text
    assert (proposed.json()["version"], proposed.json()["status"]) == (2, "proposed")

    again = api.client.post("/api/merchants/M0005555/terms", json=CHEAPER, headers=asha)
    assert error(again)[:2] == (409, "CONFLICT")
    own = api.client.post("/api/merchants/M0005555/terms/2/approve", headers=asha)
    assert error(own) == (
        403,
        "FORBIDDEN",
        "the user who proposed these terms cannot also approve or reject them",
    )
    ops_approves = api.client.post(
        "/api/merchants/M0005555/terms/2/approve", headers=api.headers("sp-ops")
    )
    assert error(ops_approves) == (
        403,
        "FORBIDDEN",
        "the sp-ops role lacks the permission settlements:approve",
    )
    approved = api.client.post("/api/merchants/M0005555/terms/2/approve", headers=second_finance)
    assert approved.status_code == 200, approved.text

    merchant = api.client.get("/api/merchants/M0005555", headers=asha).json()
    assert merchant["terms"]["version"] == 2 and merchant["proposal"] is None
    assert merchant["terms"]["terms"]["rates"][1] == {
        "instrument": "card",
        "sub_rail": "*",
        "percent": "1.75",
        "fixed_minor": 0,
    }
    history = api.client.get("/api/merchants/M0005555/terms", headers=asha).json()
    assert [(t["version"], t["status"]) for t in history] == [(1, "superseded"), (2, "active")]


def test_a_rejection_needs_a_reason(api: Api, second_finance: dict[str, str]) -> None:
    api.client.post("/api/merchants", json=CHAI, headers=api.headers("sp-ops"))
    api.client.post("/api/merchants/M0005555/terms", json=CHEAPER, headers=api.headers("sp-ops"))
    no_reason = api.client.post(
        "/api/merchants/M0005555/terms/2/reject", json={}, headers=second_finance
    )
    assert error(no_reason)[:2] == (422, "INVALID_INPUT")
    rejected = api.client.post(
        "/api/merchants/M0005555/terms/2/reject",
        json={"reason": "margin too thin"},
        headers=second_finance,
    )
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["decision_reason"] == "margin too thin"


@pytest.mark.parametrize(
    ("body", "code", "where"),
    [
        (
            {**CHAI, "bank_account": {**CHAI["bank_account"], "ifsc": "HDFC1234567"}},  # type: ignore[dict-item]
            "INVALID_INPUT",
            "'HDFC1234567' is not an IFSC",
        ),
        ({**CHAI, "currency": "ABC"}, "UNKNOWN_CURRENCY", "unknown currency 'ABC'"),
        ({**CHAI, "id": "M 1"}, "INVALID_INPUT", "'M 1' is not a merchant id"),
        ({**CHAI, "terms": {"reserve_percent": "-1"}}, "INVALID_REQUEST", "reserve_percent"),
        ({**CHAI, "amount": 1}, "INVALID_REQUEST", "amount"),
    ],
)
def test_bad_merchants_get_a_clear_422_and_nothing_is_written(
    api: Api, body: dict[str, Any], code: str, where: str
) -> None:
    ops = api.headers("sp-ops")
    response = api.client.post("/api/merchants", json=body, headers=ops)
    assert error(response)[:2] == (422, code)
    assert where in response.text
    listed = api.client.get("/api/merchants", headers=ops).json()["merchants"]
    assert [m["id"] for m in listed] == ["M0001234"]  # the fixture's own, nothing new


def test_without_a_token_nothing_is_answered(api: Api) -> None:
    assert api.client.get("/api/merchants").status_code == 401
    assert api.client.post("/api/merchants", json=CHAI).status_code == 401
