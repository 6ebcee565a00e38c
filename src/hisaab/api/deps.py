"""Request dependencies: the database session, the caller, and the permission a route needs.

Only the boundary commits: the session of a request commits once the route returned and
rolls back when it raised, so a failed request leaves nothing half-written. The commit
happens before the response is sent: a client told 201 can rely on the row being there for
its next request, and a commit that fails is a 500, not a success.

A sync route's session commits in the route's own thread, as its last step (`Router`): a
session that has written holds SQLite's write lock (or PostgreSQL row locks) until it
commits, and a commit left to the dependency's teardown would first wait for the event loop
to get round to it, which under load made every other writer wait seconds, then fail.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from hisaab.api.capacity import DbGate
from hisaab.auth.standing import UserStanding
from hisaab.auth.tokens import Claims, VerifiedTokens
from hisaab.config import Settings
from hisaab.errors import Forbidden, Unauthenticated
from hisaab.storage.transient import retrying

_bearer = HTTPBearer(auto_error=False)


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session, holding one of the process's request slots while it lives
    (hisaab.api.capacity): waiting for a slot blocks no thread, so it cannot deadlock."""
    gate: DbGate = request.app.state.db_gate
    async with gate:
        session: Session = request.app.state.sessions()
        try:
            yield session
        except BaseException:
            if session.in_transaction():
                await to_thread.run_sync(_rollback_and_close, session, limiter=gate.enders)
            else:
                session.close()
            raise
        if session.in_transaction():  # a route that did not end its own session
            await to_thread.run_sync(_commit_and_close, session, limiter=gate.enders)
        else:
            session.close()  # holds no connection: nothing to wait for


class Router(APIRouter):
    """An APIRouter whose sync endpoints commit their request session (or roll it back when
    they raise) in their own thread, as their last step (see the module docstring)."""

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint) and not ends_sessions(endpoint):
            endpoint = _ending_sessions(endpoint)
        super().add_api_route(path, endpoint, **kwargs)


def _ending_sessions(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    def run(**arguments: Any) -> Any:
        sessions = [value for value in arguments.values() if isinstance(value, Session)]

        def attempt() -> Any:
            try:
                result = endpoint(**arguments)
                for session in sessions:
                    session.commit()
            except BaseException:
                for session in sessions:
                    session.rollback()
                raise
            return result

        # A deadlock with another request is run again (hisaab.storage.transient).
        return retrying(attempt)

    run.ends_sessions = True  # type: ignore[attr-defined]
    return run


def ends_sessions(endpoint: object) -> bool:
    """True for an endpoint `Router` wrapped (for the test that every sync route is)."""
    return bool(getattr(endpoint, "ends_sessions", False))


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


async def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Claims:
    """The caller, from a bearer token whose user still stands as it says (see
    hisaab.auth.standing: looked up outside the request's session, which it never opens).

    On the event loop: the token and the user's standing are usually remembered, and only
    a lookup of the user goes to a thread.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("a bearer token is required: POST /api/auth/login first")
    return await authenticate(request.app.state, credentials.credentials)


async def authenticate(state: Any, token: str) -> Claims:
    """The claims of a bearer token whose user still stands as it says (routes and hot
    paths alike)."""
    tokens: VerifiedTokens = state.tokens
    claims = tokens.verify(token)
    standing: UserStanding = state.user_standing
    if not standing.check_remembered(claims):
        await run_in_threadpool(standing.check, claims)
    return claims


CurrentUser = Annotated[Claims, Depends(current_user)]


def require(permission: str) -> Callable[[Claims], Awaitable[Claims]]:
    """A dependency that lets through callers holding `permission`, else 403."""

    async def check(claims: CurrentUser) -> Claims:
        if permission not in claims.permissions:
            raise Forbidden(f"the {claims.role} role lacks the permission {permission}")
        return claims

    check.__name__ = f"require_{permission.replace(':', '_')}"
    return check


def platform_or_own(
    platform: frozenset[str], own: str, *, named: str
) -> Callable[[Claims], Awaitable[Claims]]:
    """A dependency for routes platform staff use across merchants and a merchant-admin uses
    for its own merchant: callers holding any of `platform`, or bound to a merchant and
    holding `own`; else 403 naming the permission `named`."""

    async def check(claims: CurrentUser) -> Claims:
        if claims.permissions & platform:
            return claims
        if claims.merchant_id is not None and own in claims.permissions:
            return claims
        raise Forbidden(f"the {claims.role} role lacks the permission {named}")

    check.__name__ = f"platform_or_{own.replace(':', '_')}"
    return check


def merchant_scope(claims: Claims, platform: frozenset[str]) -> str | None:
    """The merchant a caller's reads are limited to: none for platform staff (`platform`)."""
    return None if claims.permissions & platform else claims.merchant_id
