"""The access log: a JSON line per request, with no query string (callback secrets stay out)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from hisaab.api.app import create_app
from hisaab.config import Settings
from hisaab.storage.migrate import upgrade

SECRET = "access-log-secret-0123456789abcdef-0123"
CALLBACK_SECRET = "the-callback-secret-9f3a"


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_request_is_one_json_line_like_every_log_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hisaab.db'}"
    upgrade(url)
    app = create_app(Settings(database_url=url, jwt_secret=SECRET))
    stream = io.StringIO()
    app.state.access_log.stream = stream
    with TestClient(app) as client:
        answer = client.get("/health", headers={"X-Request-ID": "req-from-the-balancer"})
    [line] = lines(stream)
    assert answer.status_code == 200
    assert line["logger"] == "hisaab.access" and line["level"] == "INFO"
    assert line["message"] == "GET /health 200"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/health", 200)
    assert line["request_id"] == "req-from-the-balancer"
    assert isinstance(line["duration_ms"], float)
    assert str(line["timestamp"]).endswith("Z")


def test_an_mpesa_callback_is_logged_without_its_secret(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hisaab.db'}"
    upgrade(url)
    app = create_app(
        Settings(
            database_url=url,
            jwt_secret=SECRET,
            mpesa_callback_secret=SecretStr(CALLBACK_SECRET),
        )
    )
    stream = io.StringIO()
    app.state.access_log.stream = stream
    with TestClient(app) as client:
        client.post(f"/api/mpesa/callback?secret={CALLBACK_SECRET}", content=b"{}")
        client.post("/api/mpesa/callback?secret=wrong", content=b"{}")
    logged = lines(stream)
    assert [line["path"] for line in logged] == ["/api/mpesa/callback"] * 2
    assert [line["status"] for line in logged] == [422, 403]
    assert CALLBACK_SECRET not in stream.getvalue()


def test_phone_numbers_in_a_path_are_masked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hisaab.db'}"
    upgrade(url)
    app = create_app(Settings(database_url=url, jwt_secret=SECRET))
    stream = io.StringIO()
    app.state.access_log.stream = stream
    with TestClient(app) as client:
        client.get("/api/sessions/254712345678")
    [line] = lines(stream)
    assert line["path"] == "/api/sessions/2547****678"


def test_it_can_be_turned_off(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hisaab.db'}"
    upgrade(url)
    app = create_app(Settings(database_url=url, jwt_secret=SECRET, access_log=False))
    assert app.state.access_log is None
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
