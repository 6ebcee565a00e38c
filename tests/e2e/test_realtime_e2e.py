"""Real-time M-Pesa reconciliation end to end, every part a real process or server.

`hisaab sandbox` plays Safaricom: it takes our STK Pushes and posts callbacks back over HTTP.
`hisaab serve` takes them, a worker reconciles, and an admin's WebSocket client sees results
and alerts; high-severity alerts reach a real SMTP server and a real SMS-provider server.
On SQLite the worker runs inside the API process; on PostgreSQL it is a process of its own,
and two API processes each have a WebSocket client that must see every result.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from sms_server import SmsServer
from smtp_server import SmtpServer

SECRET = "e2e-callback-secret"
JWT_SECRET = "e2e-jwt-secret-0123456789abcdef0123456789"
ADMIN = ("admin@e2e.test", "admin-password-1")
OPS = ("ops@e2e.test", "ops-password-1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _hisaab(*args: str) -> list[str]:
    return [sys.executable, "-m", "hisaab.cli.main", *args]


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{url} exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer within 60 s:\n{log.read_text()[-4000:]}")


@dataclass
class Deployment:
    apis: list[str]
    sandbox: str
    smtp: SmtpServer
    sms: SmsServer
    tokens: dict[str, str] = field(default_factory=dict)

    def login(self, who: tuple[str, str]) -> str:
        answer = httpx.post(
            f"{self.apis[0]}/api/auth/login", json={"email": who[0], "password": who[1]}
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    @contextmanager
    def socket(self, api: str) -> Iterator[ClientConnection]:
        ws_url = api.replace("http://", "ws://")
        token = self.tokens["admin"]
        with connect(f"{ws_url}/ws/real-time-reconciliation?token={token}") as client:
            hello = json.loads(client.recv(timeout=10))
            assert hello["type"] == "connected"
            # The client offers permessage-deflate; the API declines unless configured to.
            assert client.response is not None
            assert "Sec-WebSocket-Extensions" not in client.response.headers
            yield client

    def pay(self, phone: str, amount: str, reference: str) -> str:
        headers = {"Authorization": f"Bearer {self.tokens['ops']}"}
        created = httpx.post(
            f"{self.apis[0]}/api/sessions",
            headers=headers,
            json={
                "merchantId": "M-E2E",
                "amount": amount,
                "phone": phone,
                "accountReference": reference,
            },
        )
        assert created.status_code == 201, created.text
        session_id = str(created.json()["sessionId"])
        pushed = httpx.post(
            f"{self.apis[0]}/api/mpesa/stkpush", headers=headers, json={"sessionId": session_id}
        )
        assert pushed.status_code == 200, pushed.text
        assert pushed.json()["status"] == "processing"
        return session_id


@contextmanager
def deployment(tmp_path: Path, database_url: str, *, api_processes: int) -> Iterator[Deployment]:
    embedded = database_url.startswith("sqlite")
    with ExitStack() as stack:
        smtp = SmtpServer().start()
        stack.callback(smtp.stop)
        sms = SmsServer(username="hisaab", api_key="at-test-key").start()
        stack.callback(sms.stop)
        sandbox_port = _free_port()
        ports = [_free_port() for _ in range(api_processes)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("HISAAB_")}
        env.update(
            HISAAB_DATABASE_URL=database_url,
            HISAAB_JWT_SECRET=JWT_SECRET,
            HISAAB_DATA_DIR=str(tmp_path / "data"),
            HISAAB_MPESA_BASE_URL=f"http://127.0.0.1:{sandbox_port}",
            HISAAB_MPESA_CONSUMER_KEY="sandbox-key",
            HISAAB_MPESA_CONSUMER_SECRET="sandbox-secret",
            HISAAB_MPESA_PASSKEY="sandbox-passkey",
            HISAAB_MPESA_CALLBACK_URL=f"http://127.0.0.1:{ports[0]}",
            HISAAB_MPESA_CALLBACK_SECRET=SECRET,
            HISAAB_SMTP_HOST="127.0.0.1",
            HISAAB_SMTP_PORT=str(smtp.port),
            HISAAB_ADMIN_EMAIL="oncall@e2e.test",
            HISAAB_SMS_URL=sms.base_url,
            HISAAB_SMS_USERNAME="hisaab",
            HISAAB_SMS_API_KEY="at-test-key",
            HISAAB_ADMIN_PHONE="+254712000111",
        )
        subprocess.run(_hisaab("migrate"), env=env, check=True, capture_output=True)
        for email, password, role in ((*ADMIN, "admin"), (*OPS, "sp-ops")):
            subprocess.run(
                _hisaab(
                    "users", "create", "--email", email, "--password", password, "--role", role
                ),
                env=env,
                check=True,
                capture_output=True,
            )
        log = tmp_path / "sandbox.log"
        sandbox = stack.enter_context(
            _process(
                _hisaab("sandbox", "--port", str(sandbox_port), "--callback-delay-ms", "100"),
                env,
                log,
            )
        )
        _wait_until_up(f"http://127.0.0.1:{sandbox_port}/sandbox/callbacks", sandbox, log)
        apis = []
        for n, port in enumerate(ports):
            args = ["serve", "--port", str(port), "--no-access-log"]
            if embedded:
                args.append("--with-worker")
            log = tmp_path / f"api-{n}.log"
            proc = stack.enter_context(_process(_hisaab(*args), env, log))
            _wait_until_up(f"http://127.0.0.1:{port}/health", proc, log)
            apis.append(f"http://127.0.0.1:{port}")
        if not embedded:
            stack.enter_context(
                _process(_hisaab("worker", "--poll-seconds", "0.2"), env, tmp_path / "worker.log")
            )
        found = Deployment(apis, f"http://127.0.0.1:{sandbox_port}", smtp, sms)
        found.tokens = {"admin": found.login(ADMIN), "ops": found.login(OPS)}
        yield found


def _results_for(
    client: ClientConnection, sessions: set[str], *, timeout: float = 30
) -> dict[str, list[dict[str, Any]]]:
    """Messages about each session until every one has a non-pending result (or timeout)."""
    seen: dict[str, list[dict[str, Any]]] = {s: [] for s in sessions}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        settled = all(
            any(
                m["type"] == "reconciliation_result" and m["data"]["status"] != "pending"
                for m in seen[s]
            )
            for s in sessions
        )
        if settled:
            return seen
        try:
            message = json.loads(client.recv(timeout=max(0.1, deadline - time.monotonic())))
        except TimeoutError:
            break
        session = message.get("data", {}).get("sessionId")
        if session in seen:
            seen[session].append(message)
    return seen


def _until(client: ClientConnection, wanted: Any, timeout: float = 20) -> list[dict[str, Any]]:
    """Messages received until one satisfies `wanted` (all of them, that one last)."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = json.loads(client.recv(timeout=max(0.1, deadline - time.monotonic())))
        except TimeoutError:
            break
        got.append(message)
        if wanted(message):
            break
    return got


def _final(messages: list[dict[str, Any]]) -> dict[str, Any]:
    results = [m["data"] for m in messages if m["type"] == "reconciliation_result"]
    settled = [r for r in results if r["status"] != "pending"]
    assert settled, f"no settled result among {results}"
    return settled[-1]


def _wait(predicate: Any, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_payments_are_reconciled_live_and_wrong_amounts_alert_the_admins(
    tmp_path: Path,
) -> None:
    """SQLite, the embedded deployment: success, cancellation, wrong amount, duplicate."""
    with deployment(tmp_path, f"sqlite:///{tmp_path / 'hisaab.db'}", api_processes=1) as d:
        with d.socket(d.apis[0]) as watcher:
            # The sandbox decides by the payer phone's last digit (see hisaab.mpesa.sandbox).
            paid = d.pay("0712000110", "1500", "INV-PAID")
            cancelled = d.pay("0712000111", "250", "INV-CANCEL")
            wrong = d.pay("0712000115", "999", "INV-WRONG")
            twice = d.pay("0712000116", "75", "INV-TWICE")
            seen = _results_for(watcher, {paid, cancelled, wrong, twice})
            # The sandbox posts the duplicate's second copy a moment after the first.
            seen[twice] += _until(
                watcher,
                lambda m: (
                    m["type"] == "discrepancy_alert"
                    and m["data"]["sessionId"] == twice
                    and m["data"]["issues"][0]["type"] == "duplicate_callback"
                ),
            )

        assert _final(seen[paid])["status"] == "matched"
        assert _final(seen[paid])["sessionDetails"]["sessionStatus"] == "paid"
        assert _final(seen[paid])["sessionDetails"]["phone"] == "2547****110"
        assert _final(seen[cancelled])["sessionDetails"]["sessionStatus"] == "cancelled"
        assert _final(seen[cancelled])["status"] == "matched"

        wrong_result = _final(seen[wrong])
        assert wrong_result["status"] == "discrepancy"
        assert [i["type"] for i in wrong_result["issues"]] == ["amount_mismatch"]
        alerts = [m["data"] for m in seen[wrong] if m["type"] == "discrepancy_alert"]
        assert [(a["issues"][0]["type"], a["severity"]) for a in alerts] == [
            ("amount_mismatch", "high")
        ]
        # The high-severity alert went out by email and SMS, phone masked in both.
        assert _wait(lambda: len(d.smtp.messages) == 1 and len(d.sms.requests) == 1)
        mail = d.smtp.messages[0]
        assert mail.rcpt_tos == ("oncall@e2e.test",)
        assert wrong in mail.message.get_content()
        assert "0712000115" not in mail.raw.decode() and "254712000115" not in mail.raw.decode()
        sms = d.sms.requests[0]
        assert sms.form["to"] == "+254712000111"
        assert "amount" in sms.form["message"].lower()
        assert "712000115" not in sms.form["message"]

        twice_result = _final(seen[twice])
        assert twice_result["sessionDetails"]["sessionStatus"] == "paid"
        assert any(
            m["type"] == "discrepancy_alert"
            and m["data"]["issues"][0]["type"] == "duplicate_callback"
            for m in seen[twice]
        )
        # The duplicate changed nothing: one receipt, one paid amount.
        headers = {"Authorization": f"Bearer {d.tokens['ops']}"}
        view = httpx.get(f"{d.apis[0]}/api/sessions/{twice}", headers=headers).json()
        callbacks = [e for e in view["events"] if e["kind"] == "stk_callback"]
        assert [e["repeat"] for e in callbacks] == [False, True]
        assert view["paidAmountMinor"] == 7500


def test_two_api_processes_each_see_every_result_over_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    import uuid

    import psycopg

    name = f"e2e_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    with deployment(tmp_path, url, api_processes=2) as d:
        with d.socket(d.apis[0]) as first, d.socket(d.apis[1]) as second:
            sessions = {d.pay(f"07120003{n}0", "100", f"INV-PG-{n}") for n in range(3)}
            on_first = _results_for(first, sessions)
            on_second = _results_for(second, sessions)
        for seen in (on_first, on_second):
            for session in sessions:
                assert _final(seen[session])["sessionDetails"]["sessionStatus"] == "paid"
