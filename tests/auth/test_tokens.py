"""Access tokens: issued, verified, remembered; never accepted expired, altered or foreign."""

from __future__ import annotations

import time

import pytest

from hisaab.auth.tokens import Claims, VerifiedTokens, issue_token, verify_token
from hisaab.errors import Unauthenticated

SECRET = "token-test-secret-0123456789abcdef-0123"
OPS = Claims(user_id=7, email="ops@hisaab.test", role="sp-ops", merchant_id=None)


def test_a_token_verifies_to_the_claims_it_was_issued_with() -> None:
    assert verify_token(issue_token(OPS, SECRET, 3600), SECRET) == OPS


def test_a_remembered_token_answers_the_same_claims() -> None:
    tokens = VerifiedTokens(SECRET)
    token = issue_token(OPS, SECRET, 3600)
    assert tokens.verify(token) == tokens.verify(token) == OPS


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = VerifiedTokens(SECRET)
    token = issue_token(OPS, SECRET, 60)
    assert tokens.verify(token) == OPS
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(Unauthenticated, match="expired"):
        tokens.verify(token)


def test_an_altered_token_is_refused_though_the_original_is_remembered() -> None:
    tokens = VerifiedTokens(SECRET)
    token = issue_token(OPS, SECRET, 3600)
    tokens.verify(token)
    head, payload, signature = token.split(".")
    forged = ".".join((head, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")))
    with pytest.raises(Unauthenticated, match="not valid"):
        tokens.verify(forged)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    other = issue_token(OPS, "another-secret-0123456789abcdef-012345", 3600)
    with pytest.raises(Unauthenticated):
        VerifiedTokens(SECRET).verify(other)


def test_the_memory_is_bounded() -> None:
    tokens = VerifiedTokens(SECRET, max_entries=3)
    for n in range(10):
        claims = Claims(user_id=n + 1, email=f"u{n}@hisaab.test", role="sp-ops", merchant_id=None)
        assert tokens.verify(issue_token(claims, SECRET, 3600)) == claims
    assert len(tokens._known) <= 3
