"""Request dependencies: the database session, the caller, and the permission a route needs.

Only the boundary commits: the session of a request commits after the route returned and
rolls back when it raised, so a failed request leaves nothing half-written. The commit
happens before the response is sent (`scope="function"`): a client told 201 can rely on
the row being there for its next request, and a commit that fails is a 500, not a success.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from hisaab.auth.tokens import Claims, verify_token
from hisaab.config import Settings
from hisaab.errors import Forbidden, Unauthenticated
from hisaab.storage.models import User

_bearer = HTTPBearer(auto_error=False)


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Claims:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("a bearer token is required: POST /api/auth/login first")
    assert settings.jwt_secret is not None  # create_app refuses to start without one
    claims = verify_token(credentials.credentials, settings.jwt_secret.get_secret_value())
    user = session.get(User, claims.user_id)
    # A token speaks for the user as they were when it was issued: a user since deactivated,
    # given another role or moved to another merchant must log in again, or an old token
    # would keep the old role's or the old merchant's access until it expires.
    if (
        user is None
        or not user.is_active
        or user.role != claims.role
        or user.merchant_id != claims.merchant_id
    ):
        raise Unauthenticated("the token's user no longer exists or has changed; log in again")
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
