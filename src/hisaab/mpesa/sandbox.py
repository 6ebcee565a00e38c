"""A Daraja-compatible sandbox as an ASGI app: `create_sandbox(...) -> FastAPI`.

Speaks Daraja's protocol (OAuth, STK Push and Query, Transaction Status, C2B register and
simulate) and posts callbacks, Results and C2B confirmations to the URLs it is given, after
`callback_delay_ms`, like Safaricom does. Scenarios (see `sandbox_scenarios`) decide what
happens to each STK Push. Mount it in-process (`app.mount("/daraja", create_sandbox())`) or
run it alone: `hisaab sandbox --port 8100`.

Control endpoints, not part of Daraja:

    POST   /sandbox/scenarios      {"phone": "2547...", "scenario": "cancelled"} for one payer,
                                   {"scenario": "timeout"} for everyone else,
                                   a null scenario clears the choice
    GET    /sandbox/scenarios      the choices and the last-digit rule
    DELETE /sandbox/scenarios      back to the last-digit rule
    GET    /sandbox/callbacks      what was posted (?kind=stk_callback&reference=ws_CO_...)
    GET    /sandbox/stats          how many OAuth, STK Push, ... requests were received
    POST   /sandbox/tokens/revoke  invalidate every issued token (clients must fetch anew)
    POST   /sandbox/reset          forget pushes, payments, scenarios, the log and counters
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import datetime as dt
import logging
import secrets
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hisaab.mpesa.protocol import (
    C2B_REGISTER_PATH,
    C2B_SIMULATE_PATH,
    OAUTH_PATH,
    PROCESSING_ERROR_CODE,
    PROCESSING_MESSAGE,
    STK_PUSH_PATH,
    STK_QUERY_PATH,
    TRANSACTION_STATUS_PATH,
)
from hisaab.mpesa.sandbox_checks import (
    Refusal,
    check_password,
    check_push,
    check_register,
    check_simulate,
    check_status,
    invalid,
)
from hisaab.mpesa.sandbox_control import add_control_routes
from hisaab.mpesa.sandbox_scenarios import (
    Paid,
    Scenario,
    c2b_body,
    hashed_msisdn,
    masked_msisdn,
    new_receipt,
    status_result_body,
    stk_callback_body,
)
from hisaab.mpesa.sandbox_state import C2BUrls, Push, SandboxConfig, SandboxState

log = logging.getLogger("hisaab.mpesa.sandbox")


def _request_id() -> str:
    return f"{secrets.randbelow(9000) + 1000}-{secrets.randbelow(9 * 10**7) + 10**7}-1"


def refuse(refusal: Refusal) -> JSONResponse:
    body = {
        "requestId": _request_id(),
        "errorCode": refusal.error_code,
        "errorMessage": refusal.error_message,
    }
    return JSONResponse(body, status_code=refusal.status)


_INVALID_TOKEN = Refusal(401, "404.001.03", "Invalid Access Token")


class Delivery:
    """Posts bodies to callers' URLs in background tasks and logs every attempt."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.tasks: set[asyncio.Task[None]] = set()

    def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()

    def later(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def post(self, kind: str, reference: str, url: str, body: dict[str, Any]) -> Any:
        """POST `body` to `url`; returns the decoded answer (None if there was none)."""
        status: int | None = None
        answer: Any = None
        error: str | None = None
        try:
            async with httpx.AsyncClient(timeout=self.state.config.post_timeout_seconds) as client:
                response = await client.post(url, json=body)
            status = response.status_code
            try:
                answer = response.json()
            except ValueError:
                answer = response.text[:500]
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("sandbox could not post %s to %s: %s", kind, url, error)
        self.state.log_post(
            kind=kind,
            reference=reference,
            url=url,
            body=body,
            status_code=status,
            answer=answer,
            error=error,
        )
        return answer if error is None else None

    async def until(self, moment: float) -> None:
        await asyncio.sleep(max(0.0, moment - time.monotonic()))

    async def stk_result(self, push: Push) -> None:
        await self.until(push.final_at)
        body = stk_callback_body(
            merchant_request_id=push.merchant_request_id,
            checkout_request_id=push.checkout_request_id,
            behaviour=push.behaviour,
            amount_shillings=push.paid_shillings,
            receipt=push.receipt or "",
            phone=push.phone,
            paid_at=push.paid_at,
            rng=push.rng,
        )
        for _ in range(push.behaviour.posts):
            await self.post("stk_callback", push.checkout_request_id, push.callback_url, body)

    async def status_result(self, url: str, conversation_id: str, body: dict[str, Any]) -> None:
        await self.until(time.monotonic() + self.state.config.callback_delay_ms / 1000)
        await self.post("transaction_status_result", conversation_id, url, body)

    async def c2b(
        self, urls: C2BUrls, body: dict[str, Any], paid: Paid, shortcode: str, show_balance: bool
    ) -> None:
        """Validation (when enabled), then the confirmation, which carries the shortcode's
        balance after the payment (or "", as Daraja often sends)."""
        await self.until(time.monotonic() + self.state.config.callback_delay_ms / 1000)
        if self.state.config.c2b_external_validation:
            answer = await self.post("c2b_validation", paid.receipt, urls.validation_url, body)
            code = str(answer.get("ResultCode", "")) if isinstance(answer, dict) else None
            if code is None and urls.response_type.lower() == "cancelled":
                return  # validation unreachable and the shortcode says cancel
            if code is not None and code.strip() != "0":
                return  # the merchant rejected the payment: no confirmation
        self.state.paid[paid.receipt] = paid
        balance = self.state.org_balance_minor.get(shortcode, 0) + paid.amount_shillings * 100
        self.state.org_balance_minor[shortcode] = balance
        if show_balance:
            body = body | {"OrgAccountBalance": f"{balance // 100}.{balance % 100:02d}"}
        await self.post("c2b_confirmation", paid.receipt, urls.confirmation_url, body)


def create_sandbox(config: SandboxConfig | None = None, **overrides: Any) -> FastAPI:
    """The sandbox app; `overrides` replace fields of `config` (e.g. callback_delay_ms=200)."""
    config = dataclasses.replace(config or SandboxConfig(), **overrides)
    if config.default_scenario is not None:
        config = dataclasses.replace(config, default_scenario=Scenario(config.default_scenario))
    state = SandboxState(config)
    delivery = Delivery(state)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        delivery.cancel_all()

    app = FastAPI(title="Hisaab Daraja sandbox", lifespan=lifespan)
    app.state.sandbox = state

    def authorised(request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and state.token_valid(token.strip())

    async def json_object(request: Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    @app.get(OAUTH_PATH)
    async def oauth(request: Request) -> JSONResponse:
        state.count("oauth")
        if request.query_params.get("grant_type") != "client_credentials":
            return refuse(Refusal(400, "400.008.02", "Invalid grant type passed"))
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            key, _, secret = (
                base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            key = secret = ""
        if scheme.lower() != "basic" or (key, secret) != (
            config.consumer_key,
            config.consumer_secret,
        ):
            return refuse(Refusal(400, "400.008.01", "Invalid Authentication passed"))
        token = state.issue_token()
        return JSONResponse({"access_token": token, "expires_in": str(config.token_ttl_seconds)})

    @app.post(STK_PUSH_PATH)
    async def stk_push(request: Request) -> JSONResponse:
        state.count("stk_push")
        if not authorised(request):
            return refuse(_INVALID_TOKEN)
        body = await json_object(request)
        if body is None:
            return refuse(invalid("JSON"))
        checked = check_push(body, config)
        if isinstance(checked, Refusal):
            return refuse(checked)
        push = state.accept_push(
            phone=checked.phone,
            amount_shillings=checked.amount_shillings,
            callback_url=checked.callback_url,
            account_reference=checked.account_reference,
            transaction_type=checked.transaction_type,
            now=dt.datetime.now(dt.UTC),
        )
        delivery.later(delivery.stk_result(push))
        message = "Success. Request accepted for processing"
        return JSONResponse(
            {
                "MerchantRequestID": push.merchant_request_id,
                "CheckoutRequestID": push.checkout_request_id,
                "ResponseCode": "0",
                "ResponseDescription": message,
                "CustomerMessage": message,
            }
        )

    @app.post(STK_QUERY_PATH)
    async def stk_query(request: Request) -> JSONResponse:
        state.count("stk_query")
        if not authorised(request):
            return refuse(_INVALID_TOKEN)
        body = await json_object(request)
        if body is None:
            return refuse(invalid("JSON"))
        refusal = check_password(body, config)
        if refusal is not None:
            return refuse(refusal)
        push = state.pushes.get(str(body.get("CheckoutRequestID", "")).strip())
        if push is None:
            return refuse(invalid("CheckoutRequestID"))
        if not state.is_final(push):
            return refuse(Refusal(500, PROCESSING_ERROR_CODE, PROCESSING_MESSAGE))
        return JSONResponse(
            {
                "ResponseCode": "0",
                "ResponseDescription": "The service request has been accepted successsfully",
                "MerchantRequestID": push.merchant_request_id,
                "CheckoutRequestID": push.checkout_request_id,
                "ResultCode": str(push.behaviour.result_code),
                "ResultDesc": push.behaviour.query_desc,
            }
        )

    @app.post(TRANSACTION_STATUS_PATH)
    async def transaction_status(request: Request) -> JSONResponse:
        state.count("transaction_status")
        if not authorised(request):
            return refuse(_INVALID_TOKEN)
        body = await json_object(request)
        if body is None:
            return refuse(invalid("JSON"))
        checked = check_status(body, config)
        if isinstance(checked, Refusal):
            return refuse(checked)
        rng = state.rng("status")
        originator = f"{rng.randint(1000, 99999)}-{rng.randint(10**7, 10**8 - 1)}-1"
        conversation = f"AG_{dt.datetime.now(dt.UTC):%Y%m%d}_{rng.getrandbits(80):020x}"
        result = status_result_body(
            originator_conversation_id=originator,
            conversation_id=conversation,
            receipt=checked.receipt,
            paid=state.paid.get(checked.receipt),
            credentials_ok=checked.credentials_ok,
            shortcode=config.shortcode,
            occasion=checked.occasion,
            rng=rng,
        )
        delivery.later(delivery.status_result(checked.result_url, conversation, result))
        return JSONResponse(
            {
                "OriginatorConversationID": originator,
                "ConversationID": conversation,
                "ResponseCode": "0",
                "ResponseDescription": "Accept the service request successfully.",
            }
        )

    async def c2b_register(request: Request) -> JSONResponse:
        state.count("c2b_register")
        if not authorised(request):
            return refuse(_INVALID_TOKEN)
        body = await json_object(request)
        if body is None:
            return refuse(invalid("JSON"))
        checked = check_register(body)
        if isinstance(checked, Refusal):
            return refuse(checked)
        state.c2b_urls[checked.shortcode] = C2BUrls(
            checked.confirmation_url, checked.validation_url, checked.response_type
        )
        return JSONResponse(
            {
                "OriginatorCoversationID": _request_id(),
                "ResponseCode": "0",
                "ResponseDescription": "Success",
            }
        )

    async def c2b_simulate(request: Request, *, hashed: bool) -> JSONResponse:
        state.count("c2b_simulate")
        if not authorised(request):
            return refuse(_INVALID_TOKEN)
        body = await json_object(request)
        if body is None:
            return refuse(invalid("JSON"))
        checked = check_simulate(body, set(state.c2b_urls))
        if isinstance(checked, Refusal):
            return refuse(checked)
        rng = state.rng("c2b")
        now = dt.datetime.now(dt.UTC)
        paid = Paid(new_receipt(rng), checked.amount_shillings, checked.phone, now, "Pay Bill")
        request_body = c2b_body(
            trans_id=paid.receipt,
            command_id=checked.command_id,
            paid_at=now,
            amount_shillings=checked.amount_shillings,
            shortcode=checked.shortcode,
            bill_ref=checked.bill_ref,
            msisdn=hashed_msisdn(checked.phone) if hashed else masked_msisdn(checked.phone),
            rng=rng,
        )
        urls = state.c2b_urls[checked.shortcode]
        show_balance = state.sequence % 2 == 0  # every other confirmation, like "" in the wild
        delivery.later(delivery.c2b(urls, request_body, paid, checked.shortcode, show_balance))
        return JSONResponse(
            {
                "OriginatorCoversationID": _request_id(),
                "ResponseCode": "0",
                "ResponseDescription": "Accept the service request successfully.",
            }
        )

    for version in ("v1", "v2"):
        path = C2B_REGISTER_PATH.replace("/v1/", f"/{version}/")
        app.add_api_route(path, c2b_register, methods=["POST"])

    @app.post(C2B_SIMULATE_PATH)
    async def c2b_simulate_v1(request: Request) -> JSONResponse:
        return await c2b_simulate(request, hashed=True)  # C2B v1 sends a SHA-256 of the MSISDN

    @app.post(C2B_SIMULATE_PATH.replace("/v1/", "/v2/"))
    async def c2b_simulate_v2(request: Request) -> JSONResponse:
        return await c2b_simulate(request, hashed=False)  # C2B v2 masks it: 25470****149

    add_control_routes(app, state, on_reset=delivery.cancel_all)
    return app
