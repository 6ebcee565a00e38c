"""The one error body every failure is rendered into (the ops platform's format).

{"error": {"code", "message", "details", "timestamp", "requestId", "metadata"}}
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from hisaab.errors import Busy, HisaabError, InputError

# What psycopg says when a text value holds NUL, which PostgreSQL's text types cannot store.
_NUL_REFUSED = "cannot contain NUL (0x00) bytes"

log = logging.getLogger("hisaab.api")


def error_body(
    request: Request,
    *,
    code: str,
    message: str,
    details: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": details,
            "timestamp": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
            "requestId": getattr(request.state, "request_id", None),
            "metadata": metadata or {},
        }
    }


def install(app: FastAPI) -> None:
    @app.exception_handler(HisaabError)
    async def hisaab_error(request: Request, exc: HisaabError) -> JSONResponse:
        metadata: dict[str, Any] = {}
        if isinstance(exc, InputError):
            metadata = {
                k: v
                for k, v in {"file": exc.file, "line": exc.line, "column": exc.column}.items()
                if v is not None
            }
        body = error_body(
            request, code=exc.code, message=exc.message, details=exc.describe(), metadata=metadata
        )
        headers = {"Retry-After": "1"} if isinstance(exc, Busy) else None
        return JSONResponse(body, status_code=exc.http_status, headers=headers)

    @app.exception_handler(PoolTimeout)
    async def no_connection(request: Request, exc: PoolTimeout) -> JSONResponse:
        log.warning("no database connection came free in time", exc_info=exc)
        return await hisaab_error(
            request, Busy("the service is busy: no database connection came free in time")
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"location": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"location": "request", "problem": "invalid"}
        body = error_body(
            request,
            code="INVALID_REQUEST",
            message=f"{first['location']}: {first['problem']}",
            metadata={"problems": problems},
        )
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 401: "UNAUTHENTICATED"}
        body = error_body(
            request, code=codes.get(exc.status_code, "HTTP_ERROR"), message=str(exc.detail)
        )
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(DataError)
    async def unstorable(request: Request, exc: DataError) -> JSONResponse:
        """PostgreSQL refuses text holding NUL (U+0000): that is the caller's input, a 422."""
        if _NUL_REFUSED not in str(exc.orig):
            return await unexpected(request, exc)
        params = [*request.path_params.items(), *request.query_params.items()]
        where = next((name for name, value in params if "\x00" in str(value)), "body")
        refusal = InputError(
            "text with a NUL character (U+0000) cannot be stored",
            column=where,
            expected="text without NUL characters",
        )
        return await hisaab_error(request, refusal)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"request_id": request.state.request_id})
        body = error_body(
            request,
            code="INTERNAL_ERROR",
            message="an internal error occurred; quote the request id when reporting it",
        )
        return JSONResponse(body, status_code=500)
