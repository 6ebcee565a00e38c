"""Health, metrics, request ids and the error body for unknown routes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import SECRET, Api
from hisaab.api.app import create_app
from hisaab.config import Settings
from hisaab.errors import InputError
from redis_server import redis_server


def test_health_reports_the_database(api: Api) -> None:
    response = api.client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["checks"]["database"]["status"]) == ("healthy", "healthy")


def test_health_is_503_when_the_database_is_unreachable(tmp_path: object) -> None:
    app = create_app(
        Settings(database_url="postgresql://nobody@127.0.0.1:9/none", jwt_secret=SECRET)
    )
    with TestClient(app) as client:
        response = client.get("/health")
    app.state.engine.dispose()
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "unhealthy"


def test_request_id_is_echoed_or_generated(api: Api) -> None:
    given = api.client.get("/health", headers={"X-Request-ID": "ops-trace-42"})
    assert given.headers["X-Request-ID"] == "ops-trace-42"
    assert api.client.get("/health").headers["X-Request-ID"].startswith("req_")


def test_unknown_route_is_a_404_in_the_standard_format(api: Api) -> None:
    response = api.client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_metrics_count_requests(api: Api) -> None:
    api.client.get("/health")
    text = api.client.get("/metrics").text
    assert 'hisaab_http_requests_total{method="GET",route="/health",status="200"}' in text


def test_the_api_refuses_to_start_without_a_signing_secret() -> None:
    with pytest.raises(InputError, match="HISAAB_JWT_SECRET"):
        create_app(Settings(database_url="sqlite://", jwt_secret=None))


def test_health_without_redis_configured_has_no_redis_check(api: Api) -> None:
    assert set(api.client.get("/health").json()["checks"]) == {"database"}


def test_health_reports_redis_when_configured(tmp_path: Path, redis_url: str) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hisaab.db'}", jwt_secret=SECRET, redis_url=redis_url
    )
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            response = client.get("/health")
    finally:
        app.state.redis.close()
        app.state.engine.dispose()
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "database": {"status": "healthy"},
        "redis": {"status": "healthy"},
    }


def test_health_is_503_when_redis_stops(tmp_path: Path) -> None:
    with redis_server() as server:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'hisaab.db'}",
            jwt_secret=SECRET,
            redis_url=server.url,
        )
        app = create_app(settings)
        try:
            with TestClient(app) as client:
                before = client.get("/health")
                server.stop()
                after = client.get("/health")
        finally:
            app.state.redis.close()
            app.state.engine.dispose()
    assert before.status_code == 200
    assert after.status_code == 503
    body = after.json()
    assert body["status"] == "unhealthy"
    assert body["checks"] == {
        "database": {"status": "healthy"},
        "redis": {"status": "unhealthy", "error": "ConnectionError"},
    }
