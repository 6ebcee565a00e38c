"""Users: creating them with a valid role and scope, and checking their credentials."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hisaab.auth.passwords import MIN_LENGTH, hash_password, verify_password
from hisaab.auth.roles import ROLES
from hisaab.errors import Conflict, InputError, Unauthenticated
from hisaab.storage.models import Merchant, User

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Verifying against a real hash when the user does not exist keeps the timing of a failed
# login the same for unknown emails and wrong passwords.
_DUMMY_HASH = hash_password("not-a-real-password-" + "x" * 16)


def create_user(
    session: Session, *, email: str, password: str, role: str, merchant_id: str | None = None
) -> User:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InputError(f"{email!r} is not an email address", column="email")
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}", column="role", expected=", ".join(ROLES))
    if len(password) < MIN_LENGTH:
        raise InputError(
            "the password is too short", column="password", expected=f"{MIN_LENGTH}+ characters"
        )
    if (role == "merchant-admin") != (merchant_id is not None):
        raise InputError(
            "a merchant-admin needs --merchant, and only a merchant-admin may have one",
            column="merchant",
        )
    if session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise Conflict(f"a user {email} already exists")
    if merchant_id is not None and session.get(Merchant, merchant_id) is None:
        session.add(Merchant(id=merchant_id, name=merchant_id))
    user = User(
        email=email, password_hash=hash_password(password), role=role, merchant_id=merchant_id
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        raise Unauthenticated("wrong email or password")
    if not verify_password(user.password_hash, password) or not user.is_active:
        raise Unauthenticated("wrong email or password")
    return user
