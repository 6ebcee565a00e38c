"""The STK callback hot path (hisaab.api.callback_path), served ahead of FastAPI.

An authenticated callback for order ps_order_1001 must come out of the hot path exactly as
it would out of the documented route: the same acknowledgement, the same error body, the
X-Request-ID header, the request metrics. What the hot path does not take (a wrong secret, a
secret given twice, another method) is still answered by FastAPI.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

import pytest
from realtime_support import CALLBACK_SECRET, RealtimeApi, error_of, stk_callback
from sqlalchemy import text

from hisaab.api import callback_path
from hisaab.realtime.repository import EVENTS

CHECKOUT = "ws_CO_221120261030001254712345678"
CALLBACK = "/api/mpesa/callback"


def pushed_session(api: RealtimeApi) -> str:
    session_id = str(api.new_session(amount="2500.00")["sessionId"])
    api.pushed(session_id, CHECKOUT)
    return session_id


def callbacks_counted(api: RealtimeApi, status: int) -> float:
    metrics = api.client.get("/metrics").text
    wanted = ("hisaab_http_requests_total{", f'route="{CALLBACK}"', f'status="{status}"')
    for line in metrics.splitlines():
        if line.startswith(wanted[0]) and all(part in line for part in wanted[1:]):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_an_authenticated_callback_is_acknowledged_recorded_and_counted(
    api: RealtimeApi,
) -> None:
    session_id = pushed_session(api)
    counted = callbacks_counted(api, 200)
    response = api.client.post(
        CALLBACK,
        params={"secret": CALLBACK_SECRET},
        json=stk_callback(CHECKOUT, amount=2500),
        headers={"X-Request-ID": "safaricom-retry-7"},
    )
    assert response.status_code == 200
    assert response.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["X-Request-ID"] == "safaricom-retry-7"
    [event] = api.rows(EVENTS, EVENTS.c.kind == "stk_callback")
    assert (event["session_id"], event["authenticated"]) == (session_id, True)
    assert callbacks_counted(api, 200) == counted + 1
    api.work()
    assert api.row(session_id)["status"] == "paid"


def test_a_callback_without_a_request_id_gets_a_fresh_one(sqlite_api: RealtimeApi) -> None:
    pushed_session(sqlite_api)
    first = sqlite_api.callback(stk_callback(CHECKOUT, amount=2500))
    second = sqlite_api.callback(stk_callback(CHECKOUT, amount=2500))
    ids = {first.headers["X-Request-ID"], second.headers["X-Request-ID"]}
    assert len(ids) == 2 and all(i.startswith("req_") for i in ids)


def test_an_unreadable_callback_gets_the_standard_422_and_is_kept(
    sqlite_api: RealtimeApi,
) -> None:
    response = sqlite_api.callback(b'{"Body": {"stkCallback": ')
    error = error_of(response, 422, "INVALID_MPESA_PAYLOAD")
    assert "not JSON" in error["message"]
    [kept] = sqlite_api.rows(EVENTS, EVENTS.c.kind == "rejected")
    assert kept["payload"] == '{"Body": {"stkCallback": '
    assert callbacks_counted(sqlite_api, 422) == 1


def test_a_body_far_larger_than_any_callback_is_413_and_nothing_is_kept(
    sqlite_api: RealtimeApi,
) -> None:
    before = sqlite_api.snapshot()
    padding = "x" * (callback_path.MAX_BODY_BYTES + 1)
    response = sqlite_api.callback(json.dumps({"Body": {}, "padding": padding}).encode())
    error = error_of(response, 413, "PAYLOAD_TOO_LARGE")
    assert "1 KiB" in error["message"]
    assert sqlite_api.snapshot() == before


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"secret": "guessed"}, 403),  # refused by the route, and kept as a rejected event
        ([("secret", CALLBACK_SECRET), ("secret", CALLBACK_SECRET)], 200),  # the route decides
    ],
)
def test_what_the_hot_path_does_not_take_is_answered_by_the_route(
    sqlite_api: RealtimeApi, params: Any, status: int
) -> None:
    pushed_session(sqlite_api)
    response = sqlite_api.client.post(
        CALLBACK, params=params, json=stk_callback(CHECKOUT, amount=2500)
    )
    assert response.status_code == status, response.text
    assert response.headers["X-Request-ID"].startswith("req_")
    assert len(sqlite_api.rows(EVENTS)) == 1


def test_a_database_failure_is_a_500_in_the_standard_body_without_internals(
    api: RealtimeApi,
) -> None:
    with api.db() as db:
        db.execute(text("DROP TABLE mpesa_events"))
    response = api.callback(stk_callback(CHECKOUT, amount=2500))
    error = error_of(response, 500, "INTERNAL_ERROR")
    assert "mpesa_events" not in response.text
    assert "request id" in error["message"]


def test_the_hot_path_answers_on_its_own_without_fastapi(sqlite_api: RealtimeApi) -> None:
    pushed_session(sqlite_api)
    body = json.dumps(stk_callback(CHECKOUT, amount=2500)).encode()
    sent: list[MutableMapping[str, Any]] = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": CALLBACK,
        "query_string": f"secret={CALLBACK_SECRET}".encode(),
        "headers": [(b"content-type", b"application/json")],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    handled = asyncio.run(callback_path.handle(sqlite_api.app, scope, receive, send))
    assert handled is True
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"]) == {"ResultCode": 0, "ResultDesc": "Accepted"}
    assert len(sqlite_api.rows(EVENTS, EVENTS.c.authenticated.is_(True))) == 1
