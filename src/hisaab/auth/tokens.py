"""Access tokens: JWT signed with HS256 and a configured secret, nothing else accepted.

Verification pins the algorithm list to HS256 (so `alg: none` and RS/HS confusion are
refused) and requires `exp`, `iat` and `sub`; an expired, altered or foreign token is
Unauthenticated, never a 500.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass

import jwt

from hisaab.auth.roles import permissions_of
from hisaab.errors import Unauthenticated

ALGORITHM = "HS256"


@dataclass(frozen=True)
class Claims:
    user_id: int
    email: str
    role: str
    merchant_id: str | None

    @property
    def permissions(self) -> frozenset[str]:
        return permissions_of(self.role)


def issue_token(claims: Claims, secret: str, ttl_seconds: int) -> str:
    now = dt.datetime.now(dt.UTC)
    payload = {
        "sub": str(claims.user_id),
        "email": claims.email,
        "role": claims.role,
        "merchantId": claims.merchant_id,
        "permissions": sorted(claims.permissions),
        "iat": now,
        "exp": now + dt.timedelta(seconds=ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify_token(token: str, secret: str) -> Claims:
    return _verify(token, secret)[0]


def _verify(token: str, secret: str) -> tuple[Claims, float]:
    """The token's claims and its expiry (POSIX seconds), or Unauthenticated."""
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "iat", "sub"]}
        )
        claims = Claims(
            user_id=int(payload["sub"]),
            email=str(payload.get("email", "")),
            role=str(payload["role"]),
            merchant_id=payload.get("merchantId"),
        )
        return claims, float(payload["exp"])
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the token has expired; log in again") from None
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError):
        raise Unauthenticated("the token is not valid") from None


class VerifiedTokens:
    """`verify_token` that remembers the tokens it has verified, until each expires.

    A client sends the same token with every request, and verifying it (base64, HMAC-SHA256,
    JSON, the claims) cost about 50 us each time. A remembered token is the exact same string
    that verified before under the same secret, so its signature needs no second look; its
    expiry is still checked on every use. At most `max_entries` are kept (then forgotten
    all at once; they are verified again as they come).
    """

    def __init__(self, secret: str, *, max_entries: int = 10_000) -> None:
        self._secret = secret
        self._max_entries = max_entries
        self._known: dict[str, tuple[Claims, float]] = {}

    def verify(self, token: str) -> Claims:
        known = self._known.get(token)
        if known is None:
            known = _verify(token, self._secret)
            if len(self._known) >= self._max_entries:
                self._known.clear()
            self._known[token] = known
        claims, expires = known
        if time.time() >= expires:
            self._known.pop(token, None)
            raise Unauthenticated("the token has expired; log in again")
        return claims
