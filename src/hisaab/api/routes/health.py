"""GET /health (503 when a dependency fails) and GET /metrics (Prometheus).

/health checks the database (SELECT 1) and, when HISAAB_REDIS_URL is set, Redis (PING); the
body lists each check's status, and any unhealthy check makes the answer a 503. Redis being
down degrades the service (the Overview cache and the login limit fall back to in-process) but
is reported, so that a load balancer or an operator sees it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from hisaab import __version__
from hisaab.api.deps import Router

router = Router(tags=["health"])


@router.get("/health")
def health(request: Request) -> JSONResponse:
    checks: dict[str, dict[str, Any]] = {}
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = {"status": "healthy"}
    except Exception as exc:  # any failure of the dependency is what this endpoint reports
        checks["database"] = {"status": "unhealthy", "error": type(exc).__name__}
    client = getattr(request.app.state, "redis", None)
    if client is not None:
        try:
            client.ping()
            checks["redis"] = {"status": "healthy"}
        except Exception as exc:  # as above: a failed PING is the answer, not an error
            checks["redis"] = {"status": "unhealthy", "error": type(exc).__name__}
    healthy = all(c["status"] == "healthy" for c in checks.values())
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "timestamp": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        "service": "hisaab",
        "version": __version__,
        "checks": checks,
    }
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
