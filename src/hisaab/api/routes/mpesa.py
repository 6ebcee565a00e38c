"""Payment sessions and the M-Pesa (Daraja) endpoints.

Staff and merchants (JWT):
    POST /api/sessions                    create a payment session
    GET  /api/sessions/{sessionId}        a session with its evidence (phones masked)
    POST /api/mpesa/stkpush               send an STK Push for a session
    POST /api/mpesa/query/{sessionId}     run an STK Push Query now
Safaricom (authenticated by `?secret=` = HISAAB_MPESA_CALLBACK_SECRET, no JWT):
    POST /api/mpesa/callback                       STK callbacks
    POST /api/mpesa/c2b/validation, /confirmation  C2B payments
    POST /api/mpesa/transaction-status/result      Transaction Status results (and /timeout)

Callback bodies are read raw: a payload that cannot be parsed is still kept (hisaab.realtime
.intake). The database work runs on the group-commit writer thread, so the event loop keeps taking
requests and one disk flush serves every callback that arrived meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from hisaab.api.deps import CurrentUser, Router, SessionDep
from hisaab.auth.tokens import Claims
from hisaab.errors import InputError
from hisaab.mpesa.client import AsyncDarajaClient
from hisaab.realtime import intake, sessions
from hisaab.realtime.repository import EVENTS
from hisaab.realtime.rules import masked_phone
from hisaab.realtime.service import session_details
from hisaab.storage.models import utcnow

router = Router(tags=["m-pesa"])

Secret = Annotated[str | None, Query(description="the deployment's callback secret")]
_SESSION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["merchantId", "amount", "phone"],
                    "properties": {
                        "sessionId": {"type": "string", "maxLength": 64},
                        "merchantId": {"type": "string", "maxLength": 32},
                        "amount": {"type": ["number", "string"]},
                        "currency": {"type": "string", "default": "KES"},
                        "phone": {"type": "string"},
                        "accountReference": {"type": "string", "maxLength": 64},
                    },
                }
            }
        },
    }
}
_ANY_JSON = {"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}}


async def _json_object(request: Request) -> dict[str, Any]:
    return json_object(await request.body())


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, numbers with decimals read exactly; InputError if not."""
    try:
        body = json.loads(raw, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"the body is not JSON: {exc}", expected="a JSON object") from None
    except RecursionError:
        raise InputError("the body is nested too deeply", expected="a JSON object") from None
    if not isinstance(body, dict):
        raise InputError("the body must be a JSON object", expected='{"merchantId": ...}')
    return body


def daraja_client_of(state: Any) -> AsyncDarajaClient:
    """The application's Daraja client on this event loop, made on first use (its OAuth token
    is cached; the app's lifespan closes it)."""
    client: AsyncDarajaClient | None = getattr(state, "daraja", None)
    if client is None:
        client = AsyncDarajaClient.from_settings(state.settings)
        state.daraja = client
    return client


def session_view(row: dict[str, Any], events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    view = {
        "sessionId": row["id"],
        "status": row["status"],
        "reconciliationStatus": row["reconciliation_status"],
        **session_details(row),
        "createdAt": row["created_at"].isoformat(),
        "initiatedAt": row["initiated_at"].isoformat() if row["initiated_at"] else None,
    }
    if events is not None:
        view["events"] = events
    return view


def _events(db: Session, row: dict[str, Any]) -> list[dict[str, Any]]:
    about = EVENTS.c.session_id == row["id"]
    if row["checkout_request_id"]:
        about = about | (EVENTS.c.checkout_request_id == row["checkout_request_id"])
    rows = db.execute(
        select(
            EVENTS.c.id,
            EVENTS.c.kind,
            EVENTS.c.received_at,
            EVENTS.c.result_code,
            EVENTS.c.amount_minor,
            EVENTS.c.receipt,
            EVENTS.c.phone,
            EVENTS.c.authenticated,
            EVENTS.c.first_of,
            EVENTS.c.dedupe_key,
            EVENTS.c.note,
        )
        .where(about)
        .order_by(EVENTS.c.id)
    ).mappings()
    return [
        {
            "id": r["id"],
            "kind": r["kind"],
            "receivedAt": r["received_at"].isoformat(),
            "resultCode": r["result_code"],
            "amountMinor": r["amount_minor"],
            "receipt": r["receipt"],
            "phone": masked_phone(r["phone"]) if r["phone"] else None,
            "authenticated": r["authenticated"],
            "repeat": r["dedupe_key"] is not None and r["first_of"] is None,
            "note": r["note"],
        }
        for r in rows
    ]


@router.post("/api/sessions", status_code=201, openapi_extra=_SESSION_BODY)
async def create_session(request: Request, claims: CurrentUser) -> dict[str, Any]:
    return await new_session(request.app.state, await request.body(), claims)


async def new_session(state: Any, raw: bytes, claims: Claims) -> dict[str, Any]:
    """POST /api/sessions, for the route and for its hot path (hisaab.api.initiation_path)."""
    values = sessions.parse_new_session(json_object(raw))
    # Joins the group commit (hisaab.storage.group_commit): sessions created together share
    # one transaction and one flush, and waiting for it holds no thread.
    row: dict[str, Any] = await state.intake.submit_many((values, claims), sessions.create_sessions)
    return session_view(row)


@router.get("/api/sessions/{session_id}")
def get_session(session_id: str, session: SessionDep, claims: CurrentUser) -> dict[str, Any]:
    row = sessions.get_session(session, session_id, claims)
    return session_view(row, _events(session, row))


@router.post("/api/mpesa/stkpush", openapi_extra=_ANY_JSON)
async def stk_push(request: Request, claims: CurrentUser) -> dict[str, Any]:
    return await push_session(request.app.state, await request.body(), claims)


async def push_session(state: Any, raw: bytes, claims: Claims) -> dict[str, Any]:
    """POST /api/mpesa/stkpush, for the route and for its hot path."""
    body = json_object(raw)
    session_id = body.get("sessionId")
    if not isinstance(session_id, str) or not session_id.strip():
        raise InputError("sessionId is required", column="sessionId")
    client = daraja_client_of(state)
    intake = state.intake
    row = await sessions.stk_push(
        intake.submit, intake.submit_many, session_id.strip(), claims, state.settings, client
    )
    return session_view(row)


@router.post("/api/mpesa/query/{session_id}")
async def stk_query(session_id: str, request: Request, claims: CurrentUser) -> dict[str, Any]:
    client = daraja_client_of(request.app.state)
    result = await sessions.query(request.app.state.intake.submit, session_id, claims, client)
    return {"query": result["query"], "session": session_view(result["session"])}


Receiver = Callable[[Session, bytes, Any], intake.Intake]


async def _receive(request: Request, secret: str | None, kind: str, receive: Receiver) -> Any:
    """Keep the payload (whatever it is), then answer once it is committed.

    The write joins the application's group commit (hisaab.storage.group_commit): callbacks
    arriving together share one transaction and one disk flush.
    """
    raw = await request.body()
    received_at = utcnow()
    state = request.app.state
    expected = state.settings.mpesa_callback_secret
    trusted = intake.secret_matches(secret, expected.get_secret_value() if expected else None)

    def keep(db: Session) -> intake.Intake:
        if not trusted:
            return intake.forbidden(db, kind, raw, received_at)
        return receive(db, raw, received_at)

    result: intake.Intake = await state.intake.submit(keep)
    if result.error is not None:
        raise result.error
    return JSONResponse(result.answer)


@router.post("/api/mpesa/callback", openapi_extra=_ANY_JSON)
async def stk_callback(request: Request, secret: Secret = None) -> Any:
    """Authenticated callbacks are normally served ahead of FastAPI (hisaab.api.callback_path),
    batched with those arriving together; this route takes the rest, one at a time."""
    return await _receive(request, secret, "stk_callback", intake.stk_callback)


@router.post("/api/mpesa/c2b/validation", openapi_extra=_ANY_JSON)
async def c2b_validation(request: Request, secret: Secret = None) -> Any:
    return await _receive(request, secret, "c2b_validation", intake.c2b_validation)


@router.post("/api/mpesa/c2b/confirmation", openapi_extra=_ANY_JSON)
async def c2b_confirmation(request: Request, secret: Secret = None) -> Any:
    return await _receive(request, secret, "c2b_confirmation", intake.c2b_confirmation)


@router.post("/api/mpesa/transaction-status/result", openapi_extra=_ANY_JSON)
async def transaction_status_result(request: Request, secret: Secret = None) -> Any:
    return await _receive(request, secret, "transaction_status", intake.transaction_status)


@router.post("/api/mpesa/transaction-status/timeout", openapi_extra=_ANY_JSON)
async def transaction_status_timeout(request: Request, secret: Secret = None) -> Any:
    """Daraja's QueueTimeOutURL: the query timed out in its queue; kept for the record."""
    return await _receive(request, secret, "transaction_status", intake.transaction_status_timeout)
