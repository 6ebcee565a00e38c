"""64 clients at once on every authenticated endpoint: no 5xx, no dropped connection.

The API is served by uvicorn on loopback with its worker in the process (as `hisaab serve
--with-worker`) and Daraja played by Hisaab's sandbox, on SQLite and on PostgreSQL, with the
default pool and thread settings. 64 concurrent clients once exhausted the connection pool on
SQLite (every thread waiting for a connection only a thread could give back); this drives
the same mix as benchmarks/bench_api.py for a few seconds. The per-endpoint latencies under
this load are the benchmark's business (docs/benchmarks.md), not this test's.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import load_mix
import psycopg
import pytest
import uvicorn
from argon2 import PasswordHasher
from pydantic import SecretStr

from hisaab.api.app import create_app
from hisaab.api.embedded import start_worker
from hisaab.auth import passwords
from hisaab.auth.users import create_user
from hisaab.config import Settings, get_settings
from hisaab.mpesa.sandbox import create_sandbox
from hisaab.mpesa.sandbox_state import SandboxConfig
from hisaab.storage.migrate import upgrade

CLIENTS = 64
SECONDS = 6.0
JWT = "concurrency-test-secret-0123456789abcdef"
DARAJA = SandboxConfig(
    consumer_key="load-key",
    consumer_secret="load-secret",
    passkey="load-passkey",
    callback_delay_ms=200,
    post_timeout_seconds=2.0,
)


@contextmanager
def served(app: Any) -> Iterator[str]:
    """`app` under uvicorn on a free loopback port, in a thread; yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", ws="none", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            pytest.fail("the server did not start within 20 s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@pytest.fixture(scope="module")
def daraja_url() -> Iterator[str]:
    with served(create_sandbox(DARAJA)) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hisaab.db'}"
        return
    server: str = request.getfixturevalue("postgres_url")
    name = f"load_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def api_url(
    database: str, daraja_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    upgrade(database)
    # The in-process worker's jobs read their settings from the environment, as `hisaab worker`.
    monkeypatch.setenv("HISAAB_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    settings = Settings(
        database_url=database,
        jwt_secret=SecretStr(JWT),
        data_dir=str(tmp_path / "data"),
        mpesa_base_url=daraja_url,
        mpesa_consumer_key=SecretStr(DARAJA.consumer_key),
        mpesa_consumer_secret=SecretStr(DARAJA.consumer_secret),
        mpesa_passkey=SecretStr(DARAJA.passkey),
        mpesa_shortcode=DARAJA.shortcode,
        mpesa_callback_url="http://127.0.0.1:9",  # the sandbox's callbacks go nowhere
        mpesa_callback_secret=SecretStr("load-callback-secret"),
    )
    app = create_app(settings)
    monkeypatch.setattr(passwords, "_HASHER", PasswordHasher(1, 1024, 1))
    with app.state.sessions.begin() as session:
        for role in load_mix.ROLES:
            create_user(
                session,
                email=f"{role}@load.test",
                password=load_mix.PASSWORD,
                role=role,
                merchant_id=load_mix.MERCHANT if role == "merchant-admin" else None,
            )
    worker, thread = start_worker(app, poll_seconds=0.2)
    try:
        with served(app) as url:
            yield url
    finally:
        worker.stop()
        thread.join(timeout=20)
        app.state.engine.dispose()
        get_settings.cache_clear()


async def _load(url: str) -> load_mix.LoadResult:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        world = await load_mix.prepare(client)
    return await load_mix.run(url, world, clients=CLIENTS, seconds=SECONDS)


def test_64_clients_on_every_endpoint_get_no_5xx_and_no_dropped_connection(
    api_url: str,
) -> None:
    result = asyncio.run(_load(api_url))
    assert result.server_errors == {}
    assert result.no_answer == {}
    # Every operation of the mix ran, and most of what ran was answered as asked (a 409 is
    # right when two clients race for one exception; a 404 for a session not made yet).
    assert set(result.ops) == {name for name, _w, _op in load_mix.MIX}
    ok = sum(n for s in result.ops.values() for code, n in s.statuses.items() if code < 400)
    assert ok > 0.7 * result.requests, {op: dict(s.statuses) for op, s in result.ops.items()}


def test_the_mix_covers_every_authenticated_endpoint() -> None:
    app = create_app(Settings(database_url="sqlite://", jwt_secret=SecretStr(JWT)))
    authenticated = {
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if operation.get("security")
    }
    assert authenticated == {name for name, _w, _op in load_mix.MIX}
