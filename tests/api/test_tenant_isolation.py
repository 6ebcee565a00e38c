"""Tenant isolation: a merchant-admin reads nothing of another merchant, by any route.

Two merchants reconcile the same day. Chai Point (M0001234) and Dosa Hut (M0009999) each
have a job with both files uploaded and matched by the queue (two UPI payments settled, one
payment never credited, one credit of nobody's), one exception worked by platform ops (one
assigned, one written off), and an M-Pesa payment session waiting for its STK Push. A
platform job belongs to no merchant. Each merchant-admin then calls every route of the
application with the other's job, exception and session ids and filters: what comes back is
403 or 404 (the same 404 as for an id that does not exist), or a list and export holding
only its own rows, and the database and the stored files are exactly as before.

The routes come from the application itself. Each (method, path) needs a rule in `RULES`
saying what a merchant-admin may get from it; a route without one fails the test, so a route
added later cannot go unchecked. Methods a path does not declare are tried too (405).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx2
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine, MetaData, update
from starlette.websockets import WebSocketDisconnect

from conftest import PASSWORD, SECRET, Api, email_of
from hisaab.api.app import create_app
from hisaab.audit.log import verify
from hisaab.auth import passwords
from hisaab.auth.users import create_user
from hisaab.config import Settings
from hisaab.mpesa.phones import mask_phone
from hisaab.queue.claim import claim
from hisaab.queue.worker import Outcome, run_one
from hisaab.recon.match_job import run_match
from hisaab.settlement.dispute_store import open_dispute
from hisaab.storage.kpi_models import LedgerLine, Settlement
from hisaab.storage.models import Merchant, User

CSV_HEADER = "record_id,amount_minor,currency,direction,value_date,utr\n"
EVERY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests exercise tenancy, not argon2: cheap parameters keep each login quick."""
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_HASHER", fast)


# --- the two merchants' day ---------------------------------------------------------------


@dataclass
class Tenant:
    """One merchant's (or the platform's) reconciled day, and what only it may ever see."""

    merchant_id: str | None
    name: str
    prefix: str  # of every record id in its files, e.g. "dosa_"
    utr_base: int
    phone: str = ""  # of its customer paying by M-Pesa
    job_id: int = 0
    session_id: str = ""  # its payment session
    settlement_id: int = 0  # its settlement of 16 Jan
    dispute_id: str = ""  # a chargeback of its payment
    exception_ids: list[int] = field(default_factory=list)
    file_hashes: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # its merchant-admin's

    def pg_csv(self) -> bytes:
        rows = [
            f"{self.prefix}pay_1,49900,INR,CR,2024-01-15,{self.utr_base + 1}",
            f"{self.prefix}pay_2,120000,INR,CR,2024-01-15,{self.utr_base + 2}",
            f"{self.prefix}pay_3,75050,INR,CR,2024-01-15,{self.utr_base + 3}",
        ]
        return (CSV_HEADER + "\n".join(rows) + "\n").encode()

    def bank_csv(self) -> bytes:
        rows = [
            f"{self.prefix}bnk_1,49900,INR,CR,2024-01-15,{self.utr_base + 1}",
            f"{self.prefix}bnk_2,120000,INR,CR,2024-01-15,{self.utr_base + 2}",
            f"{self.prefix}bnk_9,30000,INR,CR,2024-01-16,{self.utr_base + 9}",
        ]
        return (CSV_HEADER + "\n".join(rows) + "\n").encode()

    @property
    def secrets(self) -> list[str]:
        """Text that appears in this tenant's data and nowhere else."""
        found = [self.prefix, self.name, f"{self.prefix}pg.csv", *self.file_hashes]
        found += [str(self.utr_base + n) for n in (1, 2, 3, 9)]
        if self.merchant_id is not None:
            # Not the session id: a caller names it, and a 404 may say which id it was given.
            found += [self.merchant_id, self.reference]
            found += [self.phone, mask_phone(self.phone)]
        return found

    @property
    def reference(self) -> str:
        """The account reference of its payment session (what the customer types in C2B)."""
        return f"{self.prefix.upper()}ORDER-1001"


CHAI = "M0001234"  # the api fixture's merchant-admin belongs to it
DOSA = "M0009999"
DOSA_ADMIN = "admin@dosa-hut.test"


@dataclass
class Day:
    api: Api
    data_dir: Path
    chai: Tenant
    dosa: Tenant
    platform: Tenant
    ops: dict[str, str]  # sp-ops headers, to set the day up

    @property
    def engine(self) -> Engine:
        engine: Engine = self.api.app.state.engine
        return engine


def _login(api: Api, email: str) -> dict[str, str]:
    response = api.client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _run_queue(api: Api) -> None:
    """Run every due job the way a worker does: claim it, run its handler, complete it."""
    sessions, settings = api.app.state.sessions, api.app.state.settings

    def match(session: Any, payload: dict[str, Any]) -> None:
        run_match(session, int(payload["job_id"]), settings=settings)

    while (job := claim(sessions, "isolation-test-worker")) is not None:
        assert run_one(sessions, job, handlers={"recon.match": match}) is Outcome.DONE


def _reconciled_day(api: Api, ops: dict[str, str], tenant: Tenant) -> None:
    body: dict[str, Any] = {"name": tenant.name}
    if tenant.merchant_id is not None:
        body["merchant_id"] = tenant.merchant_id
    created = api.client.post("/api/jobs", json=body, headers=ops)
    assert created.status_code == 201, created.text
    tenant.job_id = int(created.json()["id"])
    for side, content in (("pg", tenant.pg_csv()), ("bank", tenant.bank_csv())):
        uploaded = api.client.post(
            f"/api/jobs/{tenant.job_id}/upload",
            files={"file": (f"{tenant.prefix}{side}.csv", content, "text/csv")},
            data={"side": side},
            headers=ops,
        )
        assert uploaded.status_code == 201, uploaded.text
        tenant.file_hashes.append(hashlib.sha256(content).hexdigest())
    assert api.client.post(f"/api/jobs/{tenant.job_id}/match", headers=ops).status_code == 202
    _run_queue(api)
    listed = api.client.get(f"/api/jobs/{tenant.job_id}/exceptions", headers=ops).json()
    tenant.exception_ids = [e["id"] for e in listed["items"]]
    assert len(tenant.exception_ids) == 2  # pay_3 never credited; bnk_9 is nobody's
    ops_id = api.client.get("/api/auth/me", headers=ops).json()["id"]
    first, second = tenant.exception_ids
    worked = [
        (f"/api/exceptions/{first}/assign", {"owner_id": ops_id}),
        (
            f"/api/exceptions/{second}/resolve",
            {"resolution": "write_off", "reason": "bank charge below follow-up cost"},
        ),
    ]
    for path, step in worked:
        response = api.client.post(path, json=step, headers=ops)
        assert response.status_code == 200, response.text


def _payment_session(api: Api, ops: dict[str, str], tenant: Tenant) -> None:
    """A KES 2,500.00 session waiting for its STK Push, created by platform ops."""
    tenant.session_id = f"ps_order_{tenant.utr_base // 10**8}"  # ps_order_4015, ps_order_4026
    body = {
        "sessionId": tenant.session_id,
        "merchantId": tenant.merchant_id,
        "amount": "2500.00",
        "currency": "KES",
        "phone": tenant.phone,
        "accountReference": tenant.reference,
    }
    created = api.client.post("/api/sessions", json=body, headers=ops)
    assert created.status_code == 201, created.text


def _nobody_listening() -> str:
    """A local URL where no server runs: Daraja must never be reached from these tests."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


DARAJA_SETTINGS = {
    "mpesa_consumer_key": SecretStr("consumer-key"),
    "mpesa_consumer_secret": SecretStr("consumer-secret"),
    "mpesa_passkey": SecretStr("passkey"),
    "mpesa_callback_url": "https://hisaab.example",
    "mpesa_callback_secret": SecretStr("callback-secret-known-only-to-safaricom"),
}


def _settlement(api: Api, tenant: Tenant) -> None:
    """Its settlement of 16 Jan, with a ledger line naming its payment."""
    with api.app.state.sessions.begin() as session:
        row = Settlement(
            merchant_id=tenant.merchant_id,
            settlement_date=dt.date(2024, 1, 16),
            amount_minor=49_900,
            currency="INR",
            status="computed",
            payments=1,
            gross_minor=49_900,
            net_minor=49_900,
        )
        session.add(row)
        session.flush()
        session.add(
            LedgerLine(
                merchant_id=tenant.merchant_id,
                settlement_id=row.id,
                kind="payment",
                amount_minor=49_900,
                currency="INR",
                source_id=f"{tenant.prefix}pay_1",
                note="upi payment",
            )
        )
        tenant.settlement_id = row.id
        tenant.dispute_id = f"dsp_{tenant.utr_base}"
        open_dispute(
            session,
            dispute_id=tenant.dispute_id,
            merchant_id=str(tenant.merchant_id),
            network="visa",
            reason_code="13.1",
            stage="chargeback",
            amount_minor=49_900,
            currency="INR",
            received_at=dt.datetime(2024, 1, 16, 10, 0, tzinfo=dt.UTC),
            payment_ref=f"{tenant.prefix}pay_1",
            actor_id=None,
        )


@pytest.fixture
def day(api: Api, tmp_path: Path) -> Day:
    data_dir = tmp_path / "data"
    # M-Pesa fully configured, so that the M-Pesa routes get as far as the tenant check.
    api.app.state.settings = api.app.state.settings.model_copy(
        update={"data_dir": str(data_dir), "mpesa_base_url": _nobody_listening(), **DARAJA_SETTINGS}
    )
    with api.app.state.sessions.begin() as session:
        session.get(Merchant, CHAI).name = "Chai Point"
        session.add(Merchant(id=DOSA, name="Dosa Hut"))
        session.flush()
        create_user(
            session, email=DOSA_ADMIN, password=PASSWORD, role="merchant-admin", merchant_id=DOSA
        )
    ops = _login(api, email_of("sp-ops"))
    chai = Tenant(CHAI, "Chai Point 15 Jan", "chai_", 401512345670, phone="254712000101")
    dosa = Tenant(DOSA, "Dosa Hut 15 Jan", "dosa_", 402612345670, phone="254733000202")
    platform = Tenant(None, "Platform sweep 15 Jan", "plat_", 403712345670)
    for tenant in (chai, dosa, platform):
        _reconciled_day(api, ops, tenant)
    for tenant in (chai, dosa):
        _payment_session(api, ops, tenant)
        _settlement(api, tenant)
    chai.headers = _login(api, email_of("merchant-admin"))
    dosa.headers = _login(api, DOSA_ADMIN)
    return Day(api, data_dir, chai, dosa, platform, ops)


# --- what a merchant-admin gets from each route ------------------------------------------


@dataclass
class Probe:
    """One merchant-admin (`own`) calling routes with another tenant's (`other`) ids."""

    day: Day
    own: Tenant
    other: Tenant
    calls: int = 0

    @property
    def strangers(self) -> list[Tenant]:
        return [t for t in (self.day.chai, self.day.dosa, self.day.platform) if t is not self.own]

    def call(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        """The request as `own`'s merchant-admin; fails if the answer shows a stranger's data."""
        headers = {**self.own.headers, **kwargs.pop("headers", {})}
        response = self.day.api.client.request(method, path, headers=headers, **kwargs)
        self.calls += 1
        shown = response.text + json.dumps(dict(response.headers))
        for stranger in self.strangers:
            for secret in stranger.secrets:
                assert secret not in shown, (
                    f"{method} {path} as {self.own.name}'s admin shows {secret!r} of"
                    f" {stranger.name}: {response.status_code} {response.text[:300]}"
                )
        return response

    def refused(self, status: int, code: str, method: str, path: str, **kwargs: Any) -> str:
        response = self.call(method, path, **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.text}"
        body = response.json()["error"]
        assert body["code"] == code, f"{method} {path}: {response.text}"
        return str(body["message"])

    def socket_refused(self, path: str) -> int:
        """Open the WebSocket with `own`'s token; the close code of the refused handshake."""
        token = self.own.headers["Authorization"].removeprefix("Bearer ")
        self.calls += 1
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            self.day.api.client.websocket_connect(f"{path}?token={token}") as socket_,
        ):
            socket_.receive_text()  # only an accepted socket gets here, with a first message
        return int(closed.value.code)

    def foreign_jobs(self) -> list[int]:
        return [t.job_id for t in self.strangers]

    def foreign_exceptions(self) -> list[int]:
        return [e for t in self.strangers for e in t.exception_ids]


Rule = Callable[[Probe, str, str], None]


def public(probe: Probe, method: str, path: str) -> None:
    """Documentation and health: the same for everyone, and no tenant's data in it."""
    response = probe.call(method, path)
    assert response.status_code == 200, response.text


def forbidden_to_merchants(probe: Probe, method: str, path: str) -> None:
    """Platform-only: 403 for a merchant-admin, whatever the ids or dates it passes."""
    dates = {"from": "2024-01-01", "to": "2024-12-31"}
    for query in ({}, {**dates, "merchant_id": probe.other.merchant_id}):
        probe.refused(403, "FORBIDDEN", method, path, params=query)


def login(probe: Probe, method: str, path: str) -> None:
    """Another merchant's admin email with one's own password gets nothing (same 401)."""
    other_email = DOSA_ADMIN if probe.own is probe.day.chai else email_of("merchant-admin")
    message = probe.refused(
        401,
        "UNAUTHENTICATED",
        method,
        path,
        json={"email": other_email, "password": PASSWORD + "!"},
    )
    assert message == "wrong email or password"
    unknown = probe.refused(
        401,
        "UNAUTHENTICATED",
        method,
        path,
        json={"email": "nobody@dosa-hut.test", "password": PASSWORD + "!"},
    )
    assert unknown == message  # the answer does not tell which emails exist


def me(probe: Probe, method: str, path: str) -> None:
    response = probe.call(method, path, params={"merchant_id": probe.other.merchant_id or ""})
    assert response.status_code == 200
    assert response.json()["merchant_id"] == probe.own.merchant_id


def list_jobs(probe: Probe, method: str, path: str) -> None:
    """Only one's own jobs, in the items and in the total, whatever the query says."""
    for params in ({"page_size": 500}, {"merchant_id": probe.other.merchant_id, "page_size": 500}):
        body = probe.call(method, path, params=params).json()
        assert ([job["id"] for job in body["items"]], body["total"]) == ([probe.own.job_id], 1)


def create_job(probe: Probe, method: str, path: str) -> None:
    for body in ({"name": "March", "merchant_id": probe.other.merchant_id}, {"name": "March"}):
        probe.refused(403, "FORBIDDEN", method, path, json=body)


def job_read(probe: Probe, method: str, path: str) -> None:
    """Another tenant's job is 404 in every format and filter, exactly like no job at all."""
    queries: list[dict[str, Any]] = [{}, {"format": "csv"}, {"format": "json", "page_size": 500}]
    if path.endswith("/exceptions"):
        queries += [
            {"category": "UNMATCHED_PG", "status": "open", "min_amount_minor": 0},
            {"format": "csv", "max_amount_minor": 10**12, "older_than_hours": 0},
        ]
    if path == "/api/jobs/{job_id}":
        queries = [{}]
    for job_id in [*probe.foreign_jobs(), 2**31 - 1]:
        for query in queries:
            message = probe.refused(
                404, "NOT_FOUND", method, path.format(job_id=job_id), params=query
            )
            assert message == f"no reconciliation job {job_id}"
    own = probe.call(method, path.format(job_id=probe.own.job_id), params=queries[-1])
    assert own.status_code == 200, own.text  # the same request on one's own job answers
    assert probe.own.prefix in own.text


def job_write(probe: Probe, method: str, path: str) -> None:
    """A merchant-admin writes nothing: 403 on another's job and on its own alike."""
    kwargs: dict[str, Any] = {}
    if path.endswith("/upload"):
        kwargs = {
            "files": {"file": ("late.csv", probe.other.pg_csv(), "text/csv")},
            "data": {"side": "pg"},
        }
    elif path.endswith("/normalize"):
        kwargs = {"json": {"side": "bank", "template": "canonical"}}
    for job_id in (*probe.foreign_jobs(), probe.own.job_id):
        message = probe.refused(403, "FORBIDDEN", method, path.format(job_id=job_id), **kwargs)
        assert "reconciliation:write" in message


def exception_read(probe: Probe, method: str, path: str) -> None:
    for exception_id in [*probe.foreign_exceptions(), 2**31 - 1]:
        message = probe.refused(404, "NOT_FOUND", method, path.format(exception_id=exception_id))
        assert message == f"no exception {exception_id}"
    for exception_id in probe.own.exception_ids:
        own = probe.call(method, path.format(exception_id=exception_id))
        assert own.status_code == 200, own.text
        assert own.json()["record_id"].startswith(probe.own.prefix)


def exception_step(probe: Probe, method: str, path: str) -> None:
    """The workflow is platform staff's: 403 on every exception, another's or one's own."""
    bodies = {
        "assign": {"owner_id": 1},
        "resolve": {"resolution": "write_off", "reason": "not ours to chase"},
        "reject": {"reason": "not ours to decide"},
    }
    body = bodies.get(path.rsplit("/", 1)[-1])
    for exception_id in (*probe.foreign_exceptions(), *probe.own.exception_ids):
        probe.refused(403, "FORBIDDEN", method, path.format(exception_id=exception_id), json=body)


def create_payment_session(probe: Probe, method: str, path: str) -> None:
    """No session for another merchant; reusing another's session id is refused as taken.

    Session ids may be chosen by the caller and are unique across merchants, so a taken id
    is a 409 whoever holds it: that answer says the id is taken, and shows nothing of it.
    """
    new = {"amount": "2500.00", "currency": "KES", "phone": probe.own.phone}
    for_other = {**new, "merchantId": probe.other.merchant_id, "sessionId": "ps_mine_1"}
    probe.refused(404, "NOT_FOUND", method, path, json=for_other)
    taken = {**new, "merchantId": probe.own.merchant_id, "sessionId": probe.other.session_id}
    probe.refused(409, "CONFLICT", method, path, json=taken)


def _same_as_unknown(probe: Probe, message: str, session_id: str) -> None:
    unknown = "ps_never_created_0001"
    alike = message.replace(repr(session_id), repr(unknown))
    assert alike == f"no payment session {unknown!r}", (
        f"another merchant's session {session_id!r} is told apart from an unknown one: {message!r}"
    )


def payment_session_read(probe: Probe, method: str, path: str) -> None:
    """Another merchant's session is 404, word for word as a session that does not exist."""
    other = probe.other.session_id
    kwargs: dict[str, Any] = {}
    if "{session_id}" not in path:  # POST /api/mpesa/stkpush names it in the body
        kwargs = {"json": {"sessionId": other}}
    message = probe.refused(404, "NOT_FOUND", method, path.format(session_id=other), **kwargs)
    _same_as_unknown(probe, message, other)
    if method == "GET":
        own = probe.call(method, path.format(session_id=probe.own.session_id))
        assert own.status_code == 200, own.text
        assert own.json()["sessionId"] == probe.own.session_id


def forged_callback(probe: Probe, method: str, path: str) -> None:
    """Safaricom's endpoints take no user token: without the callback secret, 403.

    The refused payload is kept as a `rejected` event that belongs to no session (checked
    with the database afterwards); the other merchant's session is not touched.
    """
    forged = {
        "BillRefNumber": probe.other.reference,
        "AccountReference": probe.other.reference,
        "CheckoutRequestID": f"ws_CO_{probe.other.session_id}",
        "TransAmount": "2500.00",
        "ResultCode": 0,
    }
    for params in ({}, {"secret": "a-guess"}):
        probe.refused(403, "FORBIDDEN", method, path, params=params, json=forged)


def realtime_admin_only(probe: Probe, method: str, path: str) -> None:
    """The real-time console is the platform admin's: 403, whatever session it names."""
    other = probe.other.session_id
    body = {"sessionIds": [other], "trigger": "manual_dashboard"}
    probe.refused(403, "FORBIDDEN", method, path.format(session_id=other), json=body)


def realtime_socket_admin_only(probe: Probe, _method: str, path: str) -> None:
    assert probe.socket_refused(path) == 1008  # policy violation, before any message


def list_merchants(probe: Probe, method: str, path: str) -> None:
    """Only one's own merchant, whatever page is asked for."""
    for params in ({}, {"after": "", "limit": 200}, {"after": probe.other.merchant_id or "M"}):
        body = probe.call(method, path, params=params).json()
        shown = [m["id"] for m in body["merchants"]]
        assert set(shown) <= {probe.own.merchant_id}, shown


def merchant_read(probe: Probe, method: str, path: str) -> None:
    """Another merchant is 404, word for word as a merchant that does not exist."""
    for merchant_id in ("M_NEVER_CREATED", *(t.merchant_id for t in probe.strangers)):
        if merchant_id is None:
            continue
        message = probe.refused(404, "NOT_FOUND", method, path.format(merchant_id=merchant_id))
        assert message == "no such merchant"
    own = probe.call(method, path.format(merchant_id=probe.own.merchant_id))
    assert own.status_code == 200, own.text


def merchant_write(probe: Probe, method: str, path: str) -> None:
    """Merchants and their terms are written by platform staff: 403 for one's own too."""
    body: dict[str, Any] = {"id": "M_NEW", "name": "New Merchant"}
    if path.endswith("/terms"):
        body = {"terms": {}, "note": "cheaper cards"}
    elif path.endswith(("/approve", "/reject")):
        body = {"reason": "agreed with sales"}
    for merchant_id in (probe.other.merchant_id, probe.own.merchant_id):
        probe.refused(
            403, "FORBIDDEN", method, path.format(merchant_id=merchant_id, version=1), json=body
        )


def list_settlements(probe: Probe, method: str, path: str) -> None:
    """Only one's own merchant's settlements, whatever the filters name."""
    for params in ({}, {"merchant_id": probe.other.merchant_id}, {"status": "computed"}):
        body = probe.call(method, path, params=params).json()
        shown = {s["id"] for s in body["settlements"]}
        assert shown <= {probe.own.settlement_id}, shown
    own = probe.call(method, path).json()["settlements"]
    assert [s["id"] for s in own] == [probe.own.settlement_id]


def settlement_read(probe: Probe, method: str, path: str) -> None:
    for settlement_id in (probe.other.settlement_id, 2**31 - 1):
        message = probe.refused(404, "NOT_FOUND", method, path.format(settlement_id=settlement_id))
        assert message == f"no settlement {settlement_id}"
    own = probe.call(method, path.format(settlement_id=probe.own.settlement_id))
    assert own.status_code == 200, own.text
    assert own.json()["lines"][0]["source_id"] == f"{probe.own.prefix}pay_1"


def settlement_write(probe: Probe, method: str, path: str) -> None:
    for settlement_id in (probe.other.settlement_id, probe.own.settlement_id):
        probe.refused(403, "FORBIDDEN", method, path.format(settlement_id=settlement_id))


def list_refunds(probe: Probe, method: str, path: str) -> None:
    for params in ({}, {"merchant_id": probe.other.merchant_id}, {"unsettled": "true"}):
        body = probe.call(method, path, params=params).json()
        assert {r["merchant_id"] for r in body["refunds"]} <= {probe.own.merchant_id}


def create_refund(probe: Probe, method: str, path: str) -> None:
    for merchant_id in (probe.other.merchant_id, probe.own.merchant_id):
        body = {
            "id": "rfn_x",
            "merchant_id": merchant_id,
            "amount_minor": 100,
            "currency": "INR",
            "business_date": "2024-01-16",
            "reason": "customer cancelled",
        }
        probe.refused(403, "FORBIDDEN", method, path, json=body)


def list_disputes(probe: Probe, method: str, path: str) -> None:
    for params in ({}, {"merchant_id": probe.other.merchant_id}, {"status": "open"}):
        body = probe.call(method, path, params=params).json()
        assert {d["id"] for d in body["disputes"]} <= {probe.own.dispute_id}
    own = probe.call(method, path).json()["disputes"]
    assert [d["id"] for d in own] == [probe.own.dispute_id]


def dispute_read(probe: Probe, method: str, path: str) -> None:
    for dispute_id in (probe.other.dispute_id, "dsp_never_opened"):
        message = probe.refused(404, "NOT_FOUND", method, path.format(dispute_id=dispute_id))
        assert message == f"no dispute {dispute_id}"
    own = probe.call(method, path.format(dispute_id=probe.own.dispute_id))
    assert own.status_code == 200 and own.json()["payment_ref"] == f"{probe.own.prefix}pay_1"


def dispute_answer(probe: Probe, method: str, path: str) -> None:
    """Another merchant's dispute is not there to answer (its own is left as it is)."""
    body = {"action": "accept"}
    for dispute_id in (probe.other.dispute_id, "dsp_never_opened"):
        message = probe.refused(
            404, "NOT_FOUND", method, path.format(dispute_id=dispute_id), json=body
        )
        assert message == f"no dispute {dispute_id}"


def dispute_ops(probe: Probe, method: str, path: str) -> None:
    body: dict[str, Any] = {"outcome": "won"}
    if path == "/api/disputes":
        body = {
            "id": "dsp_forged",
            "merchant_id": probe.other.merchant_id,
            "network": "visa",
            "reason_code": "10.4",
            "stage": "chargeback",
            "amount_minor": 100,
            "currency": "INR",
            "received_at": "2024-01-16T10:00:00Z",
        }
    for dispute_id in (probe.other.dispute_id, probe.own.dispute_id):
        probe.refused(403, "FORBIDDEN", method, path.format(dispute_id=dispute_id), json=body)


def portal_dashboard(probe: Probe, method: str, path: str) -> None:
    body = probe.call(method, path, params={"merchant_id": probe.other.merchant_id}).json()
    assert body["merchant_id"] == probe.own.merchant_id
    assert [d["id"] for d in body["open_disputes"]] in ([], [probe.own.dispute_id])


def portal_settlements(probe: Probe, method: str, path: str) -> None:
    for params in ({}, {"merchant_id": probe.other.merchant_id}):
        body = probe.call(method, path, params=params).json()
        assert [s["id"] for s in body["settlements"]] == [probe.own.settlement_id]
    csv_text = probe.call(method, path, params={"format": "csv"}).text
    assert csv_text.count("\n") == 2  # the header and its own settlement


def portal_schedule(probe: Probe, method: str, path: str) -> None:
    """Its own merchant's terms only: naming another merchant is not even a field."""
    forged = {"merchant_id": probe.other.merchant_id, "note": "x", "schedule": {}}
    probe.refused(422, "INVALID_REQUEST", method, path, json=forged)
    message = probe.refused(
        409, "CONFLICT", method, path, json={"schedule": {"cycle": "daily"}, "note": "daily"}
    )
    assert message == f"merchant {probe.own.merchant_id} has no approved terms to change yet"


def portal_disputes(probe: Probe, method: str, path: str) -> None:
    body = probe.call(method, path, params={"merchant_id": probe.other.merchant_id}).json()
    assert [d["id"] for d in body] == [probe.own.dispute_id]


def list_adjustments(probe: Probe, method: str, path: str) -> None:
    for params in ({}, {"merchant_id": probe.other.merchant_id}):
        body = probe.call(method, path, params=params).json()
        assert {a["merchant_id"] for a in body["adjustments"]} <= {probe.own.merchant_id}


def adjustment_write(probe: Probe, method: str, path: str) -> None:
    body: dict[str, Any] = {"reason": "agreed"}
    if path == "/api/adjustments":
        body = {
            "id": "adj_forged",
            "merchant_id": probe.own.merchant_id,
            "amount_minor": 100,
            "currency": "INR",
            "note": "a credit to ourselves",
        }
    probe.refused(403, "FORBIDDEN", method, path.format(adjustment_id="adj_1"), json=body)


# Every route of the application and what a merchant-admin may get from it. A route that is
# not here fails `test_every_route_has_a_tenant_rule`: decide its rule before shipping it.
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/openapi.json"): public,
    ("HEAD", "/openapi.json"): public,
    ("GET", "/docs"): public,
    ("HEAD", "/docs"): public,
    ("GET", "/docs/oauth2-redirect"): public,
    ("HEAD", "/docs/oauth2-redirect"): public,
    ("GET", "/redoc"): public,
    ("HEAD", "/redoc"): public,
    ("GET", "/health"): public,
    ("POST", "/api/auth/login"): login,
    ("GET", "/api/auth/me"): me,
    ("POST", "/api/jobs"): create_job,
    ("GET", "/api/jobs"): list_jobs,
    ("GET", "/api/jobs/{job_id}"): job_read,
    ("POST", "/api/jobs/{job_id}/upload"): job_write,
    ("POST", "/api/jobs/{job_id}/normalize"): job_write,
    ("POST", "/api/jobs/{job_id}/match"): job_write,
    ("GET", "/api/jobs/{job_id}/matches"): job_read,
    ("GET", "/api/jobs/{job_id}/exceptions"): job_read,
    ("GET", "/api/exceptions/{exception_id}"): exception_read,
    ("POST", "/api/exceptions/{exception_id}/assign"): exception_step,
    ("POST", "/api/exceptions/{exception_id}/resolve"): exception_step,
    ("POST", "/api/exceptions/{exception_id}/approve"): exception_step,
    ("POST", "/api/exceptions/{exception_id}/reject"): exception_step,
    # The operations dashboard is platform staff's (`overview:read`); merchants have none.
    ("GET", "/api/overview"): forbidden_to_merchants,
    ("GET", "/api/pipeline"): forbidden_to_merchants,
    ("GET", "/api/sources"): forbidden_to_merchants,
    ("GET", "/api/connectors/health"): forbidden_to_merchants,
    ("GET", "/api/top-reasons"): forbidden_to_merchants,
    # Merchants and their terms: a merchant-admin reads its own merchant, and writes nothing.
    ("GET", "/api/merchants"): list_merchants,
    ("POST", "/api/merchants"): merchant_write,
    ("GET", "/api/merchants/{merchant_id}"): merchant_read,
    ("GET", "/api/merchants/{merchant_id}/terms"): merchant_read,
    ("POST", "/api/merchants/{merchant_id}/terms"): merchant_write,
    ("POST", "/api/merchants/{merchant_id}/terms/{version}/approve"): merchant_write,
    ("POST", "/api/merchants/{merchant_id}/terms/{version}/reject"): merchant_write,
    ("GET", "/merchant/dashboard"): portal_dashboard,
    ("GET", "/merchant/settlements"): portal_settlements,
    ("POST", "/merchant/settlement/schedule"): portal_schedule,
    ("GET", "/merchant/disputes"): portal_disputes,
    ("POST", "/merchant/disputes/{dispute_id}/respond"): dispute_answer,
    ("GET", "/api/disputes"): list_disputes,
    ("POST", "/api/disputes"): dispute_ops,
    ("GET", "/api/disputes/{dispute_id}"): dispute_read,
    ("POST", "/api/disputes/{dispute_id}/respond"): dispute_answer,
    ("POST", "/api/disputes/{dispute_id}/decide"): dispute_ops,
    ("GET", "/api/adjustments"): list_adjustments,
    ("POST", "/api/adjustments"): adjustment_write,
    ("POST", "/api/adjustments/{adjustment_id}/approve"): adjustment_write,
    ("POST", "/api/adjustments/{adjustment_id}/reject"): adjustment_write,
    ("GET", "/api/refunds"): list_refunds,
    ("POST", "/api/refunds"): create_refund,
    # Settlements: a merchant-admin reads its own merchant's, and approves nothing.
    ("GET", "/api/settlements"): list_settlements,
    ("GET", "/api/settlements/{settlement_id}"): settlement_read,
    ("POST", "/api/settlements/{settlement_id}/approve"): settlement_write,
    # Payment sessions: a merchant-admin creates, pushes and queries its own merchant's only.
    ("POST", "/api/sessions"): create_payment_session,
    ("GET", "/api/sessions/{session_id}"): payment_session_read,
    ("POST", "/api/mpesa/stkpush"): payment_session_read,
    ("POST", "/api/mpesa/query/{session_id}"): payment_session_read,
    ("POST", "/api/mpesa/callback"): forged_callback,
    ("POST", "/api/mpesa/c2b/validation"): forged_callback,
    ("POST", "/api/mpesa/c2b/confirmation"): forged_callback,
    ("POST", "/api/mpesa/transaction-status/result"): forged_callback,
    ("POST", "/api/mpesa/transaction-status/timeout"): forged_callback,
    ("GET", "/api/real-time-reconciliation/stats"): realtime_admin_only,
    ("GET", "/api/real-time-reconciliation/active"): realtime_admin_only,
    ("GET", "/api/real-time-reconciliation/results"): realtime_admin_only,
    ("POST", "/api/real-time-reconciliation/session/{session_id}"): realtime_admin_only,
    ("POST", "/api/real-time-reconciliation/bulk"): realtime_admin_only,
    ("POST", "/api/real-time-reconciliation/queue/{session_id}"): realtime_admin_only,
    ("WEBSOCKET", "/ws/real-time-reconciliation"): realtime_socket_admin_only,
    # Last, so that it has counted every request above: route templates, never ids or data.
    ("GET", "/metrics"): public,
}


def app_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the application serves; WEBSOCKET for a websocket route.

    FastAPI from 0.120 keeps included routers as nodes of `app.routes`; its
    `iter_route_contexts` flattens them (older versions list the routes themselves).
    """
    flatten = getattr(fastapi.routing, "iter_route_contexts", lambda routes: routes)
    found = []
    for route in flatten(app.routes):
        path = getattr(route, "path", None)
        assert path is not None, f"a route without a path: {route!r}; give it a tenant rule"
        methods = getattr(route, "methods", None)
        found += [(m, path) for m in sorted(methods)] if methods else [("WEBSOCKET", path)]
    return found


def test_every_route_has_a_tenant_rule() -> None:
    app = create_app(Settings(database_url="sqlite://", jwt_secret=SECRET))
    served = app_routes(app)
    without_rule = sorted(set(served) - set(RULES))
    assert not without_rule, (
        f"routes without a tenant-isolation rule: {without_rule}; add each to RULES in"
        " tests/api/test_tenant_isolation.py with what a merchant-admin may get from it"
    )
    gone = sorted(set(RULES) - set(served))
    assert not gone, f"RULES names routes the application no longer has: {gone}"


# --- what must not change -----------------------------------------------------------------


Row = dict[str, Any]


def database_snapshot(engine: Engine) -> dict[str, list[Row]]:
    """Every row of every application table, in a stable order."""
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        return {
            name: sorted(
                (dict(row) for row in connection.execute(table.select()).mappings()), key=repr
            )
            for name, table in sorted(metadata.tables.items())
        }


def files_snapshot(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def kept_forgeries(before: list[Row], after: list[Row]) -> list[Row]:
    """The M-Pesa events added meanwhile; each must be a refused payload of no session."""
    added = [row for row in after if row not in before]
    assert [row for row in before if row not in after] == []
    for row in added:
        assert (row["kind"], row["authenticated"], row["session_id"]) == ("rejected", False, None)
    return added


# --- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["Chai Point probes Dosa Hut", "Dosa Hut probes Chai Point"])
def test_no_route_shows_or_changes_another_merchants_data(day: Day, direction: str) -> None:
    own, other = (day.chai, day.dosa) if direction.startswith("Chai") else (day.dosa, day.chai)
    probe = Probe(day, own, other)
    tables, stored = database_snapshot(day.engine), files_snapshot(day.data_dir)

    served = app_routes(day.api.app)
    for method, path in sorted(served, key=lambda route: list(RULES).index(route)):
        calls = probe.calls
        RULES[(method, path)](probe, method, path)
        assert probe.calls > calls, f"the rule of {method} {path} made no request"
    ids = {"job_id": other.job_id, "exception_id": other.exception_ids[0]}
    ids["session_id"] = other.session_id
    ids["merchant_id"], ids["version"] = str(other.merchant_id), 1
    ids["settlement_id"] = other.settlement_id
    ids["dispute_id"] = other.dispute_id
    ids["adjustment_id"] = "adj_1"
    http_paths = sorted({path for method, path in served if method != "WEBSOCKET"})
    for path in http_paths:
        declared = {method for method, p in served if p == path}
        for method in sorted(set(EVERY_METHOD) - declared - {"HEAD"}):
            response = probe.call(method, path.format(**ids), json={"name": "x"})
            assert response.status_code == 405, f"{method} {path}: {response.text}"

    after = database_snapshot(day.engine)
    forgeries = kept_forgeries(tables.pop("mpesa_events"), after.pop("mpesa_events"))
    assert after == tables  # not one row of any tenant changed, added or removed
    callbacks = [route for route, rule in RULES.items() if rule is forged_callback]
    assert len(forgeries) == 2 * len(callbacks)  # each refused payload kept, nothing more
    assert files_snapshot(day.data_dir) == stored
    with day.api.app.state.sessions() as session:
        assert verify(session).ok


def test_a_merchant_admin_lists_and_exports_only_its_own_results(day: Day) -> None:
    """The positive side: everything of its own day, and only that, in JSON and CSV."""
    client, chai = day.api.client, day.chai
    matches = client.get(f"/api/jobs/{chai.job_id}/matches", headers=chai.headers).json()
    assert sorted((m["pg_record_id"], m["bank_record_id"]) for m in matches["items"]) == [
        ("chai_pay_1", "chai_bnk_1"),
        ("chai_pay_2", "chai_bnk_2"),
    ]
    exported = client.get(
        f"/api/jobs/{chai.job_id}/exceptions", params={"format": "csv"}, headers=chai.headers
    )
    assert exported.status_code == 200
    records = sorted(line.split(",")[4] for line in exported.text.splitlines()[1:])
    assert records == ["chai_bnk_9", "chai_pay_3"]


def test_a_token_outlives_no_move_to_another_merchant(day: Day) -> None:
    """Ravi ran Dosa Hut's reconciliation, then moved to Chai Point: his old token is void.

    The token names the merchant it was issued for; once the user belongs to another
    merchant it must not keep opening the old merchant's jobs until it expires.
    """
    ravi = "ravi@dosa-hut.test"
    with day.api.app.state.sessions.begin() as session:
        create_user(session, email=ravi, password=PASSWORD, role="merchant-admin", merchant_id=DOSA)
    old = _login(day.api, ravi)
    assert day.api.client.get(f"/api/jobs/{day.dosa.job_id}", headers=old).status_code == 200
    with day.api.app.state.sessions.begin() as session:
        session.execute(update(User).where(User.email == ravi).values(merchant_id=CHAI))
    # Each process trusts what it read of a user for HISAAB_AUTH_CACHE_SECONDS, no longer.
    time.sleep(day.api.app.state.settings.auth_cache_seconds + 0.05)

    for path in (f"/api/jobs/{day.dosa.job_id}", "/api/jobs", "/api/auth/me"):
        response = day.api.client.get(path, headers=old)
        assert response.status_code == 401, f"{path}: {response.text}"
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    again = _login(day.api, ravi)
    listed = day.api.client.get("/api/jobs", headers=again).json()
    assert [job["id"] for job in listed["items"]] == [day.chai.job_id]
