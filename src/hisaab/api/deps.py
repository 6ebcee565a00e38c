"""Request dependencies: the database session, the caller, and the permission a route needs.

Only the boundary commits: the session of a request commits after the route returned and
rolls back when it raised, so a failed request leaves nothing half-written. The commit
happens before the response is sent (`scope="function"`): a client told 201 can rely on
the row being there for its next request, and a commit that fails is a 500, not a success.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from hisaab.auth.standing import UserStanding
from hisaab.auth.tokens import Claims, verify_token
from hisaab.config import Settings
from hisaab.errors import Forbidden, Unauthenticated

_bearer = HTTPBearer(auto_error=False)


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session, holding one of the process's request slots while it lives
    (hisaab.api.capacity): waiting for a slot blocks no thread, so it cannot deadlock."""
    async with request.app.state.db_gate:
        session: Session = request.app.state.sessions()
        try:
            yield session
        except BaseException:
            await run_in_threadpool(_rollback_and_close, session)
            raise
        await run_in_threadpool(_commit_and_close, session)


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def current_user(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Claims:
    """The caller, from a bearer token whose user still stands as it says (see
    hisaab.auth.standing: looked up outside the request's session, which it never opens)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("a bearer token is required: POST /api/auth/login first")
    assert settings.jwt_secret is not None  # create_app refuses to start without one
    claims = verify_token(credentials.credentials, settings.jwt_secret.get_secret_value())
    standing: UserStanding = request.app.state.user_standing
    standing.check(claims)
    return claims


CurrentUser = Annotated[Claims, Depends(current_user)]


def require(permission: str) -> Callable[[Claims], Claims]:
    """A dependency that lets through callers holding `permission`, else 403."""

    def check(claims: CurrentUser) -> Claims:
        if permission not in claims.permissions:
            raise Forbidden(f"the {claims.role} role lacks the permission {permission}")
        return claims

    check.__name__ = f"require_{permission.replace(':', '_')}"
    return check
