"""Property-based fuzzing of the API from its own OpenAPI schema (schemathesis, in-process).

Every operation gets generated requests, valid and invalid, sent by an admin through the ASGI
app. The properties: no request makes the server fail (5xx), and every error answer is the
standard error body of `hisaab.api.errors`.

It runs on SQLite and on PostgreSQL, one application per backend for the whole module (not
the `api` fixture's fresh database per test): hundreds of generated requests per backend
would make this file slow. PostgreSQL gets fewer examples per operation than SQLite: what it
adds is the dialect (types, overflows, constraints), which the first examples reach.

The application is configured like a deployment with M-Pesa: Daraja is Hisaab's own Daraja
sandbox (hisaab.mpesa.sandbox), a real uvicorn server on loopback, so the M-Pesa routes run
their code instead of answering "not configured".
/api/overview* is left out while that area is being written.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import schemathesis
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from conftest import PASSWORD, SECRET, email_of
from hisaab.api.app import create_app
from hisaab.auth import passwords
from hisaab.auth.roles import ROLES
from hisaab.auth.tokens import Claims, issue_token
from hisaab.auth.users import create_user
from hisaab.config import Settings
from hisaab.mpesa.sandbox import create_sandbox
from hisaab.mpesa.sandbox_state import SandboxConfig
from hisaab.storage.engine import make_engine
from hisaab.storage.migrate import upgrade

# Examples per operation and generation mode, per backend.
MAX_EXAMPLES = {"sqlite": 25, "postgresql": 8}
ERROR_FIELDS = {"code", "message", "details", "timestamp", "requestId", "metadata"}
DARAJA = SandboxConfig(
    consumer_key="fuzz-key",
    consumer_secret="fuzz-secret",
    passkey="fuzz-passkey",
    callback_delay_ms=50,
    post_timeout_seconds=1.0,
)

# Found by this file; each mark goes when the bug is fixed (strict: an XPASS fails the run).
# Bugs the fuzzer found and that are fixed: kept as pinned examples in the tests below.
# (Job ids of 2**63 and more used to reach the database and answer 500; on PostgreSQL, whose
# job ids are 32-bit, so did ids from 2**31.)
KNOWN_BUGS: dict[tuple[str, str, str], tuple[pytest.MarkDecorator, ...]] = {}


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port, in a thread; yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            pytest.fail("the Daraja sandbox did not start within 10 s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def daraja_url() -> Iterator[str]:
    with serve(create_sandbox(DARAJA)) as url:
        yield url


@dataclass(frozen=True)
class Deployment:
    """One backend's migrated database with a user per role, and the settings to serve it."""

    backend: str
    settings: Settings
    engine: Engine
    admin_headers: dict[str, str]


@dataclass(frozen=True)
class Target:
    """An application on a deployment, its schema, and an admin's headers."""

    backend: str
    app: FastAPI
    schema: schemathesis.BaseSchema
    admin_headers: dict[str, str]


@contextmanager
def _database(backend: str, root: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{root / 'hisaab.db'}"
        return
    server: str = request.getfixturevalue("postgres_url")
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=list(MAX_EXAMPLES))
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, daraja_url: str
) -> Iterator[Deployment]:
    backend: str = request.param
    root = tmp_path_factory.mktemp(f"fuzz-{backend}")
    with _database(backend, root, request) as url:
        upgrade(url)
        configured = Settings(
            database_url=url,
            jwt_secret=SECRET,
            data_dir=str(root / "data"),
            mpesa_base_url=daraja_url,
            mpesa_consumer_key=SecretStr(DARAJA.consumer_key),
            mpesa_consumer_secret=SecretStr(DARAJA.consumer_secret),
            mpesa_passkey=SecretStr(DARAJA.passkey),
            mpesa_shortcode=DARAJA.shortcode,
            mpesa_callback_url=daraja_url,  # the sandbox's callbacks stay on this machine
            mpesa_callback_secret=SecretStr("fuzz-callback-secret"),
        )
        engine = make_engine(url)
        # Cheap argon2 parameters for the users' hashes: the fuzzing is of the API, not argon2.
        with pytest.MonkeyPatch.context() as patch, sessionmaker(engine).begin() as session:
            patch.setattr(passwords, "_HASHER", PasswordHasher(1, 1024, 1))
            users = {}
            for role in ROLES:
                merchant = "M0001234" if role == "merchant-admin" else None
                users[role] = create_user(
                    session,
                    email=email_of(role),
                    password=PASSWORD,
                    role=role,
                    merchant_id=merchant,
                ).id
        # Issued directly: logging in is tested elsewhere, and costs an argon2 hash here.
        admin = Claims(users["admin"], email_of("admin"), "admin", None)
        headers = {"Authorization": f"Bearer {issue_token(admin, SECRET, 3600)}"}
        try:
            yield Deployment(backend, configured, engine, headers)
        finally:
            engine.dispose()


@pytest.fixture
def target(deployment: Deployment) -> Target:
    """A new application per test on the module's database.

    schemathesis starts an application's lifespan (group commit, fan-out) on its first request
    and ends it when the test ends; the application's lifespan does not start again once
    ended, so each test gets an application of its own (creating one takes milliseconds).
    """
    app = create_app(deployment.settings, engine=deployment.engine)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return Target(deployment.backend, app, schema, deployment.admin_headers)


def _operations() -> list[Any]:
    """Every (method, path, generation mode) to fuzz, known at collection time.

    Reading the schema needs no database (the engine connects lazily), so a throwaway app
    serves. schemathesis' own `from_fixture` parametrisation is not used: with pytest 9 it
    fails on `request.node._nodeid`, which pytest no longer has. Operations without
    parameters or body (/health, /metrics) have no invalid input, so only valid requests.
    """
    throwaway = Settings(database_url="sqlite://", jwt_secret=SECRET)
    paths: dict[str, dict[str, Any]] = create_app(throwaway).openapi()["paths"]
    found = []
    for path, methods in sorted(paths.items()):
        if path.startswith("/api/overview"):
            continue
        for method, spec in sorted(methods.items()):
            has_input = bool(spec.get("parameters") or spec.get("requestBody"))
            for mode in schemathesis.GenerationMode:
                if mode is schemathesis.GenerationMode.NEGATIVE and not has_input:
                    continue
                marks = KNOWN_BUGS.get((method.upper(), path, mode.value), ())
                found.append(pytest.param(method.upper(), path, mode, marks=marks))
    return found


def _reproduction(case: schemathesis.Case, response: Any) -> str:
    return (
        f"{case.method} {case.formatted_path} query={case.query!r} body={case.body!r}"
        f" -> {response.status_code}: {response.text[:500]}"
    )


def _check(case: schemathesis.Case, admin_headers: dict[str, str]) -> None:
    try:
        response = case.call(headers={**(case.headers or {}), **admin_headers})
    except Exception as exc:
        # The in-process transport re-raises what Starlette's ServerErrorMiddleware re-raises
        # after it answered 500 INTERNAL_ERROR: an escaped exception is a 5xx.
        pytest.fail(
            f"{case.method} {case.formatted_path} query={case.query!r} body={case.body!r}"
            f" -> 500 (the app raised {exc!r})"
        )
    assert response.status_code < 500, _reproduction(case, response)
    if response.status_code >= 400:
        body = json.loads(response.text)
        assert set(body) == {"error"}, _reproduction(case, response)
        assert set(body["error"]) == ERROR_FIELDS, _reproduction(case, response)
        assert isinstance(body["error"]["code"], str), _reproduction(case, response)


@pytest.mark.parametrize(("method", "path", "mode"), _operations())
def test_no_server_errors_and_standard_error_bodies(
    method: str, path: str, mode: schemathesis.GenerationMode, target: Target
) -> None:
    operation = target.schema[path][method]

    # derandomize: the same examples every run, so a found bug fails every time, not by luck.
    @settings(
        max_examples=MAX_EXAMPLES[target.backend],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case) -> None:
        _check(case, target.admin_headers)

    fuzz()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/jobs/2147483648"),
        ("POST", "/api/jobs/2147483648/match"),
        ("GET", "/api/jobs/2147483648/matches"),
        ("GET", "/api/jobs/2147483648/exceptions"),
        ("GET", "/api/jobs/9223372036854775808"),
        ("POST", "/api/jobs/9223372036854775808/match"),
        ("GET", "/api/jobs/9223372036854775808/matches"),
        ("GET", "/api/jobs/9223372036854775808/exceptions"),
    ],
)
def test_job_ids_beyond_the_id_column_are_a_422_not_a_500(
    target: Target, method: str, path: str
) -> None:
    with TestClient(target.app, raise_server_exceptions=False) as client:
        response = client.request(method, path, headers=target.admin_headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize("deployment", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    ("method", "path", "body", "where"),
    [
        ("POST", "/api/jobs", {"name": "UPI\x00 15 Jan"}, "body"),
        ("POST", "/api/auth/login", {"email": "ops\x00@hisaab.test", "password": "x"}, "body"),
        ("GET", "/api/sessions/ps%00order", None, "session_id"),
        ("POST", "/api/real-time-reconciliation/bulk", {"sessionIds": ["\x00"]}, "body"),
        ("POST", "/api/real-time-reconciliation/queue/ps%00order", None, "session_id"),
    ],
)
def test_text_postgresql_cannot_store_is_a_422_not_a_500(
    target: Target, method: str, path: str, body: Any, where: str
) -> None:
    """NUL (U+0000) in text used to reach PostgreSQL, which refuses it: a 500."""
    with TestClient(target.app, raise_server_exceptions=False) as client:
        response = client.request(method, path, json=body, headers=target.admin_headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["metadata"]) == ("INVALID_INPUT", {"column": where})
    assert "NUL character" in error["message"]
