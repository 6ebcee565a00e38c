"""Settings come from the environment (or .env), and secrets never show."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hisaab.config import Settings, get_settings, mask_url
from hisaab.errors import InputError


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("HISAAB_DATABASE_URL", "HISAAB_JWT_SECRET", "HISAAB_APPROVAL_THRESHOLD_MINOR"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults_are_the_embedded_sqlite_database_and_the_seed_threshold() -> None:
    settings = get_settings()
    assert settings.database_url == "sqlite:///hisaab.db"
    assert settings.approval_threshold_minor == 1_000_000


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HISAAB_DATABASE_URL", "postgresql://ops:s3cret@db:5432/hisaab")
    monkeypatch.setenv("HISAAB_APPROVAL_THRESHOLD_MINOR", "500000")
    settings = get_settings()
    assert settings.database_url == "postgresql://ops:s3cret@db:5432/hisaab"
    assert settings.approval_threshold_minor == 500_000


def test_dotenv_file_is_read(tmp_path: object) -> None:
    from pathlib import Path

    Path(".env").write_text("HISAAB_JWT_SECRET=from-dotenv\n")
    secret = get_settings().jwt_secret
    assert secret is not None and secret.get_secret_value() == "from-dotenv"


def test_shown_settings_mask_secrets_and_passwords() -> None:
    shown = Settings(
        database_url="postgresql://ops:s3cret@db:5432/hisaab", jwt_secret="topsecret"
    ).shown()
    assert shown["HISAAB_DATABASE_URL"] == "postgresql://ops:********@db:5432/hisaab"
    assert shown["HISAAB_JWT_SECRET"] == "********"
    assert "s3cret" not in str(shown) and "topsecret" not in str(shown)


def test_mask_url_leaves_urls_without_password() -> None:
    assert mask_url("sqlite:///var/lib/hisaab.db") == "sqlite:///var/lib/hisaab.db"
    assert (
        mask_url("postgresql://postgres@127.0.0.1:5432/x")
        == "postgresql://postgres@127.0.0.1:5432/x"
    )


def test_bad_database_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HISAAB_DATABASE_URL", "mysql://root@localhost/hisaab")
    with pytest.raises(InputError, match="HISAAB_DATABASE_URL"):
        get_settings()
