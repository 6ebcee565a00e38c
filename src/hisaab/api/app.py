"""The FastAPI application factory: settings, database, middleware, errors and routes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from hisaab import __version__
from hisaab.api import errors
from hisaab.api.ratelimit import make_limiter
from hisaab.api.routes import auth, exceptions, health, jobs, overview
from hisaab.config import Settings, get_settings
from hisaab.errors import InputError
from hisaab.logs import request_id_var
from hisaab.overview.cache import make_cache
from hisaab.redis_client import make_client
from hisaab.storage.engine import make_engine

REQUEST_ID_HEADER = "X-Request-ID"


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    if settings.jwt_secret is None or len(settings.jwt_secret.get_secret_value()) < 32:
        raise InputError(
            "HISAAB_JWT_SECRET is not set (or shorter than 32 characters, RFC 7518 3.2)",
            expected="a long random secret, e.g. from `openssl rand -hex 32`",
        )
    app = FastAPI(title="Hisaab", version=__version__, docs_url="/docs")
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.database_url)
    app.state.sessions = sessionmaker(app.state.engine, expire_on_commit=False)
    app.state.redis = make_client(settings.redis_url) if settings.redis_url else None
    app.state.login_limiter = make_limiter(app.state.redis)
    app.state.overview_cache = make_cache(settings.overview_cache_seconds, app.state.redis)
    registry = CollectorRegistry()
    app.state.metrics = registry
    requests = Counter(
        "hisaab_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "hisaab_http_request_seconds", "HTTP request latency", ["route"], registry=registry
    )

    @app.middleware("http")
    async def request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request.state.request_id = given if 0 < len(given) <= 128 else f"req_{uuid.uuid4().hex}"
        request_id_var.set(request.state.request_id)  # each request runs in its own context
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        requests.labels(request.method, route, str(response.status_code)).inc()
        latency.labels(route).observe(time.perf_counter() - started)
        response.headers[REQUEST_ID_HEADER] = request.state.request_id
        return response

    errors.install(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(jobs.router)
    app.include_router(exceptions.router)
    app.include_router(overview.router)
    return app
