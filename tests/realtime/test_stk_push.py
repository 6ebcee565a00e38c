"""Sending an STK Push: what the session says when Daraja answers, refuses, or misbehaves.

Daraja here is a stand-in on httpx's transport, answering as Safaricom's API does, because
the cases are ones a real Daraja (or Hisaab's sandbox) does not produce on demand: an answer
that names a CheckoutRequestID another session holds, an answer that takes its time.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
from realtime_support import DARAJA, RealtimeApi
from sqlalchemy import select

from hisaab.mpesa.client import AsyncDarajaClient
from hisaab.realtime.repository import EVENTS, SESSIONS

CHECKOUT = "ws_CO_061220261030001234"


def daraja(answer: Callable[[httpx.Request], Any]) -> httpx.MockTransport:
    """Daraja's OAuth, and `answer` for everything else."""

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/v1/generate":
            return httpx.Response(200, json={"access_token": "t0k3n", "expires_in": "3599"})
        result = answer(request)
        if asyncio.iscoroutine(result):
            result = await result
        assert isinstance(result, httpx.Response)
        return result

    return httpx.MockTransport(handle)


def accepted(checkout: str = CHECKOUT) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "MerchantRequestID": "29115-34620561-1",
            "CheckoutRequestID": checkout,
            "ResponseCode": "0",
            "ResponseDescription": "Success. Request accepted for processing",
            "CustomerMessage": "Success. Request accepted for processing",
        },
    )


@pytest.fixture
def pushing_api(
    make_api: Callable[..., AbstractContextManager[RealtimeApi]],
) -> Iterator[Callable[[httpx.MockTransport], RealtimeApi]]:
    """The API on SQLite, its Daraja client talking to the transport the test gives."""
    with make_api(
        mpesa_base_url="https://daraja.test",
        mpesa_consumer_key=DARAJA["mpesa_consumer_key"],
        mpesa_consumer_secret=DARAJA["mpesa_consumer_secret"],
        mpesa_passkey=DARAJA["mpesa_passkey"],
        mpesa_callback_url="https://hisaab.test",
    ) as api:

        def with_daraja(transport: httpx.MockTransport) -> RealtimeApi:
            api.app.state.daraja = AsyncDarajaClient.from_settings(
                api.app.state.settings, transport=transport
            )
            return api

        yield with_daraja


def push(api: RealtimeApi, session_id: str) -> httpx.Response:
    response = api.client.post(
        "/api/mpesa/stkpush", json={"sessionId": session_id}, headers=api.headers("sp-ops")
    )
    return response  # type: ignore[return-value]


def test_an_accepted_push_puts_the_session_in_processing_with_its_checkout_id(
    pushing_api: Callable[[httpx.MockTransport], RealtimeApi],
) -> None:
    api = pushing_api(daraja(lambda _request: accepted()))
    session_id = str(api.new_session()["sessionId"])
    response = push(api, session_id)
    assert response.status_code == 200, response.text
    row = api.row(session_id)
    assert (row["status"], row["checkout_request_id"]) == ("processing", CHECKOUT)


def test_a_checkout_id_another_session_holds_is_a_502_and_fails_the_session(
    pushing_api: Callable[[httpx.MockTransport], RealtimeApi],
) -> None:
    """Daraja accepts two pushes with one CheckoutRequestID: the second cannot be tracked."""
    api = pushing_api(daraja(lambda _request: accepted()))
    first = str(api.new_session()["sessionId"])
    second = str(api.new_session()["sessionId"])
    assert push(api, first).status_code == 200

    response = push(api, second)

    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "MPESA_UPSTREAM_ERROR"
    assert CHECKOUT in error["message"] and "another session already holds" in error["message"]
    assert first not in error["message"]  # another session (maybe another merchant's) unnamed
    assert api.row(second)["status"] == "failed"
    assert api.row(second)["checkout_request_id"] is None
    assert api.row(first)["checkout_request_id"] == CHECKOUT  # the first keeps its push
    with api.db() as db:
        [event] = db.execute(
            select(EVENTS.c.note, EVENTS.c.payload).where(
                EVENTS.c.session_id == second, EVENTS.c.kind == "stk_push"
            )
        ).all()
    assert "cannot be tracked" in event.note
    assert json.loads(event.payload)["CheckoutRequestID"] == CHECKOUT


def test_a_refused_push_leaves_the_session_pending_with_the_refusal_kept(
    pushing_api: Callable[[httpx.MockTransport], RealtimeApi],
) -> None:
    refusal = {"requestId": "r-1", "errorCode": "400.002.02", "errorMessage": "Bad Request"}
    api = pushing_api(daraja(lambda _request: httpx.Response(400, json=refusal)))
    session_id = str(api.new_session()["sessionId"])
    response = push(api, session_id)
    assert response.status_code == 502
    assert api.row(session_id)["status"] == "pending"
    with api.db() as db:
        note = db.scalar(select(EVENTS.c.note).where(EVENTS.c.session_id == session_id))
    assert note is not None and "400.002.02" in note


def test_waiting_for_daraja_holds_no_database_connection(
    pushing_api: Callable[[httpx.MockTransport], RealtimeApi],
) -> None:
    """While Daraja takes its time, the push holds no pooled connection (nor, on SQLite,
    the write lock): other requests go on."""
    answered = threading.Event()
    seen: list[int] = []
    api_box: list[RealtimeApi] = []

    async def slow(_request: httpx.Request) -> httpx.Response:
        seen.append(api_box[0].app.state.engine.pool.checkedout())
        for _ in range(200):
            if answered.is_set():
                break
            await asyncio.sleep(0.01)
        return accepted()

    api = pushing_api(daraja(slow))
    api_box.append(api)
    session_id = str(api.new_session()["sessionId"])
    other = str(api.new_session()["sessionId"])
    result: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: result.append(push(api, session_id)))
    thread.start()
    try:
        for _ in range(200):
            if seen:
                break
            threading.Event().wait(0.01)
        # Meanwhile another request reads and writes.
        view = api.client.get(f"/api/sessions/{other}", headers=api.headers("sp-ops"))
        assert view.status_code == 200
        assert api.new_session()["status"] == "pending"
    finally:
        answered.set()
        thread.join(10)
    assert seen == [0]
    assert result[0].status_code == 200
    with api.db() as db:
        status = db.scalar(select(SESSIONS.c.status).where(SESSIONS.c.id == session_id))
    assert status == "processing"
