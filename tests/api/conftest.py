"""An API on a migrated database of each kind, with one user per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hisaab.api.app import create_app
from hisaab.auth.roles import ROLES
from hisaab.auth.users import create_user
from hisaab.config import Settings
from hisaab.storage.migrate import upgrade

SECRET = "test-secret-0123456789abcdef-0123456789"
PASSWORD = "correct horse battery"


def email_of(role: str) -> str:
    return f"{role}@hisaab.test"


@dataclass
class Api:
    client: TestClient
    app: FastAPI

    def token(self, role: str) -> str:
        response = self.client.post(
            "/api/auth/login", json={"email": email_of(role), "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    upgrade(database_url)
    app = create_app(Settings(database_url=database_url, jwt_secret=SECRET))
    with app.state.sessions.begin() as session:
        for role in ROLES:
            merchant = "M0001234" if role == "merchant-admin" else None
            create_user(
                session, email=email_of(role), password=PASSWORD, role=role, merchant_id=merchant
            )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, app)
    app.state.engine.dispose()
