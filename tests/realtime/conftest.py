"""The real-time tests' application: a migrated database of each kind, a user per role.

Migrating takes about 0.5 s on SQLite and 1.2 s on PostgreSQL (creating the database, then
Alembic), which over a hundred API tests would dominate the run. So each backend is migrated
once per test process into a template, and every test gets a fresh copy of it: a file copy
on SQLite, `CREATE DATABASE ... TEMPLATE` on PostgreSQL (about 0.15 s). The copies are the
same schema the server's own migration produces; nothing is shared between tests.

`api` runs on both backends (for behaviour that goes through SQL whose dialects differ:
`ON CONFLICT`, `RETURNING`, locking, NOTIFY fan-out); `sqlite_api` is for tests of
rules and message shapes that the backend cannot change.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx2
import psycopg
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from realtime_support import (
    CALLBACK_SECRET,
    DARAJA,
    JWT_SECRET,
    MERCHANT,
    PASSWORD,
    RealtimeApi,
    bound_socket,
    daraja_settings,
    email_of,
    serve,
)

from hisaab.api.app import create_app
from hisaab.auth import passwords
from hisaab.auth.roles import ROLES
from hisaab.auth.users import create_user
from hisaab.config import Settings, get_settings
from hisaab.mpesa.sandbox import create_sandbox
from hisaab.mpesa.sandbox_state import SandboxConfig
from hisaab.storage.migrate import upgrade


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests exercise reconciliation, not argon2: cheap parameters keep logins quick."""
    monkeypatch.setattr(passwords, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024))


@pytest.fixture(autouse=True)
def worker_settings(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set the settings job handlers read from the environment (as `hisaab worker` does).

    Call it with setting names and values; the cached settings are dropped before and after.
    """
    for name in ("HISAAB_MPESA_BASE_URL", "HISAAB_SMTP_HOST", "HISAAB_SMS_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()

    def set_env(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"HISAAB_{name.upper()}", str(value))
        get_settings.cache_clear()

    yield set_env  # type: ignore[misc]
    get_settings.cache_clear()


@pytest.fixture
def through_the_queue(worker_settings: Callable[..., None]) -> None:
    """Events queue their reconciliation for a worker instead of reconciling it at intake
    (HISAAB_REALTIME_RECONCILE_AT_INTAKE=false): for tests of the worker's side of the queue."""
    worker_settings(realtime_reconcile_at_intake="false")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "hisaab.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_url: str) -> str:
    name = f"realtime_template_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    upgrade(postgres_url.rsplit("/", 1)[0] + "/" + name)
    return name


def _sqlite_copy(template: Path, directory: Path) -> str:
    target = directory / "hisaab.db"
    with sqlite3.connect(template) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return f"sqlite:///{target}"


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    return _sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database of each kind Hisaab supports (one per test)."""
    if request.param == "sqlite":
        yield _sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
        return
    server: str = request.getfixturevalue("postgres_url")
    template: str = request.getfixturevalue("postgres_template")
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def settings_for(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "jwt_secret": JWT_SECRET,
        "mpesa_callback_secret": CALLBACK_SECRET,
        "ws_heartbeat_seconds": 3600,  # heartbeats only where a test asks for them
    }
    values.update(overrides)
    return Settings(**values)


def _app_with_users(url: str, **overrides: Any) -> FastAPI:
    app = create_app(settings_for(url, **overrides))
    with app.state.sessions.begin() as session:
        for role in ROLES:
            merchant = MERCHANT if role == "merchant-admin" else None
            create_user(
                session, email=email_of(role), password=PASSWORD, role=role, merchant_id=merchant
            )
    return app


def start_api(url: str, **overrides: Any) -> Iterator[RealtimeApi]:
    app = _app_with_users(url, **overrides)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield RealtimeApi(client, app)
    finally:
        app.state.engine.dispose()


@pytest.fixture
def api(migrated_url: str) -> Iterator[RealtimeApi]:
    """The API on SQLite and on PostgreSQL, with the callback secret configured."""
    yield from start_api(migrated_url)


@pytest.fixture
def sqlite_api(sqlite_url: str) -> Iterator[RealtimeApi]:
    """The API on SQLite only: for what no SQL dialect can change."""
    yield from start_api(sqlite_url)


@pytest.fixture
def make_api(sqlite_url: str) -> Callable[..., AbstractContextManager[RealtimeApi]]:
    """Start the API on SQLite with other settings: `with make_api(setting=value) as api:`."""

    def start(**overrides: Any) -> AbstractContextManager[RealtimeApi]:
        return contextmanager(start_api)(sqlite_url, **overrides)

    return start


# --- a Daraja sandbox, served over HTTP ------------------------------------------------------


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[str]:
    """Hisaab's Daraja sandbox under uvicorn; callbacks go out as soon as a push is accepted."""
    config = SandboxConfig(
        consumer_key=DARAJA["mpesa_consumer_key"],
        consumer_secret=DARAJA["mpesa_consumer_secret"],
        shortcode=DARAJA["mpesa_shortcode"],
        passkey=DARAJA["mpesa_passkey"],
        callback_delay_ms=0,
    )
    with serve(create_sandbox(config)) as url:
        yield url


@pytest.fixture
def sandbox(sandbox_server: str) -> str:
    """The sandbox's base URL, reset: no pushes, no scenarios chosen, an empty log."""
    httpx2.post(f"{sandbox_server}/sandbox/reset").raise_for_status()
    return sandbox_server


@pytest.fixture
def served_api(
    sqlite_url: str, sandbox: str, worker_settings: Callable[..., None]
) -> Iterator[RealtimeApi]:
    """Hisaab under uvicorn, configured for the sandbox, which calls it back over HTTP.

    The worker's jobs read the same Daraja settings from the environment, as `hisaab worker`.
    """
    sock = bound_socket()
    daraja = daraja_settings(sandbox)
    worker_settings(**daraja)
    app = _app_with_users(
        sqlite_url, mpesa_callback_url=f"http://127.0.0.1:{sock.getsockname()[1]}", **daraja
    )
    try:
        with serve(app, sock) as url, httpx2.Client(base_url=url, timeout=10) as client:
            yield RealtimeApi(client, app)
    finally:
        # The application keeps the Daraja client of its first STK Push and nothing closes it
        # at shutdown; close it here, or its pooled connection leaks (ResourceWarning).
        daraja = getattr(app.state, "daraja", None)
        if daraja is not None:
            daraja.close()
        app.state.engine.dispose()
