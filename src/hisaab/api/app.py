"""The FastAPI application factory: settings, database, middleware, errors and routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Receive, Scope, Send

from hisaab import __version__
from hisaab.api import callback_path, errors, initiation_path
from hisaab.api.access import AccessLog
from hisaab.api.capacity import Capacity, DbGate
from hisaab.api.context import RequestContext
from hisaab.api.ratelimit import make_limiter
from hisaab.api.routes import (
    adjustments,
    auth,
    disputes,
    exceptions,
    health,
    jobs,
    merchant_portal,
    merchants,
    mpesa,
    overview,
    realtime,
    refunds,
    settlements,
)
from hisaab.auth.standing import UserStanding
from hisaab.auth.tokens import VerifiedTokens
from hisaab.config import Settings, get_settings
from hisaab.errors import InputError
from hisaab.overview.cache import make_cache
from hisaab.pubsub import FanoutConfig, FanoutError, Hub, Subscriber
from hisaab.pubsub import configure as configure_publisher
from hisaab.pubsub.publisher import aclose_default as aclose_publisher
from hisaab.queue.jobs import enqueued_in
from hisaab.realtime.stats import Remembered as RememberedStats
from hisaab.redis_client import make_client
from hisaab.storage.engine import make_engine
from hisaab.storage.group_commit import GroupCommit
from hisaab.storage.models import utcnow

logger = logging.getLogger("hisaab.api")


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    if settings.jwt_secret is None or len(settings.jwt_secret.get_secret_value()) < 32:
        raise InputError(
            "HISAAB_JWT_SECRET is not set (or shorter than 32 characters, RFC 7518 3.2)",
            expected="a long random secret, e.g. from `openssl rand -hex 32`",
        )
    app = HisaabAPI(title="Hisaab", version=__version__, docs_url="/docs", lifespan=_lifespan)
    app.state.settings = settings
    capacity = Capacity(threads=settings.api_threads, request_sessions=settings.api_db_sessions)
    app.state.capacity = capacity
    app.state.db_gate = DbGate(capacity.request_sessions)
    app.state.engine = engine or make_engine(
        settings.database_url,
        pool_connections=capacity.pool_connections,
        pool_timeout=settings.db_pool_timeout_seconds,
    )
    app.state.sessions = sessionmaker(app.state.engine, expire_on_commit=False)
    app.state.tokens = VerifiedTokens(settings.jwt_secret.get_secret_value())
    app.state.user_standing = UserStanding(
        app.state.sessions, ttl_seconds=settings.auth_cache_seconds
    )
    app.state.redis = make_client(settings.redis_url) if settings.redis_url else None
    app.state.login_limiter = make_limiter(app.state.redis)
    app.state.overview_cache = make_cache(settings.overview_cache_seconds, app.state.redis)
    app.state.realtime_stats = RememberedStats(settings.realtime_stats_cache_seconds)
    registry = CollectorRegistry()
    app.state.metrics = registry
    requests = Counter(
        "hisaab_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "hisaab_http_request_seconds", "HTTP request latency", ["route"], registry=registry
    )

    app.state.http_metrics = (requests, latency)
    app.state.access_log = AccessLog() if settings.access_log else None
    app.add_middleware(
        RequestContext, requests=requests, latency=latency, access_log=app.state.access_log
    )
    errors.install(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(jobs.router)
    app.include_router(exceptions.router)
    app.include_router(merchants.router)
    app.include_router(settlements.router)
    app.include_router(refunds.router)
    app.include_router(adjustments.router)
    app.include_router(disputes.router)
    app.include_router(merchant_portal.router)
    app.include_router(overview.router)
    app.include_router(mpesa.router)
    app.include_router(realtime.router)
    app.include_router(realtime.ws_router)
    # Real-time fan-out: this process publishes on the transport its settings choose, and its
    # WebSocket clients (the hub) receive what any process publishes (see _lifespan).
    app.state.fanout = FanoutConfig.from_settings(settings)
    configure_publisher(app.state.fanout)
    app.state.hub = Hub(cursor_of=_result_cursor, resync=_resync_message)
    # Callbacks are written by group commit; an in-process worker (hisaab serve --with-worker,
    # the demo) is woken as soon as a commit has queued work for it, and only then.
    app.state.wake_worker = None
    app.state.intake = GroupCommit(app.state.sessions, after_commit=lambda db: _wake(app, db))
    return app


class HisaabAPI(FastAPI):
    """The FastAPI application, with its hot paths (STK callbacks, payment initiation) served
    ahead of its stack."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if callback_path.wants(scope) and await callback_path.handle(self, scope, receive, send):
            return
        token = initiation_path.wants(scope)
        if token is not None:
            await initiation_path.handle(self, scope, receive, send, token)
            return
        await super().__call__(scope, receive, send)


def _wake(app: FastAPI, committed: Session) -> None:
    wake = app.state.wake_worker
    if wake is not None and enqueued_in(committed):
        wake()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Subscribe this process's WebSocket hub to the fan-out, and send heartbeats, while up.

    A fan-out transport that is down at start-up (the database, Redis) does not stop the API
    from serving (and /health from saying what is wrong): subscribing is retried meanwhile.
    """
    # Thread-pool calls of this event loop, capped so that the pool always has a connection
    # for each (hisaab.api.capacity).
    to_thread.current_default_thread_limiter().total_tokens = app.state.capacity.threads
    hub: Hub = app.state.hub
    app.state.subscriber = None
    # What this lifespan subscribes, it stops: app.state only shows it, and another lifespan
    # of the same application (a second TestClient) may have replaced it there meanwhile.
    started: list[Subscriber] = []
    tasks = [asyncio.create_task(_heartbeat(hub, app.state.settings.ws_heartbeat_seconds))]
    # Subscribed before serving, so a client never misses what is published once it is told
    # `connected`; only if that fails does a background task keep trying.
    if not await _try_subscribe(app, hub, started, retry_in=None):
        tasks.append(asyncio.create_task(_subscribe(app, hub, started)))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for subscriber in started:
            await subscriber.stop()
        await aclose_publisher()  # what publish_now opened on this event loop
        await asyncio.to_thread(app.state.intake.stop)
        daraja = getattr(app.state, "daraja", None)
        if daraja is not None:
            app.state.daraja = None
            await daraja.aclose()


async def _try_subscribe(
    app: FastAPI, hub: Hub, started: list[Subscriber], *, retry_in: float | None
) -> bool:
    subscriber = Subscriber(app.state.fanout, on_message=lambda message: _relay(hub, message))
    try:
        await subscriber.start()
    except FanoutError as exc:
        later = f"retrying in {retry_in:.1f} s" if retry_in else "retrying in the background"
        logger.error("real-time fan-out unavailable, %s: %s", later, exc)
        return False
    except asyncio.CancelledError:
        await subscriber.stop()  # shut down mid-connect: close what was opened
        raise
    started.append(subscriber)
    app.state.subscriber = subscriber
    return True


async def _subscribe(app: FastAPI, hub: Hub, started: list[Subscriber]) -> None:
    delay = 0.5
    while not await _try_subscribe(app, hub, started, retry_in=delay):
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


def _result_cursor(message: Mapping[str, Any]) -> int | None:
    """A real-time result's id: where a WebSocket client that fell behind fetches from."""
    if message.get("type") != "reconciliation_result":
        return None
    data = message.get("data")
    cursor = data.get("resultId") if isinstance(data, Mapping) else None
    return cursor if isinstance(cursor, int) else None


def _resync_message(after: int | None, missed: int, reason: str) -> dict[str, Any]:
    """What a WebSocket client that fell behind is told: fetch the results after `after`
    (skipping those it has), then carry on with the stream."""
    start = after if after is not None else 0
    return {
        "type": "resync",
        "after": start,
        "missed": missed,
        "reason": reason,
        "fetch": f"/api/real-time-reconciliation/results?after={start}",
        "timestamp": utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def _relay(hub: Hub, message: dict[str, Any]) -> None:
    hub.broadcast(message)


async def _heartbeat(hub: Hub, every: float) -> None:
    """A heartbeat to every WebSocket client, so dashboards and proxies see a live link."""
    while True:
        await asyncio.sleep(every)
        hub.broadcast({"type": "heartbeat", "timestamp": utcnow().isoformat()})
