"""The exceptions API: who may do what, maker-checker over HTTP, and tenant isolation.

Chai Point (M0001234, the merchant-admin's merchant) has an April job with unmatched PG
payments and bank credits; Dosa Hut (M0009999) has one of its own. Amounts are INR paise;
the approval threshold is the default ₹10,000.00.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import SECRET, Api, email_of
from exception_rows import unmatched_exception
from hisaab.audit.log import verify
from hisaab.auth.tokens import Claims, issue_token
from hisaab.storage.models import (
    AuditEntry,
    Merchant,
    ReconciliationException,
    ReconciliationJob,
    User,
)


@dataclass(frozen=True)
class Chai:
    small: int  # PG-1001, ₹500.00
    large: int  # PG-1003, ₹25,000.00
    dosa: int  # Dosa Hut's BANK-9001
    user_ids: dict[str, int]


Headers = Callable[[str], dict[str, str]]


def _api_exception(
    job_id: int, side: str, record_id: str, amount_minor: int
) -> ReconciliationException:
    return unmatched_exception(
        job_id, side, record_id, amount_minor, utr="UTR0001" if side == "pg" else None
    )


@pytest.fixture
def chai(api: Api) -> Chai:
    with api.app.state.sessions.begin() as session:
        users = {u.role: u.id for u in session.scalars(select(User))}
        session.add(Merchant(id="M0009999", name="Dosa Hut"))
        april = ReconciliationJob(name="April", merchant_id="M0001234", created_by=users["admin"])
        dosa = ReconciliationJob(name="April", merchant_id="M0009999", created_by=users["admin"])
        session.add_all([april, dosa])
        session.flush()
        rows = [
            _api_exception(april.id, "pg", "PG-1001", 50_000),
            _api_exception(april.id, "pg", "PG-1003", 2_500_000),
            _api_exception(april.id, "bank", "BANK-2001", 30_000),
            _api_exception(april.id, "bank", "BANK-2002", 20_000),
            _api_exception(dosa.id, "bank", "BANK-9001", 50_000),
        ]
        session.add_all(rows)
        session.flush()
        return Chai(rows[0].id, rows[1].id, rows[4].id, users)


@pytest.fixture
def as_(api: Api, chai: Chai) -> Headers:
    """Headers of a role's user; tokens are issued directly (logging in is tested elsewhere)."""

    def headers(role: str) -> dict[str, str]:
        merchant = "M0001234" if role == "merchant-admin" else None
        claims = Claims(chai.user_ids[role], email_of(role), role, merchant)
        return {"Authorization": f"Bearer {issue_token(claims, SECRET, 600)}"}

    return headers


def error(response: httpx2.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code
    return str(body["message"])


def resolve(api: Api, headers: dict[str, str], exception_id: int, **body: Any) -> httpx2.Response:
    return api.client.post(f"/api/exceptions/{exception_id}/resolve", json=body, headers=headers)


WRITE_OFF = {"resolution": "write_off", "reason": "bank charge below follow-up cost"}


def test_every_endpoint_needs_a_token(api: Api, chai: Chai) -> None:
    base = f"/api/exceptions/{chai.small}"
    responses = [
        api.client.get(base),
        api.client.post(f"{base}/assign", json={"owner_id": chai.user_ids["sp-ops"]}),
        api.client.post(f"{base}/resolve", json=WRITE_OFF),
        api.client.post(f"{base}/approve"),
        api.client.post(f"{base}/reject", json={"reason": "no"}),
    ]
    for response in responses:
        error(response, 401, "UNAUTHENTICATED")


def test_roles_without_the_permission_are_forbidden(api: Api, chai: Chai, as_: Headers) -> None:
    refused = [
        ("sp-finance", "resolve", WRITE_OFF, "exceptions:resolve"),
        ("merchant-admin", "resolve", WRITE_OFF, "exceptions:resolve"),
        ("sp-compliance", "assign", {"owner_id": chai.user_ids["sp-ops"]}, "exceptions:resolve"),
        ("merchant-admin", "assign", {"owner_id": chai.user_ids["sp-ops"]}, "exceptions:resolve"),
        ("sp-finance", "approve", None, "exceptions:approve"),
        ("merchant-admin", "approve", None, "exceptions:approve"),
        ("sp-compliance", "reject", {"reason": "no"}, "exceptions:approve"),
    ]
    for role, path, body, permission in refused:
        url = f"/api/exceptions/{chai.large}/{path}"
        response = api.client.post(url, json=body, headers=as_(role))
        message = error(response, 403, "FORBIDDEN")
        assert message == f"the {role} role lacks the permission {permission}"
    with api.app.state.sessions() as session:
        assert session.get_one(ReconciliationException, chai.large).status == "open"


def test_a_small_write_off_resolves_at_once(api: Api, chai: Chai, as_: Headers) -> None:
    response = resolve(api, as_("sp-ops"), chai.small, **WRITE_OFF)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["resolution"], body["resolved_by"], body["approved_by"]) == (
        "resolved",
        "write_off",
        chai.user_ids["sp-ops"],
        None,
    )
    assert body["resolved_at"] is not None


def test_a_large_write_off_waits_for_a_different_approver(
    api: Api, chai: Chai, as_: Headers
) -> None:
    pending = resolve(api, as_("sp-ops"), chai.large, **WRITE_OFF).json()
    assert (pending["status"], pending["resolution"], pending["resolved_at"]) == (
        "pending_approval",
        "write_off",
        None,
    )

    own = api.client.post(f"/api/exceptions/{chai.large}/approve", headers=as_("sp-ops"))
    message = error(own, 403, "FORBIDDEN")
    assert message.startswith("maker-checker: you proposed this write_off, so you cannot approve")

    approved = api.client.post(f"/api/exceptions/{chai.large}/approve", headers=as_("admin"))
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["status"], body["resolved_by"], body["approved_by"]) == (
        "resolved",
        chai.user_ids["sp-ops"],
        chai.user_ids["admin"],
    )


def test_a_rejected_write_off_goes_back_to_review(api: Api, chai: Chai, as_: Headers) -> None:
    resolve(api, as_("admin"), chai.large, **WRITE_OFF)
    response = api.client.post(
        f"/api/exceptions/{chai.large}/reject",
        json={"reason": "the bank refunded it on 3 April"},
        headers=as_("sp-ops"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["resolution"], body["resolved_by"]) == ("in_review", None, None)
    assert body["history"][-1]["reason"] == "the bank refunded it on 3 April"


def test_reopen_takes_a_resolved_exception_back_to_open(api: Api, chai: Chai, as_: Headers) -> None:
    resolve(api, as_("sp-ops"), chai.small, **WRITE_OFF)
    response = resolve(
        api, as_("sp-ops"), chai.small, resolution="reopen", reason="customer disputed it"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["resolution"], body["resolved_at"]) == ("open", None, None)
    assert [a["action"] for a in body["history"]] == ["resolve", "reopen"]


def test_resolving_a_resolved_exception_is_a_conflict(api: Api, chai: Chai, as_: Headers) -> None:
    resolve(api, as_("sp-ops"), chai.small, **WRITE_OFF)
    again = resolve(api, as_("admin"), chai.small, resolution="accept", reason="again")
    assert error(again, 409, "CONFLICT").endswith("is resolved (write_off); reopen it first")


def test_a_manual_match_names_its_unknown_records(api: Api, chai: Chai, as_: Headers) -> None:
    bad = resolve(
        api,
        as_("sp-ops"),
        chai.small,
        resolution="manual_match",
        reason="settled with two bank credits",
        record_ids=["BANK-2001", "BANK-9001"],
    )
    assert "unknown bank records of job" in error(bad, 422, "INVALID_INPUT")
    assert bad.json()["error"]["message"].endswith(": BANK-9001")

    good = resolve(
        api,
        as_("sp-ops"),
        chai.small,
        resolution="manual_match",
        reason="settled with two bank credits",
        record_ids=["BANK-2001", "BANK-2002"],
    )
    assert good.status_code == 200, good.text
    assert good.json()["history"][-1]["record_ids"] == ["BANK-2001", "BANK-2002"]


def test_a_resolution_needs_a_reason(api: Api, chai: Chai, as_: Headers) -> None:
    missing = resolve(api, as_("sp-ops"), chai.small, resolution="accept")
    error(missing, 422, "INVALID_REQUEST")
    blank = resolve(api, as_("sp-ops"), chai.small, resolution="accept", reason="  ")
    assert error(blank, 422, "INVALID_INPUT") == "a reason is required"
    with api.app.state.sessions() as session:
        assert session.get_one(ReconciliationException, chai.small).status == "open"


def test_a_merchant_admin_sees_only_its_own_merchants_exceptions(
    api: Api, chai: Chai, as_: Headers
) -> None:
    own = api.client.get(f"/api/exceptions/{chai.small}", headers=as_("merchant-admin"))
    assert own.status_code == 200, own.text
    assert (own.json()["record_id"], own.json()["amount_minor"]) == ("PG-1001", 50_000)

    other = api.client.get(f"/api/exceptions/{chai.dosa}", headers=as_("merchant-admin"))
    missing = api.client.get("/api/exceptions/999999", headers=as_("merchant-admin"))
    assert error(other, 404, "NOT_FOUND") == f"no exception {chai.dosa}"
    assert error(missing, 404, "NOT_FOUND") == "no exception 999999"
    # platform staff with overview:read see every merchant's
    assert api.client.get(f"/api/exceptions/{chai.dosa}", headers=as_("sp-finance")).is_success


def test_assign_resolve_approve_shows_in_the_history_and_the_audit_trail(
    api: Api, chai: Chai, as_: Headers
) -> None:
    url = f"/api/exceptions/{chai.large}"
    ops, admin = chai.user_ids["sp-ops"], chai.user_ids["admin"]
    assigned = api.client.post(f"{url}/assign", json={"owner_id": ops}, headers=as_("admin"))
    assert (assigned.json()["status"], assigned.json()["owner_id"]) == ("in_review", ops)
    resolve(api, as_("sp-ops"), chai.large, **WRITE_OFF)
    api.client.post(f"{url}/approve", headers=as_("admin"))

    shown = api.client.get(url, headers=as_("sp-compliance")).json()
    assert [(a["action"], a["actor_id"], a["status_after"]) for a in shown["history"]] == [
        ("assign", admin, "in_review"),
        ("resolve", ops, "pending_approval"),
        ("approve", admin, "resolved"),
    ]
    assert (shown["details"], shown["utr"]) == ({"reason": "no counterpart"}, "UTR0001")
    with api.app.state.sessions() as session:
        audit = session.execute(
            select(AuditEntry.action, AuditEntry.actor_id, AuditEntry.entity_id).order_by(
                AuditEntry.id
            )
        ).all()
        assert verify(session).ok
    assert [tuple(row) for row in audit] == [
        ("exception_assign", admin, str(chai.large)),
        ("exception_resolve", ops, str(chai.large)),
        ("exception_approve", admin, str(chai.large)),
    ]


def test_two_approvers_racing_exactly_one_wins(api: Api, chai: Chai, as_: Headers) -> None:
    # The maker is a third sp-ops user, so both the sp-ops and the admin user may approve.
    with api.app.state.sessions.begin() as session:
        maker = User(email="maker@hisaab.test", password_hash="!", role="sp-ops")
        session.add(maker)
        session.flush()
        exc = session.get_one(ReconciliationException, chai.large)
        exc.status, exc.resolution, exc.resolution_reason = "pending_approval", "accept", "ok"
        exc.resolved_by = maker.id
    start = threading.Barrier(2)
    statuses: dict[str, int] = {}

    def approve(role: str) -> None:
        with TestClient(api.app, raise_server_exceptions=False) as client:
            headers = as_(role)
            start.wait()
            response = client.post(f"/api/exceptions/{chai.large}/approve", headers=headers)
            statuses[role] = response.status_code

    threads = [threading.Thread(target=approve, args=(role,)) for role in ("sp-ops", "admin")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert sorted(statuses.values()) == [200, 409]
    winner = next(role for role, status in statuses.items() if status == 200)
    shown = api.client.get(f"/api/exceptions/{chai.large}", headers=as_("admin")).json()
    assert (shown["status"], shown["approved_by"]) == ("resolved", chai.user_ids[winner])
    assert [a["action"] for a in shown["history"]] == ["approve"]
