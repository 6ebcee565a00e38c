"""The real-time reconciliation API: REST for admins, and the live WebSocket.

    GET  /api/real-time-reconciliation/stats
    POST /api/real-time-reconciliation/session/{sessionId}   reconcile now, answer the result
    POST /api/real-time-reconciliation/bulk                  reconcile several now
    POST /api/real-time-reconciliation/queue/{sessionId}     reconcile in the background
    GET  /api/real-time-reconciliation/active
    GET  /api/real-time-reconciliation/results?after=<resultId>   results since a cursor
    WS   /ws/real-time-reconciliation?token=<jwt>

Bodies and messages follow the seed. Every route needs `realtime:admin` (the admin role).
Results reach WebSocket clients through the fan-out (hisaab.pubsub): a worker's commit, in
any process, is broadcast to the clients of every API process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from hisaab.api.deps import Router, SessionDep, require
from hisaab.audit.log import record as audit
from hisaab.auth.roles import REALTIME_ADMIN
from hisaab.auth.tokens import Claims, verify_token
from hisaab.errors import HisaabError, NotFound
from hisaab.pubsub import Hub
from hisaab.queue.jobs import enqueue
from hisaab.realtime import repository as repo
from hisaab.realtime import service, stats
from hisaab.storage.models import utcnow

logger = logging.getLogger("hisaab.realtime.ws")
router = Router(prefix="/api/real-time-reconciliation", tags=["real-time"])
ws_router = APIRouter()

Admin = Annotated[Claims, Depends(require(REALTIME_ADMIN))]
MAX_BULK = 500


class TriggerBody(BaseModel):
    # None (absent) means the route's own default: manual_dashboard, or manual_queue.
    trigger: str | None = Field(default=None, min_length=1, max_length=64)


class BulkBody(BaseModel):
    sessionIds: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(  # noqa: N815
        min_length=1, max_length=MAX_BULK
    )
    trigger: str = Field(default="bulk_manual", min_length=1, max_length=64)


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def _stuck_after(request: Request) -> dt.timedelta:
    return dt.timedelta(seconds=request.app.state.settings.realtime_stuck_after_seconds)


def reconcile_now(
    db: Session, session_id: str, trigger: str, stuck_after: dt.timedelta, actor: int
) -> dict[str, Any]:
    results, missing = service.reconcile_by_admin(
        db, [session_id], trigger=trigger, stuck_after=stuck_after, actor=actor
    )
    if missing:
        raise NotFound(f"no payment session {session_id!r}")
    return results[0]


@router.get("/stats")
def get_stats(request: Request, _: Admin) -> dict[str, Any]:
    state = request.app.state
    figures = state.realtime_stats.get(state.sessions, connected_clients=_hub(request).count)
    return {"success": True, "stats": figures}


@router.post("/session/{session_id}")
def reconcile_session(
    session_id: str,
    request: Request,
    session: SessionDep,
    claims: Admin,
    body: TriggerBody | None = None,
) -> dict[str, Any]:
    trigger = (body.trigger if body else None) or "manual_dashboard"
    result = reconcile_now(session, session_id, trigger, _stuck_after(request), claims.user_id)
    return {"success": True, "result": result}


@router.post("/bulk")
def reconcile_bulk(
    body: BulkBody, request: Request, session: SessionDep, claims: Admin
) -> dict[str, Any]:
    results, missing = service.reconcile_by_admin(
        session,
        body.sessionIds,
        trigger=body.trigger,
        stuck_after=_stuck_after(request),
        actor=claims.user_id,
    )
    counts: dict[str, int] = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return {
        "success": True,
        "results": results,
        "summary": {"requested": len(body.sessionIds), "processed": len(results), **counts},
        "notFound": missing,
    }


@router.post("/queue/{session_id}", status_code=202)
def queue_session(
    session_id: str, session: SessionDep, claims: Admin, body: TriggerBody | None = None
) -> dict[str, Any]:
    if repo.session_row(session, session_id) is None:
        raise NotFound(f"no payment session {session_id!r}")
    trigger = (body.trigger if body else None) or "manual_queue"
    job = enqueue(
        session,
        service.RECONCILE_JOB,
        {"session_id": session_id, "trigger": trigger, "received_at": utcnow().isoformat()},
    )
    audit(
        session,
        actor_id=claims.user_id,
        action="realtime.queue",
        entity="payment_session",
        entity_id=session_id,
        details={"trigger": trigger, "queue_job": job.id},
    )
    _active, queued = stats.queue_figures(session)
    return {"success": True, "queued": True, "sessionId": session_id, "queueLength": queued}


@router.get("/results")
def get_results(
    session: SessionDep,
    _: Admin,
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Results with a `resultId` above `after`, oldest first: how a client that was sent a
    `resync` (or reconnected) fetches what it missed. Page on with `nextAfter`."""
    found = repo.results_after(session, after, limit)
    results = [
        {"type": "reconciliation_result", "data": service.stored_result_message(r, row)}
        for r, row in found
    ]
    last = found[-1][0]["id"] if found else None
    return {
        "success": True,
        "results": results,
        "nextAfter": last if len(found) == limit else None,
        "lastResultId": last if last is not None else after,
    }


@router.get("/active")
def get_active(request: Request, session: SessionDep, _: Admin) -> dict[str, Any]:
    active, queued = stats.queue_figures(session)
    return {
        "success": True,
        "activeReconciliations": active,
        "queueLength": queued,
        "connectedClients": _hub(request).count,
    }


# --- WebSocket --------------------------------------------------------------------------


def _authenticate(websocket: WebSocket, token: str | None) -> Claims:
    """The admin behind `token`; HisaabError (401/403) otherwise."""
    from hisaab.errors import Forbidden, Unauthenticated

    if not token:
        raise Unauthenticated("a token is required: ?token=<jwt>")
    settings = websocket.app.state.settings
    claims = verify_token(token, settings.jwt_secret.get_secret_value())
    websocket.app.state.user_standing.check(claims)
    if REALTIME_ADMIN not in claims.permissions:
        raise Forbidden(f"the {claims.role} role may not watch real-time reconciliation")
    return claims


def _now_iso() -> str:
    return utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")


@ws_router.websocket("/ws/real-time-reconciliation")
async def realtime_socket(websocket: WebSocket, token: str | None = None) -> None:
    try:
        claims = await run_in_threadpool(_authenticate, websocket, token)
    except HisaabError as exc:
        # Closing before accepting answers the handshake with HTTP 403.
        await websocket.close(code=1008, reason=exc.message[:120])
        return
    await websocket.accept()
    lock = asyncio.Lock()

    async def send(text: str) -> None:
        async with lock:  # replies and broadcasts never interleave on the socket
            await websocket.send_text(text)

    async def closed_by_hub(reason: str) -> None:
        logger.warning("closing WebSocket of user %s: %s", claims.user_id, reason)
        await websocket.close(code=1013, reason=reason[:120])

    hub: Hub = websocket.app.state.hub
    client_id = f"c{id(websocket):x}"
    await send(
        json.dumps(
            {
                "type": "connected",
                "clientId": client_id,
                "message": "Connected to real-time reconciliation service",
                "timestamp": _now_iso(),
            }
        )
    )
    client = hub.register(send, on_close=closed_by_hub)
    try:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                break
            text = frame.get("text")
            if text is None:  # a binary frame: answered, and the connection stays open
                reply: dict[str, Any] | None = {
                    "type": "error",
                    "message": "messages must be JSON objects sent as text frames",
                    "timestamp": _now_iso(),
                }
            else:
                reply = await _answer(websocket, claims, text)
            if reply is not None:
                await send(json.dumps(reply, default=str))
    except WebSocketDisconnect:
        pass
    finally:
        hub.unregister(client)


async def _answer(websocket: WebSocket, claims: Claims, text: str) -> dict[str, Any] | None:
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        return {
            "type": "error",
            "message": "messages must be JSON objects",
            "timestamp": _now_iso(),
        }
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "ping":
        return {"type": "pong", "timestamp": _now_iso()}
    state = websocket.app.state
    if kind == "get_stats":

        def read() -> dict[str, Any]:
            figures: dict[str, Any] = state.realtime_stats.get(
                state.sessions, connected_clients=state.hub.count
            )
            return figures

        return {"type": "reconciliation_stats", "data": await run_in_threadpool(read)}
    if kind == "reconcile_session":
        session_id = message.get("sessionId")
        if not isinstance(session_id, str) or not session_id:
            return {"type": "error", "message": "reconcile_session needs a sessionId"}
        stuck_after = dt.timedelta(seconds=state.settings.realtime_stuck_after_seconds)

        def run() -> dict[str, Any]:
            with state.sessions() as db, db.begin():
                return reconcile_now(db, session_id, "websocket", stuck_after, claims.user_id)

        try:
            await run_in_threadpool(run)
        except HisaabError as exc:
            return {"type": "error", "message": exc.message, "sessionId": session_id}
        return None  # the result reaches every client, this one included, as a broadcast
    return {
        "type": "error",
        "message": f"unknown message type {kind!r}; expected ping, get_stats or reconcile_session",
    }
