"""The login limit shared through Redis: one budget of failures per email and client address,
however many API processes there are, and still a limit while Redis is down."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import PASSWORD, SECRET, email_of
from hisaab.api.app import create_app
from hisaab.api.ratelimit import KEY_PREFIX, LoginLimiter, RedisLoginLimiter, make_limiter
from hisaab.auth.users import create_user
from hisaab.config import Settings
from hisaab.errors import RateLimited
from hisaab.redis_client import make_client
from hisaab.storage.migrate import upgrade
from redis_server import redis_server

CASHIER = "cashier@chaipoint.test"
BRANCH = "10.0.4.17"


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = make_client(redis_url)
    client.flushdb()
    yield client
    client.close()


class TestRedisLoginLimiter:
    def test_make_limiter_chooses_redis_only_when_a_client_is_given(
        self, client: redis.Redis
    ) -> None:
        assert type(make_limiter(None)) is LoginLimiter
        assert type(make_limiter(client)) is RedisLoginLimiter

    def test_the_sixth_attempt_after_five_failures_is_refused(self, client: redis.Redis) -> None:
        limiter = RedisLoginLimiter(client, max_failures=5, window_seconds=300)
        for _ in range(5):
            limiter.attempt(CASHIER, BRANCH)  # each counted, none succeeded
        with pytest.raises(RateLimited, match=r"try again in \d+ s") as raised:
            limiter.attempt(CASHIER, BRANCH)
        wait = int(raised.value.message.split(" in ")[1].removesuffix(" s"))
        assert 290 <= wait <= 300  # the oldest failure leaves the 300 s window then

    def test_the_email_is_counted_whatever_its_case_and_spaces(self, client: redis.Redis) -> None:
        limiter = RedisLoginLimiter(client, max_failures=2)
        limiter.attempt("Cashier@ChaiPoint.test", BRANCH)
        limiter.attempt(f"  {CASHIER} ", BRANCH)
        with pytest.raises(RateLimited):
            limiter.attempt(CASHIER, BRANCH)

    def test_another_client_address_has_its_own_budget(self, client: redis.Redis) -> None:
        limiter = RedisLoginLimiter(client, max_failures=2)
        limiter.attempt(CASHIER, BRANCH)
        limiter.attempt(CASHIER, BRANCH)
        limiter.attempt(CASHIER, "10.0.9.1")  # no RateLimited

    def test_a_success_clears_the_failures(self, client: redis.Redis) -> None:
        limiter = RedisLoginLimiter(client, max_failures=2)
        limiter.attempt(CASHIER, BRANCH)
        limiter.succeeded(CASHIER, BRANCH)
        limiter.attempt(CASHIER, BRANCH)
        assert client.zcard(limiter.redis_key(CASHIER, BRANCH)) == 1
        limiter.attempt(CASHIER, BRANCH)  # the second of two allowed

    def test_failures_leave_the_window_and_the_key_expires(self, client: redis.Redis) -> None:
        limiter = RedisLoginLimiter(client, max_failures=2, window_seconds=0.3)
        limiter.attempt(CASHIER, BRANCH)
        limiter.attempt(CASHIER, BRANCH)
        with pytest.raises(RateLimited):
            limiter.attempt(CASHIER, BRANCH)
        assert 0 < client.pttl(limiter.redis_key(CASHIER, BRANCH)) <= 300
        time.sleep(0.4)
        assert client.exists(limiter.redis_key(CASHIER, BRANCH)) == 0
        limiter.attempt(CASHIER, BRANCH)

    def test_no_email_or_address_is_stored_in_the_clear(self, client: redis.Redis) -> None:
        RedisLoginLimiter(client).attempt(CASHIER, BRANCH)
        (name,) = client.keys("*")
        assert name.decode().startswith(KEY_PREFIX)
        assert b"chaipoint" not in name and BRANCH.encode() not in name


@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "redis"])
def test_fifty_attempts_at_once_get_five_guesses(client: redis.Redis, shared: bool) -> None:
    """An attacker sends fifty logins at once: only five may reach the password check."""
    limiter = RedisLoginLimiter(client) if shared else LoginLimiter()
    start = threading.Barrier(50)

    def guess(n: int) -> bool:
        start.wait()
        try:
            limiter.attempt(CASHIER, BRANCH)
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(max_workers=50) as pool:
        let_through = sum(pool.map(guess, range(50)))
    assert let_through == 5


def _app(database_url: str, redis_url: str | None) -> FastAPI:
    return create_app(Settings(database_url=database_url, jwt_secret=SECRET, redis_url=redis_url))


@pytest.fixture
def two_apps(tmp_path: Path, redis_url: str, client: redis.Redis) -> Iterator[list[TestClient]]:
    """Two API processes' apps on one database and one Redis."""
    database_url = f"sqlite:///{tmp_path / 'hisaab.db'}"
    upgrade(database_url)
    apps = [_app(database_url, redis_url), _app(database_url, redis_url)]
    with apps[0].state.sessions.begin() as session:
        create_user(session, email=email_of("sp-ops"), password=PASSWORD, role="sp-ops")
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        yield [first, second]
    for app in apps:
        app.state.redis.close()
        app.state.engine.dispose()


def test_two_api_processes_share_one_budget(two_apps: list[TestClient]) -> None:
    guess = {"email": email_of("sp-ops"), "password": "chai123"}
    first, second = two_apps
    statuses = [client.post("/api/auth/login", json=guess).status_code for client in two_apps * 2]
    statuses.append(first.post("/api/auth/login", json=guess).status_code)
    assert statuses == [401, 401, 401, 401, 401]
    for client in two_apps:
        response = client.post("/api/auth/login", json=guess)
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "RATE_LIMITED"
    right = {"email": email_of("sp-ops"), "password": PASSWORD}
    assert second.post("/api/auth/login", json=right).status_code == 429


def test_while_redis_is_down_each_process_still_limits_logins(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'hisaab.db'}"
    upgrade(database_url)
    guess = {"email": email_of("sp-ops"), "password": "chai123"}
    with redis_server() as server:
        app = _app(database_url, server.url)
        try:
            with app.state.sessions.begin() as session:
                create_user(session, email=email_of("sp-ops"), password=PASSWORD, role="sp-ops")
            server.stop()
            with TestClient(app) as api:
                statuses = [api.post("/api/auth/login", json=guess).status_code for _ in range(6)]
        finally:
            app.state.redis.close()
            app.state.engine.dispose()
    assert statuses == [401] * 5 + [429]
