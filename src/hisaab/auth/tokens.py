"""Access tokens: JWT signed with HS256 and a configured secret, nothing else accepted.

Verification pins the algorithm list to HS256 (so `alg: none` and RS/HS confusion are
refused) and requires `exp`, `iat` and `sub`; an expired, altered or foreign token is
Unauthenticated, never a 500.
"""

from __future__ import annotations

import datetime as dt
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
    try:
        payload = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "iat", "sub"]}
        )
        return Claims(
            user_id=int(payload["sub"]),
            email=str(payload.get("email", "")),
            role=str(payload["role"]),
            merchant_id=payload.get("merchantId"),
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the token has expired; log in again") from None
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError):
        raise Unauthenticated("the token is not valid") from None
