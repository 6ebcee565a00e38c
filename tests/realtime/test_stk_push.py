"""Sending an STK Push: what the session says when Daraja answers, refuses, or misbehaves.

Daraja here is a small stand-in served over HTTP on loopback, answering as Safaricom's API
does, because the cases are ones a real Daraja (or Hisaab's sandbox) does not produce on
demand: an answer that names a CheckoutRequestID another session holds, an answer that takes
its time.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Any

import pytest
from realtime_support import DARAJA, RealtimeApi, serve
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hisaab.realtime.repository import EVENTS, SESSIONS

CHECKOUT = "ws_CO_061220261030001234"


def daraja(answer: Callable[[Request], Any]) -> Starlette:
    """Daraja's OAuth, and `answer(request)` (a response, or an awaitable of one) for the
    rest."""

    async def handle(request: Request) -> Response:
        if request.url.path == "/oauth/v1/generate":
            return JSONResponse({"access_token": "t0k3n", "expires_in": "3599"})
        result = answer(request)
        if asyncio.iscoroutine(result):
            result = await result
        assert isinstance(result, Response)
        return result

    return Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST"])])


def accepted(checkout: str = CHECKOUT) -> Response:
    return JSONResponse(
        {
            "MerchantRequestID": "29115-34620561-1",
            "CheckoutRequestID": checkout,
            "ResponseCode": "0",
            "ResponseDescription": "Success. Request accepted for processing",
            "CustomerMessage": "Success. Request accepted for processing",
        }
    )


@pytest.fixture
def pushing_api(
    make_api: Callable[..., AbstractContextManager[RealtimeApi]],
) -> Iterator[Callable[[Starlette], RealtimeApi]]:
    """The API on SQLite, its Daraja client talking to the stand-in the test gives."""
    with ExitStack() as stack:

        def with_daraja(stand_in: Starlette) -> RealtimeApi:
            url = stack.enter_context(serve(stand_in))
            return stack.enter_context(
                make_api(
                    mpesa_base_url=url,
                    mpesa_consumer_key=DARAJA["mpesa_consumer_key"],
                    mpesa_consumer_secret=DARAJA["mpesa_consumer_secret"],
                    mpesa_passkey=DARAJA["mpesa_passkey"],
                    mpesa_callback_url="https://hisaab.test",
                )
            )

        yield with_daraja


def push(api: RealtimeApi, session_id: str) -> Any:
    return api.client.post(
        "/api/mpesa/stkpush", json={"sessionId": session_id}, headers=api.headers("sp-ops")
    )


def test_an_accepted_push_puts_the_session_in_processing_with_its_checkout_id(
    pushing_api: Callable[[Starlette], RealtimeApi],
) -> None:
    api = pushing_api(daraja(lambda _request: accepted()))
    session_id = str(api.new_session()["sessionId"])
    response = push(api, session_id)
    assert response.status_code == 200, response.text
    row = api.row(session_id)
    assert (row["status"], row["checkout_request_id"]) == ("processing", CHECKOUT)


def test_a_checkout_id_another_session_holds_is_a_502_and_fails_the_session(
    pushing_api: Callable[[Starlette], RealtimeApi],
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
    pushing_api: Callable[[Starlette], RealtimeApi],
) -> None:
    refusal = {"requestId": "r-1", "errorCode": "400.002.02", "errorMessage": "Bad Request"}
    api = pushing_api(daraja(lambda _request: JSONResponse(refusal, status_code=400)))
    session_id = str(api.new_session()["sessionId"])
    response = push(api, session_id)
    assert response.status_code == 502
    assert api.row(session_id)["status"] == "pending"
    with api.db() as db:
        note = db.scalar(select(EVENTS.c.note).where(EVENTS.c.session_id == session_id))
    assert note is not None and "400.002.02" in note


def test_waiting_for_daraja_holds_no_database_connection(
    pushing_api: Callable[[Starlette], RealtimeApi],
) -> None:
    """While Daraja takes its time, the push holds no pooled connection (nor, on SQLite,
    the write lock): other requests go on."""
    answered = threading.Event()
    seen: list[int] = []
    api_box: list[RealtimeApi] = []

    async def slow(_request: Request) -> Response:
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
    result: list[Any] = []
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
