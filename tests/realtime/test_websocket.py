"""The live console: `/ws/real-time-reconciliation?token=<jwt>`, for admins only.

Admins watch order ps_order_1001 (KES 2,500.00 from 0712 345 678) being reconciled: they
connect with their token, ask for statistics, ask for a reconciliation, and every connected
admin sees every result and every new discrepancy. A handshake without a valid admin token is
refused before the socket is accepted.

Broadcasts travel through the fan-out, whose transport depends on the database (in-process
on SQLite, LISTEN/NOTIFY on PostgreSQL), so the broadcast tests run on both; the handshake
and the message protocol do not touch the transport and run on SQLite only.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from realtime_support import JWT_SECRET, PHONE, RealtimeApi, stk_callback, wait_for
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from hisaab.auth.roles import ROLES
from hisaab.auth.tokens import issue_token, verify_token

PATH = "/ws/real-time-reconciliation"
RAW_PHONES = (PHONE, "0712345678")


def receive(ws: WebSocketTestSession, timeout: float = 5.0) -> dict[str, Any]:
    """The next message, or a failure after `timeout` s (the test client would wait forever)."""
    box: queue.Queue[tuple[bool, Any]] = queue.Queue()

    def run() -> None:
        try:
            box.put((True, ws.receive_json()))
        except BaseException as exc:  # handed to the test's thread
            box.put((False, exc))

    threading.Thread(target=run, daemon=True).start()
    try:
        ok, value = box.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no WebSocket message within {timeout} s") from None
    if not ok:
        raise value
    assert isinstance(value, dict), value
    return value


@contextmanager
def console(api: RealtimeApi, role: str = "admin") -> Iterator[WebSocketTestSession]:
    """An admin's live connection, past its `connected` message."""
    with api.client.websocket_connect(f"{PATH}?token={api.token(role)}") as ws:
        assert receive(ws)["type"] == "connected"
        yield ws


def subscribed(api: RealtimeApi) -> None:
    """The API process listens to the fan-out (PostgreSQL's LISTEN takes a moment)."""
    wait_for(lambda: api.app.state.subscriber is not None, what="the fan-out subscription")


def refused(api: RealtimeApi, token: str | None) -> WebSocketDisconnect:
    url = PATH if token is None else f"{PATH}?token={token}"
    with pytest.raises(WebSocketDisconnect) as caught, api.client.websocket_connect(url):
        pass
    assert caught.value.code == 1008  # policy violation: closed before the handshake completed
    return caught.value


def pending_order(api: RealtimeApi, session_id: str = "ps_order_1001") -> str:
    api.new_session(sessionId=session_id)
    api.pushed(session_id, f"ws_CO_{session_id}")
    return session_id


def assert_masked(message: dict[str, Any]) -> None:
    text = repr(message)
    for raw in RAW_PHONES:
        assert raw not in text, f"{raw} shown unmasked in {text}"


# --- the handshake -----------------------------------------------------------------------------


class TestHandshake:
    def test_no_token_is_refused(self, sqlite_api: RealtimeApi) -> None:
        assert "token" in refused(sqlite_api, None).reason

    def test_an_expired_token_is_refused(self, sqlite_api: RealtimeApi) -> None:
        claims = verify_token(sqlite_api.token("admin"), JWT_SECRET)
        expired = issue_token(claims, JWT_SECRET, ttl_seconds=-60)
        assert "expired" in refused(sqlite_api, expired).reason

    def test_a_tampered_token_is_refused(self, sqlite_api: RealtimeApi) -> None:
        header, payload, signature = sqlite_api.token("admin").split(".")
        flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
        assert "not valid" in refused(sqlite_api, f"{header}.{payload}.{flipped}").reason

    def test_a_token_signed_with_another_secret_is_refused(self, sqlite_api: RealtimeApi) -> None:
        claims = verify_token(sqlite_api.token("admin"), JWT_SECRET)
        foreign = issue_token(claims, "another-secret-0123456789abcdef-012345", ttl_seconds=600)
        refused(sqlite_api, foreign)

    def test_an_empty_token_is_refused(self, sqlite_api: RealtimeApi) -> None:
        refused(sqlite_api, "")

    @pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
    def test_every_role_but_admin_is_refused(self, sqlite_api: RealtimeApi, role: str) -> None:
        assert "may not watch" in refused(sqlite_api, sqlite_api.token(role)).reason

    def test_a_deactivated_admin_is_refused(self, sqlite_api: RealtimeApi) -> None:
        from sqlalchemy import update

        from hisaab.storage.models import User

        token = sqlite_api.token("admin")
        with sqlite_api.db() as db:
            db.execute(update(User).where(User.role == "admin").values(is_active=False))
        refused(sqlite_api, token)

    def test_connected_carries_the_seeds_fields(self, sqlite_api: RealtimeApi) -> None:
        url = f"{PATH}?token={sqlite_api.token('admin')}"
        with sqlite_api.client.websocket_connect(url) as ws:
            message = receive(ws)
        assert set(message) == {"type", "clientId", "message", "timestamp"}
        assert message["type"] == "connected"
        assert message["message"] == "Connected to real-time reconciliation service"
        assert isinstance(message["clientId"], str) and message["clientId"]
        sent = dt.datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00"))
        assert abs(dt.datetime.now(dt.UTC) - sent) < dt.timedelta(minutes=1)


# --- what a client may ask --------------------------------------------------------------------


class TestMessages:
    def test_ping_is_answered_with_pong(self, sqlite_api: RealtimeApi) -> None:
        with console(sqlite_api) as ws:
            ws.send_json({"type": "ping"})
            pong = receive(ws)
        assert pong["type"] == "pong"
        assert pong["timestamp"].endswith("Z")

    def test_get_stats_answers_reconciliation_stats(self, sqlite_api: RealtimeApi) -> None:
        pending_order(sqlite_api)
        sqlite_api.callback(stk_callback("ws_CO_ps_order_1001"))
        sqlite_api.work()
        with console(sqlite_api) as ws, console(sqlite_api):
            ws.send_json({"type": "get_stats"})
            message = receive(ws)
        assert message["type"] == "reconciliation_stats"
        stats = message["data"]
        assert stats["totalProcessed"] == 1
        assert stats["successfulReconciliations"] == 1
        assert isinstance(stats["averageProcessingTime"], float)
        assert stats["connectedClients"] == 2

    def test_connected_clients_are_counted_by_the_rest_api(self, sqlite_api: RealtimeApi) -> None:
        with console(sqlite_api), console(sqlite_api):
            active = sqlite_api.client.get(
                "/api/real-time-reconciliation/active", headers=sqlite_api.headers()
            ).json()
            assert active["connectedClients"] == 2
        after = sqlite_api.client.get(
            "/api/real-time-reconciliation/active", headers=sqlite_api.headers()
        ).json()
        assert after["connectedClients"] == 0

    @pytest.mark.parametrize(
        "sent",
        [
            {"type": "subscribe"},
            {"kind": "ping"},
            ["ping"],
            "ping",
        ],
        ids=["unknown-type", "no-type", "array", "string"],
    )
    def test_an_unknown_message_gets_an_error_and_the_connection_stays_open(
        self, sqlite_api: RealtimeApi, sent: Any
    ) -> None:
        with console(sqlite_api) as ws:
            ws.send_json(sent)
            error = receive(ws)
            assert error["type"] == "error"
            assert "expected ping, get_stats or reconcile_session" in error["message"]
            ws.send_json({"type": "ping"})
            assert receive(ws)["type"] == "pong"

    def test_text_that_is_not_json_gets_an_error(self, sqlite_api: RealtimeApi) -> None:
        with console(sqlite_api) as ws:
            ws.send_text("hello?")
            error = receive(ws)
            assert (error["type"], error["message"]) == ("error", "messages must be JSON objects")
            ws.send_json({"type": "ping"})
            assert receive(ws)["type"] == "pong"

    def test_a_binary_frame_gets_an_error_and_the_connection_stays_open(
        self, sqlite_api: RealtimeApi
    ) -> None:
        with console(sqlite_api) as ws:
            ws.send_bytes(b'{"type": "ping"}')
            error = receive(ws)
            assert error["type"] == "error"
            assert "text" in error["message"]
            ws.send_json({"type": "ping"})
            assert receive(ws)["type"] == "pong"

    def test_reconcile_session_for_an_unknown_session_gets_an_error(
        self, sqlite_api: RealtimeApi
    ) -> None:
        with console(sqlite_api) as ws:
            ws.send_json({"type": "reconcile_session", "sessionId": "ps_nobody"})
            error = receive(ws)
            assert (error["type"], error["sessionId"]) == ("error", "ps_nobody")
            assert "ps_nobody" in error["message"]
            ws.send_json({"type": "reconcile_session"})
            assert receive(ws)["message"] == "reconcile_session needs a sessionId"
            ws.send_json({"type": "ping"})
            assert receive(ws)["type"] == "pong"

    def test_a_heartbeat_keeps_an_idle_console_alive(self, make_api: Any) -> None:
        with make_api(ws_heartbeat_seconds=0.05) as api, console(api) as ws:
            beat = receive(ws)
        assert beat["type"] == "heartbeat"


# --- broadcasts ----------------------------------------------------------------------------------


class TestBroadcasts:
    def test_a_reconciliation_asked_by_one_admin_reaches_all_three(self, api: RealtimeApi) -> None:
        pending_order(api)
        api.callback(stk_callback("ws_CO_ps_order_1001"))
        api.work()
        subscribed(api)
        with ExitStack() as stack:
            consoles = [stack.enter_context(console(api)) for _ in range(3)]
            consoles[1].send_json({"type": "reconcile_session", "sessionId": "ps_order_1001"})
            received = [receive(ws) for ws in consoles]
        for message in received:
            assert message["type"] == "reconciliation_result"
            data = message["data"]
            assert (data["sessionId"], data["status"]) == ("ps_order_1001", "matched")
            assert data["sessionDetails"]["amount"] == "2500.00"
            assert data["sessionDetails"]["phone"] == "2547****678"
            assert data["reconciliationMetadata"]["trigger"] == "websocket"
            assert_masked(message)
        assert received[0] == received[1] == received[2]

    def test_a_worker_result_reaches_every_admin(self, api: RealtimeApi) -> None:
        pending_order(api)
        subscribed(api)
        with console(api) as first, console(api) as second:
            api.callback(stk_callback("ws_CO_ps_order_1001"))
            api.work()
            for ws in (first, second):
                message = receive(ws)
                assert message["type"] == "reconciliation_result"
                assert message["data"]["sessionDetails"]["sessionStatus"] == "paid"
                assert message["data"]["reconciliationMetadata"]["trigger"] == "stk_callback"

    def test_a_result_carries_the_cursor_a_client_can_fetch_it_again_by(
        self, api: RealtimeApi
    ) -> None:
        pending_order(api)
        subscribed(api)
        with console(api) as ws:
            api.callback(stk_callback("ws_CO_ps_order_1001"))
            api.work()
            live = receive(ws)["data"]
        fetched = api.client.get(
            f"/api/real-time-reconciliation/results?after={live['resultId'] - 1}",
            headers=api.headers("admin"),
        ).json()["results"][0]["data"]
        assert fetched["resultId"] == live["resultId"]
        assert (fetched["sessionId"], fetched["status"]) == (live["sessionId"], live["status"])
        assert fetched["sessionDetails"] == live["sessionDetails"]
        assert fetched["reconciliationMetadata"] == live["reconciliationMetadata"]

    def test_a_new_discrepancy_is_alerted_once(self, api: RealtimeApi) -> None:
        pending_order(api, "ps_order_1001")
        pending_order(api, "ps_order_1002")
        subscribed(api)
        with console(api) as ws:
            api.callback(stk_callback("ws_CO_ps_order_1001", amount=2400))  # KES 100 short
            api.work()
            result, alert = receive(ws), receive(ws)
            assert (result["type"], result["data"]["status"]) == (
                "reconciliation_result",
                "discrepancy",
            )
            assert alert["type"] == "discrepancy_alert"
            data = alert["data"]
            assert data["sessionId"] == "ps_order_1001"
            assert data["severity"] == "high"
            [issue] = data["issues"]
            assert issue["type"] == "amount_mismatch"
            assert issue["message"] == "M-Pesa amount differs from the session amount"
            assert data["timestamp"].endswith("Z")

            # Seen again: a result, but no second alert (the next message is another result).
            ws.send_json({"type": "reconcile_session", "sessionId": "ps_order_1001"})
            again = receive(ws)
            assert (again["type"], again["data"]["status"]) == (
                "reconciliation_result",
                "discrepancy",
            )
            ws.send_json({"type": "reconcile_session", "sessionId": "ps_order_1002"})
            following = receive(ws)
            assert following["type"] == "reconciliation_result"
            assert following["data"]["sessionId"] == "ps_order_1002"

    def test_a_phone_mismatch_alert_shows_masked_numbers(self, sqlite_api: RealtimeApi) -> None:
        pending_order(sqlite_api)
        subscribed(sqlite_api)
        with console(sqlite_api) as ws:
            sqlite_api.callback(stk_callback("ws_CO_ps_order_1001", phone=254799000111))
            sqlite_api.work()
            result, alert = receive(ws), receive(ws)
        assert alert["type"] == "discrepancy_alert"
        assert alert["data"]["issues"][0]["details"] == {
            "expected": "2547****678",
            "received": "2547****111",
        }
        assert_masked(result)
        assert "254799000111" not in repr(result) + repr(alert)

    def test_a_client_that_left_does_not_stop_the_others(self, sqlite_api: RealtimeApi) -> None:
        pending_order(sqlite_api)
        subscribed(sqlite_api)
        with console(sqlite_api) as staying:
            with console(sqlite_api):
                pass  # connects and leaves
            sqlite_api.callback(stk_callback("ws_CO_ps_order_1001"))
            sqlite_api.work()
            assert receive(staying)["type"] == "reconciliation_result"
