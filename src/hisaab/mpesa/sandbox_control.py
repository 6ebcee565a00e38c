"""The sandbox's own control endpoints (not Daraja's): scenarios, the post log, counters.

Tests and demos use them to decide what the next STK Push of a payer does and to see what
the sandbox posted. Documented in `sandbox.py` and docs/mpesa.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from hisaab.errors import InputError
from hisaab.mpesa.sandbox_scenarios import DIGIT_RULE, Scenario
from hisaab.mpesa.sandbox_state import SandboxState

_SCENARIOS = ", ".join(s.value for s in Scenario)


def _problem(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=422)


def _scenarios(state: SandboxState) -> dict[str, Any]:
    return {
        "default": state.default_scenario,
        "by_phone": dict(state.scenarios_by_phone),
        "digit_rule": {digit: scenario.value for digit, scenario in DIGIT_RULE.items()},
    }


def add_control_routes(
    app: FastAPI, state: SandboxState, on_reset: Callable[[], None] = lambda: None
) -> None:
    """`on_reset` runs on POST /sandbox/reset (the app cancels posts still waiting to go)."""

    @app.post("/sandbox/scenarios")
    async def set_scenario(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "scenario" not in body:
            return _problem('expected {"phone": "2547...", "scenario": "..."} or {"scenario": ...}')
        raw = body["scenario"]
        if raw is not None and raw not in {s.value for s in Scenario}:
            return _problem(f"unknown scenario {raw!r}; one of {_SCENARIOS}, or null")
        phone = body.get("phone")
        if phone is not None and not isinstance(phone, str | int):
            return _problem("phone must be a string such as 254708374149")
        try:
            state.set_scenario(
                None if phone is None else str(phone), None if raw is None else Scenario(raw)
            )
        except InputError as exc:
            return _problem(exc.describe())
        return JSONResponse(_scenarios(state))

    @app.get("/sandbox/scenarios")
    async def get_scenarios() -> JSONResponse:
        return JSONResponse(_scenarios(state))

    @app.delete("/sandbox/scenarios")
    async def clear_scenarios() -> JSONResponse:
        state.scenarios_by_phone.clear()
        state.default_scenario = state.config.default_scenario
        return JSONResponse(_scenarios(state))

    @app.get("/sandbox/callbacks")
    async def callbacks(kind: str | None = None, reference: str | None = None) -> JSONResponse:
        posted = [
            entry
            for entry in state.posted
            if (kind is None or entry["kind"] == kind)
            and (reference is None or entry["reference"] == reference)
        ]
        return JSONResponse(posted)

    @app.get("/sandbox/stats")
    async def stats() -> JSONResponse:
        return JSONResponse(dict(state.counts))

    @app.post("/sandbox/tokens/revoke")
    async def revoke_tokens() -> JSONResponse:
        revoked = len(state.tokens)
        state.tokens.clear()
        return JSONResponse({"revoked": revoked})

    @app.post("/sandbox/reset")
    async def reset() -> JSONResponse:
        on_reset()
        state.reset()
        return JSONResponse({"reset": True})
