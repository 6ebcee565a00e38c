"""POST /api/auth/login and GET /api/auth/me."""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel, Field

from hisaab.api.deps import CurrentUser, Router, SessionDep, SettingsDep
from hisaab.audit import log as audit
from hisaab.auth.tokens import Claims, issue_token
from hisaab.auth.users import authenticate

router = Router(prefix="/api/auth", tags=["auth"])


class LoginRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    id: int
    email: str
    role: str
    merchant_id: str | None
    permissions: list[str]


@router.post("/login", response_model=TokenResponse)
def login(
    body: LoginRequest, request: Request, session: SessionDep, settings: SettingsDep
) -> TokenResponse:
    limiter = request.app.state.login_limiter
    client = request.client.host if request.client else "unknown"
    limiter.attempt(body.email, client)  # counted as a failure unless it succeeds
    user = authenticate(session, body.email, body.password)
    limiter.succeeded(body.email, client)
    audit.record(
        session,
        actor_id=user.id,
        action="login",
        entity="user",
        entity_id=user.id,
        details={"client": client},
    )
    assert settings.jwt_secret is not None
    claims = Claims(user_id=user.id, email=user.email, role=user.role, merchant_id=user.merchant_id)
    token = issue_token(claims, settings.jwt_secret.get_secret_value(), settings.jwt_ttl_seconds)
    return TokenResponse(access_token=token, expires_in=settings.jwt_ttl_seconds)


@router.get("/me", response_model=Me)
def me(claims: CurrentUser) -> Me:
    return Me(
        id=claims.user_id,
        email=claims.email,
        role=claims.role,
        merchant_id=claims.merchant_id,
        permissions=sorted(claims.permissions),
    )
