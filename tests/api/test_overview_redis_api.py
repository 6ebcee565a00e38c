"""The Overview API with HISAAB_REDIS_URL set: answers cached in Redis, shared by every API
process, identical to the computed ones, and still served while Redis is down.

Chai Point (M0001234) took three payments on 1 April 2026, in INR paise:

    T1  UPI   ₹500.00    credited      matched
    T2  CARD  ₹1,200.00  sent_to_bank  matched
    T3  UPI   ₹250.00    captured      pending

and a fourth, T4 (₹99.00 by UPI), arrives after the first answers were cached.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import PASSWORD, SECRET, Api, email_of
from hisaab.api.app import create_app
from hisaab.auth.roles import ROLES
from hisaab.auth.users import create_user
from hisaab.config import Settings
from hisaab.overview.cache import KEY_PREFIX, RedisTTLCache
from hisaab.overview.refresh import refresh_kpis
from hisaab.redis_client import make_client
from hisaab.storage.kpi_models import Transaction
from hisaab.storage.migrate import upgrade
from redis_server import redis_server

MERCHANT = "M0001234"
APRIL_1 = dt.date(2026, 4, 1)
RANGE = {"from": "2026-04-01", "to": "2026-04-01"}
ENDPOINTS = (
    "/api/overview",
    "/api/pipeline",
    "/api/sources",
    "/api/connectors/health",
    "/api/top-reasons",
)


def _payment(txn_id: str, method: str, amount: int, status: str, recon: str) -> Transaction:
    return Transaction(
        id=txn_id,
        merchant_id=MERCHANT,
        amount_minor=amount,
        currency="INR",
        method=method,
        data_source="PG_API",
        status=status,
        reconciliation_status=recon,
        utr=f"UTR{txn_id}",
        business_date=APRIL_1,
        created_at=dt.datetime(2026, 4, 1, 10, 30, tzinfo=dt.UTC),
    )


def _app(database_url: str, redis_url: str) -> FastAPI:
    return create_app(Settings(database_url=database_url, jwt_secret=SECRET, redis_url=redis_url))


def _add_t4(app: FastAPI) -> None:
    with app.state.sessions.begin() as session:
        session.add(_payment("T4", "UPI", 9_900, "captured", "pending"))
        refresh_kpis(session, APRIL_1, APRIL_1)


def _seed(app: FastAPI) -> None:
    with app.state.sessions.begin() as session:
        for role in ROLES:
            merchant = MERCHANT if role == "merchant-admin" else None
            create_user(
                session, email=email_of(role), password=PASSWORD, role=role, merchant_id=merchant
            )
        session.add_all(
            [
                _payment("T1", "UPI", 50_000, "credited", "matched"),
                _payment("T2", "CARD", 120_000, "sent_to_bank", "matched"),
                _payment("T3", "UPI", 25_000, "captured", "pending"),
            ]
        )
        refresh_kpis(session, APRIL_1, APRIL_1)


def _close(app: FastAPI) -> None:
    app.state.redis.close()
    app.state.engine.dispose()


@pytest.fixture
def shared_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = make_client(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def api_with_redis(database_url: str, redis_url: str, shared_redis: redis.Redis) -> Iterator[Api]:
    upgrade(database_url)
    app = _app(database_url, redis_url)
    _seed(app)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, app)
    _close(app)


def _get(api: Api, path: str, **params: str) -> Any:
    response = api.client.get(path, params=params, headers=api.headers("sp-finance"))
    assert response.status_code == 200, response.text
    return response.json()


def _captured(api: Api) -> list[dict[str, Any]]:
    return list(_get(api, "/api/overview", **RANGE)["captured"])


def test_the_app_caches_overview_answers_in_redis(api_with_redis: Api) -> None:
    assert type(api_with_redis.app.state.overview_cache) is RedisTTLCache


def test_every_endpoint_answers_the_same_from_redis(
    api_with_redis: Api, shared_redis: redis.Redis
) -> None:
    computed = {path: _get(api_with_redis, path, **RANGE) for path in ENDPOINTS}
    names = shared_redis.keys(KEY_PREFIX + "*")
    assert len(names) == len(ENDPOINTS)
    for name in names:
        assert 0 < shared_redis.pttl(name) <= 30_000  # HISAAB_OVERVIEW_CACHE_SECONDS' default
        json.loads(shared_redis.get(name))  # stored as JSON
    cached = {path: _get(api_with_redis, path, **RANGE) for path in ENDPOINTS}
    assert cached == computed


def test_a_cached_answer_is_served_until_the_cache_is_cleared(api_with_redis: Api) -> None:
    assert _captured(api_with_redis) == [
        {"currency": "INR", "transactions": 3, "amount_minor": 195_000}
    ]
    _add_t4(api_with_redis.app)
    assert _captured(api_with_redis)[0]["transactions"] == 3
    api_with_redis.app.state.overview_cache.clear()
    assert _captured(api_with_redis) == [
        {"currency": "INR", "transactions": 4, "amount_minor": 204_900}
    ]


def test_a_second_api_process_serves_the_first_ones_answer(
    api_with_redis: Api, database_url: str, redis_url: str
) -> None:
    assert _captured(api_with_redis)[0]["transactions"] == 3
    _add_t4(api_with_redis.app)
    other = _app(database_url, redis_url)
    try:
        with TestClient(other) as client:
            response = client.get(
                "/api/overview", params=RANGE, headers=api_with_redis.headers("sp-ops")
            )
    finally:
        _close(other)
    assert response.status_code == 200
    # T4 is in the database, but both processes serve the answer cached before it came.
    assert response.json()["captured"][0]["transactions"] == 3


def test_the_overview_answers_while_redis_is_down(database_url: str) -> None:
    upgrade(database_url)
    with redis_server() as server:
        app = _app(database_url, server.url)
        try:
            _seed(app)
            with TestClient(app, raise_server_exceptions=False) as client:
                api = Api(client, app)
                headers = api.headers("sp-finance")
                server.stop()
                responses = [client.get(path, params=RANGE, headers=headers) for path in ENDPOINTS]
                health = client.get("/health")
        finally:
            _close(app)
    assert [r.status_code for r in responses] == [200] * len(ENDPOINTS)
    assert responses[0].json()["captured"] == [
        {"currency": "INR", "transactions": 3, "amount_minor": 195_000}
    ]
    assert health.status_code == 503
