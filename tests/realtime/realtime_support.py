"""What the real-time tests share: M-Pesa payloads as Daraja sends them, and a handle on the API.

Payload builders write the bodies of shared/FORMATS.md (an STK callback, a C2B request, a
Transaction Status result) with the variations real captures show, so a test names only
what matters to it. `RealtimeApi` drives the application through its HTTP API with a
`TestClient`, runs the queue with an in-process `Worker`, and reads the tables to check what
was kept.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from hisaab.queue.jobs import enqueue
from hisaab.queue.worker import Outcome, Worker
from hisaab.realtime import repository as repo
from hisaab.realtime.service import RECONCILE_JOB
from hisaab.storage.models import Base, QueueJob

JWT_SECRET = "test-secret-0123456789abcdef-0123456789"
PASSWORD = "correct horse battery"
CALLBACK_SECRET = "callback-secret-known-only-to-safaricom"
MERCHANT = "M0001234"  # the merchant-admin user's merchant
OTHER_MERCHANT = "M0009999"
PHONE = "254712345678"  # 0712 345 678, the payer of every example unless told otherwise
RECEIPT = "NLJ7RT61SV"
# The Daraja app credentials the tests' sandbox accepts (hisaab.mpesa.sandbox).
DARAJA = {
    "mpesa_consumer_key": "app-key",
    "mpesa_consumer_secret": "app-secret",
    "mpesa_shortcode": "174379",
    "mpesa_passkey": "test-passkey-0001",
}


def daraja_settings(sandbox_url: str) -> dict[str, str]:
    """The HISAAB_MPESA_* settings that point Hisaab at a sandbox."""
    return {"mpesa_base_url": sandbox_url, **DARAJA}


def email_of(role: str) -> str:
    return f"{role}@hisaab.test"


# --- Daraja's bodies --------------------------------------------------------------------------


def stk_callback(
    checkout_request_id: str,
    result_code: int | str = 0,
    *,
    amount: Any = 2500,
    receipt: str = RECEIPT,
    phone: Any = int(PHONE),
    result_desc: str | None = None,
    balance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An STK callback; a success (0) carries CallbackMetadata with `Balance` lacking a Value."""
    body: dict[str, Any] = {
        "MerchantRequestID": "29115-34620561-1",
        "CheckoutRequestID": checkout_request_id,
        "ResultCode": result_code,
        "ResultDesc": result_desc
        if result_desc is not None
        else "The service request is processed successfully.",
    }
    if str(result_code).strip() == "0":
        body["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": amount},
                {"Name": "MpesaReceiptNumber", "Value": receipt},
                balance if balance is not None else {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": 20241214103015},
                {"Name": "PhoneNumber", "Value": phone},
            ]
        }
    return {"Body": {"stkCallback": body}}


def c2b_body(
    account: str,
    *,
    trans_id: str = "RKTQDM7W6S",
    amount: str = "2500.00",
    msisdn: str = "25471****678",
) -> dict[str, Any]:
    """A C2B validation or confirmation request (v2: the MSISDN arrives masked)."""
    return {
        "TransactionType": "Pay Bill",
        "TransID": trans_id,
        "TransTime": "20241214103015",
        "TransAmount": amount,
        "BusinessShortCode": "600638",
        "BillRefNumber": account,
        "InvoiceNumber": "",
        "OrgAccountBalance": "",
        "ThirdPartyTransID": "",
        "MSISDN": msisdn,
        "FirstName": "John",
        "MiddleName": "",
        "LastName": "Doe",
    }


def transaction_status_result(
    receipt: str,
    *,
    status: str = "Completed",
    amount: Any = 2500,
    result_code: int | str = 0,
    conversation_id: str = "AG_20241214_0000abcdef1234567890",
) -> dict[str, Any]:
    """The Result Daraja posts to the ResultURL of a Transaction Status query."""
    return {
        "Result": {
            "ResultType": 0,
            "ResultCode": result_code,
            "ResultDesc": "The service request is processed successfully.",
            "OriginatorConversationID": "10571-7910404-1",
            "ConversationID": conversation_id,
            "TransactionID": receipt,
            "ResultParameters": {
                "ResultParameter": [
                    {"Key": "ReceiptNo", "Value": receipt},
                    {"Key": "Amount", "Value": amount},
                    {"Key": "TransactionStatus", "Value": status},
                    {"Key": "DebitPartyName", "Value": f"{PHONE} - John Doe"},
                    {"Key": "CreditPartyName", "Value": "600310 - Shop"},
                    {"Key": "InitiatedTime", "Value": 20241214103015},
                    {"Key": "FinalisedTime", "Value": 20241214103020},
                    {"Key": "TransactionReason"},
                ]
            },
            "ReferenceData": {"ReferenceItem": {"Key": "Occasion"}},
        }
    }


# --- the application ----------------------------------------------------------------------------


@dataclass
class RealtimeApi:
    """The application under test, its client, and a worker to run what it queued."""

    client: TestClient | httpx2.Client  # in-process, or over HTTP to a served app
    app: FastAPI
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, role: str) -> str:
        if role not in self.tokens:
            response = self.client.post(
                "/api/auth/login", json={"email": email_of(role), "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
            self.tokens[role] = str(response.json()["access_token"])
        return self.tokens[role]

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}

    def new_session(self, role: str = "sp-ops", **body: Any) -> dict[str, Any]:
        """A payment session as platform ops create it: KES 2,500.00 from 0712 345 678."""
        values = {"merchantId": MERCHANT, "amount": "2500.00", "phone": "0712345678", **body}
        response = self.client.post("/api/sessions", json=values, headers=self.headers(role))
        assert response.status_code == 201, response.text
        return dict(response.json())

    def pushed(
        self,
        session_id: str,
        checkout_request_id: str,
        *,
        ago: dt.timedelta = dt.timedelta(0),
        reconcile: bool = False,
    ) -> None:
        """Record an STK Push Daraja accepted, as hisaab.realtime.sessions.stk_push does once
        Daraja answers: the CheckoutRequestID on the session, earlier callbacks attached to it,
        and (`reconcile`) the `payment_initiation` reconciliation queued."""
        initiated = dt.datetime.now(dt.UTC) - ago
        with self.db() as db:
            db.execute(
                update(repo.SESSIONS)
                .where(repo.SESSIONS.c.id == session_id)
                .values(
                    status="processing",
                    checkout_request_id=checkout_request_id,
                    initiated_at=initiated,
                    created_at=initiated - dt.timedelta(seconds=1),
                )
            )
            repo.link_events(db, session_id, checkout_request_id)
            if reconcile:
                enqueue(
                    db,
                    RECONCILE_JOB,
                    {
                        "session_id": session_id,
                        "trigger": "payment_initiation",
                        "received_at": initiated.isoformat(),
                    },
                )

    def callback(
        self,
        body: Any,
        *,
        path: str = "/api/mpesa/callback",
        secret: str | None = CALLBACK_SECRET,
    ) -> httpx2.Response:
        params = {} if secret is None else {"secret": secret}
        if isinstance(body, bytes):
            return self.client.post(
                path, params=params, content=body, headers={"content-type": "application/json"}
            )
        return self.client.post(path, params=params, json=body)

    def work(self) -> Counter[Outcome]:
        """Run every due job, as `hisaab worker` would, until nothing is due."""
        worker = Worker(self.app.state.sessions, poll_seconds=0.05, idle_poll_seconds=0.01)
        return worker.run(once=True)

    @contextmanager
    def db(self) -> Iterator[Session]:
        with self.app.state.sessions() as session, session.begin():
            yield session

    def row(self, session_id: str) -> dict[str, Any]:
        with self.db() as db:
            found = repo.session_row(db, session_id)
        assert found is not None, session_id
        return dict(found)

    def rows(self, table: Table, *where: Any) -> list[dict[str, Any]]:
        with self.db() as db:
            query = select(table).where(*where).order_by(*table.primary_key.columns)
            return [dict(r) for r in db.execute(query).mappings()]

    def jobs(self, kind: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        table = QueueJob.__table__
        where = []
        if kind is not None:
            where.append(table.c.kind == kind)
        if status is not None:
            where.append(table.c.status == status)
        return self.rows(table, *where)  # type: ignore[arg-type]

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every table: to show that a request changed nothing (or what)."""
        with self.db() as db:
            return {
                name: [dict(r) for r in db.execute(select(table)).mappings()]
                for name, table in Base.metadata.tables.items()
                if name not in ("users", "alembic_version")
            }


def wait_for(check: Any, *, timeout: float = 5.0, what: str = "the condition") -> Any:
    """Poll `check()` until it returns something truthy (fan-out and servers are asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.01)


# --- a real local HTTP server -------------------------------------------------------------------


def bound_socket() -> socket.socket:
    """A listening-ready socket on 127.0.0.1:<free port> (bound first: no race for the port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve(app: Any, sock: socket.socket | None = None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on `sock` (else a free port) in a thread; yields its URL."""
    sock = sock or bound_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), timeout=10, what="uvicorn")
        if not server.started:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"uvicorn on port {port} did not stop within 10 s")


def error_of(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    """The standard error body of a refused request (hisaab.api.errors), checked."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details", "timestamp", "requestId", "metadata"}
    assert error["code"] == code, error
    assert error["requestId"] == response.headers["X-Request-ID"]
    return dict(error)
