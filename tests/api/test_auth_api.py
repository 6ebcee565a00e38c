"""Logging in, and what a token does and does not get you."""

from __future__ import annotations

import datetime as dt

import jwt
import pytest

from conftest import PASSWORD, SECRET, Api, email_of


def assert_error(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()["error"]  # type: ignore[attr-defined]
    assert body["code"] == code
    assert set(body) == {"code", "message", "details", "timestamp", "requestId", "metadata"}
    assert body["requestId"] == response.headers["X-Request-ID"]  # type: ignore[attr-defined]
    return dict(body)


def test_login_returns_a_bearer_token(api: Api) -> None:
    response = api.client.post(
        "/api/auth/login", json={"email": email_of("sp-ops"), "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["token_type"], body["expires_in"]) == ("bearer", 8 * 3600)
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert claims["role"] == "sp-ops"
    assert "exceptions:resolve" in claims["permissions"]


def test_a_login_is_audited(api: Api) -> None:
    from sqlalchemy import select

    from hisaab.audit.log import verify
    from hisaab.storage.models import AuditEntry

    api.token("sp-finance")
    with api.app.state.sessions() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
        assert actions == ["login"]
        assert verify(session).ok


def test_me_shows_the_callers_role_and_scope(api: Api) -> None:
    me = api.client.get("/api/auth/me", headers=api.headers("merchant-admin")).json()
    assert (me["role"], me["merchant_id"]) == ("merchant-admin", "M0001234")
    assert me["permissions"] == [
        "merchant:dashboard",
        "merchant:disputes",
        "merchant:reports",
        "merchant:settlements",
    ]


@pytest.mark.parametrize(
    ("email", "password"),
    [(email_of("sp-ops"), "wrong password"), ("nobody@hisaab.test", PASSWORD)],
)
def test_wrong_credentials_get_the_same_401(api: Api, email: str, password: str) -> None:
    response = api.client.post("/api/auth/login", json={"email": email, "password": password})
    body = assert_error(response, 401, "UNAUTHENTICATED")
    assert body["message"] == "wrong email or password"


def test_repeated_failures_are_rate_limited(api: Api) -> None:
    attempt = {"email": email_of("sp-ops"), "password": "guess"}
    for _ in range(5):
        assert api.client.post("/api/auth/login", json=attempt).status_code == 401
    assert_error(api.client.post("/api/auth/login", json=attempt), 429, "RATE_LIMITED")
    # even the right password waits out the window
    right = {"email": email_of("sp-ops"), "password": PASSWORD}
    assert api.client.post("/api/auth/login", json=right).status_code == 429


def test_missing_token_is_401(api: Api) -> None:
    assert_error(api.client.get("/api/auth/me"), 401, "UNAUTHENTICATED")


def _token(secret: str = SECRET, **changes: object) -> str:
    now = dt.datetime.now(dt.UTC)
    payload: dict[str, object] = {
        "sub": "1",
        "role": "admin",
        "iat": now,
        "exp": now + dt.timedelta(hours=1),
    }
    payload.update(changes)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, secret, algorithm="HS256")


@pytest.mark.parametrize(
    ("token", "fragment"),
    [
        (_token(exp=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)), "expired"),
        (_token(secret="another-secret-0123456789abcdef-0123"), "not valid"),
        (_token(exp=None), "not valid"),
        (jwt.encode({"sub": "1", "role": "admin"}, None, algorithm="none"), "not valid"),
        ("not.a.token", "not valid"),
    ],
    ids=["expired", "foreign-secret", "no-exp", "alg-none", "garbage"],
)
def test_bad_tokens_are_401(api: Api, token: str, fragment: str) -> None:
    response = api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    body = assert_error(response, 401, "UNAUTHENTICATED")
    assert fragment in str(body["message"])


def test_tampered_role_is_refused(api: Api) -> None:
    header, _payload, signature = api.token("sp-finance").split(".")
    forged_payload = jwt.utils.base64url_encode(  # type: ignore[attr-defined]
        b'{"sub":"2","role":"admin","iat":1,"exp":9999999999}'
    ).decode()
    forged = ".".join([header, forged_payload, signature])
    response = api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert_error(response, 401, "UNAUTHENTICATED")


def test_invalid_body_is_a_422_in_the_standard_format(api: Api) -> None:
    body = assert_error(
        api.client.post("/api/auth/login", json={"email": "x"}), 422, "INVALID_REQUEST"
    )
    assert "password" in str(body["metadata"])
