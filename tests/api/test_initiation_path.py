"""The payment initiation hot path answers exactly as the documented FastAPI routes do.

Each request is sent twice to the same application: once as clients send it (served by
hisaab.api.initiation_path), once straight to FastAPI's stack (the documented routes), and
the two answers must agree: status, error code and message, and the session's shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from conftest import PASSWORD, SECRET, email_of
from hisaab.api.app import create_app
from hisaab.auth.roles import ROLES
from hisaab.auth.users import create_user
from hisaab.config import Settings
from hisaab.storage.migrate import upgrade


class RoutesOnly:
    """The same application, its hot paths skipped: FastAPI's stack serves every request."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await FastAPI.__call__(self.app, scope, receive, send)


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient, dict[str, str]]]:
    url = f"sqlite:///{tmp_path / 'hisaab.db'}"
    upgrade(url)
    app = create_app(Settings(database_url=url, jwt_secret=SECRET))
    with app.state.sessions.begin() as session:
        for role in ROLES:
            merchant = "M0001234" if role == "merchant-admin" else None
            create_user(
                session, email=email_of(role), password=PASSWORD, role=role, merchant_id=merchant
            )
    with TestClient(app) as hot, TestClient(RoutesOnly(app)) as routes:
        tokens = {
            role: hot.post(
                "/api/auth/login", json={"email": email_of(role), "password": PASSWORD}
            ).json()["access_token"]
            for role in ("sp-ops", "merchant-admin", "sp-compliance")
        }
        yield hot, routes, tokens
    app.state.engine.dispose()


def shape(response: Any) -> tuple[int, Any]:
    """Status and body, without what differs by request (ids, times)."""
    body = response.json()
    if "error" in body:
        error = body["error"]
        return response.status_code, (error["code"], error["message"], error["metadata"])
    return response.status_code, sorted(body)


def both(
    clients: tuple[TestClient, TestClient, dict[str, str]],
    path: str,
    body: Any,
    role: str = "sp-ops",
    token: str | None = None,
) -> tuple[Any, Any]:
    hot, routes, tokens = clients
    headers = {"Authorization": f"Bearer {token or tokens[role]}"}
    send = {"json": body} if not isinstance(body, bytes) else {"content": body}
    return hot.post(path, headers=headers, **send), routes.post(path, headers=headers, **send)


SESSION = {"merchantId": "M0001234", "amount": "2500.00", "phone": "0712345678"}


@pytest.mark.parametrize(
    ("body", "role"),
    [
        (SESSION, "sp-ops"),
        (SESSION, "merchant-admin"),
        ({**SESSION, "merchantId": "M9999"}, "merchant-admin"),
        (SESSION, "sp-compliance"),
        ({**SESSION, "amount": "25.001"}, "sp-ops"),
        ({**SESSION, "colour": "blue"}, "sp-ops"),
        (b"not json", "sp-ops"),
        (b"[]", "sp-ops"),
    ],
)
def test_creating_a_session_answers_as_the_route_does(
    clients: tuple[TestClient, TestClient, dict[str, str]], body: Any, role: str
) -> None:
    hot, routes = both(clients, "/api/sessions", body, role)
    assert shape(hot) == shape(routes)
    assert hot.headers["x-request-id"].startswith("req_")


def test_a_taken_session_id_is_the_same_409(
    clients: tuple[TestClient, TestClient, dict[str, str]],
) -> None:
    hot, routes = both(clients, "/api/sessions", {**SESSION, "sessionId": "ps_taken"})
    assert (hot.status_code, routes.status_code) == (201, 409)
    again, _ = both(clients, "/api/sessions", {**SESSION, "sessionId": "ps_taken"})
    assert shape(again) == shape(routes)


@pytest.mark.parametrize(
    "body", [{}, {"sessionId": ""}, {"sessionId": "ps_unknown"}, b"{", {"sessionId": 7}]
)
def test_pushing_answers_as_the_route_does(
    clients: tuple[TestClient, TestClient, dict[str, str]], body: Any
) -> None:
    hot, routes = both(clients, "/api/mpesa/stkpush", body)
    assert shape(hot) == shape(routes)


def test_a_bad_token_is_the_same_401(
    clients: tuple[TestClient, TestClient, dict[str, str]],
) -> None:
    hot, routes = both(clients, "/api/sessions", SESSION, token="not.a.token")
    assert shape(hot) == shape(routes)
    assert hot.status_code == 401
