"""Settings come from the environment (or .env), and secrets never show."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from hisaab.config import Settings, get_settings, mask_url
from hisaab.errors import InputError


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in (
        "HISAAB_DATABASE_URL",
        "HISAAB_JWT_SECRET",
        "HISAAB_APPROVAL_THRESHOLD_MINOR",
        "HISAAB_APPROVAL_THRESHOLDS",
    ):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults_are_the_embedded_sqlite_database_and_the_seed_threshold() -> None:
    settings = get_settings()
    assert settings.database_url == "sqlite:///hisaab.db"
    assert settings.approval_threshold_minor == 1_000_000
    assert settings.approval_thresholds_minor() == {"INR": 1_000_000}  # ₹10,000.00, nothing else


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HISAAB_DATABASE_URL", "postgresql://ops:s3cret@db:5432/hisaab")
    monkeypatch.setenv("HISAAB_APPROVAL_THRESHOLD_MINOR", "500000")
    settings = get_settings()
    assert settings.database_url == "postgresql://ops:s3cret@db:5432/hisaab"
    assert settings.approval_threshold_minor == 500_000
    assert settings.approval_thresholds_minor() == {"INR": 500_000}


def test_approval_thresholds_are_major_units_of_each_currency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HISAAB_APPROVAL_THRESHOLDS", " kes=50000 , JPY=100000,KWD=250.5,USD=0,")
    assert get_settings().approval_thresholds_minor() == {
        "INR": 1_000_000,  # ₹10,000.00 from the default paise setting
        "KES": 5_000_000,  # KSh 50,000.00 in cents
        "JPY": 100_000,  # ¥100,000: yen have no minor unit
        "KWD": 250_500,  # KWD 250.500 in fils
        "USD": 0,  # every dollar resolution needs a checker
    }


def test_listed_rupees_win_over_the_legacy_paise_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HISAAB_APPROVAL_THRESHOLD_MINOR", "500000")
    monkeypatch.setenv("HISAAB_APPROVAL_THRESHOLDS", "INR=25000.00,KES=50000")
    assert get_settings().approval_thresholds_minor() == {"INR": 2_500_000, "KES": 5_000_000}


def test_an_empty_threshold_list_leaves_only_rupees(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HISAAB_APPROVAL_THRESHOLDS", "  ")
    assert get_settings().approval_thresholds_minor() == {"INR": 1_000_000}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("KES 50000", "entry 'KES 50000' is not CUR=amount"),
        ("=50000", "entry '=50000' is not CUR=amount"),
        ("KSH=50000", "entry 'KSH=50000': unknown currency 'KSH'"),
        ("KES=fifty thousand", "entry 'KES=fifty thousand': 'fifty thousand' is not an amount"),
        ("KES=50,000", "entry '000' is not CUR=amount.*without thousands separators"),
        ("KES=", "entry 'KES=': '' is not an amount"),
        ("KES=1e5", "entry 'KES=1e5': '1e5' is not an amount"),
        ("KES=-50000", "entry 'KES=-50000': a threshold cannot be negative"),
        ("INR=10000.005", "entry 'INR=10000.005': INR has 2 decimals, '10000.005' has 3"),
        ("JPY=100000.50", "entry 'JPY=100000.50': JPY has 0 decimals, '100000.50' has 2"),
        ("KES=50000,kes=60000", "entry 'kes=60000': KES is listed twice"),
    ],
)
def test_a_bad_threshold_entry_is_named(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("HISAAB_APPROVAL_THRESHOLDS", value)
    with pytest.raises(InputError, match="HISAAB_APPROVAL_THRESHOLDS") as raised:
        get_settings()
    assert re.search(message, raised.value.message)


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
