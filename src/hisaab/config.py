"""Settings of a Hisaab deployment, from the environment or a `.env` file, read when asked.

Every setting is `HISAAB_<NAME>` in the environment (e.g. HISAAB_DATABASE_URL). Nothing is
read at import time: `get_settings()` reads once per process and caches; tests clear the cache.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hisaab.errors import CurrencyError, InputError
from hisaab.money import exponent, normalize_currency, parse_amount

DEFAULT_DATABASE_URL = "sqlite:///hisaab.db"
# A threshold in HISAAB_APPROVAL_THRESHOLDS: ASCII digits, optionally a point and decimals.
_PLAIN_AMOUNT = re.compile(r"[0-9]+(?:\.(?P<fraction>[0-9]+))?")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HISAAB_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="sqlite:///path (the embedded default) or postgresql://user:pass@host:port/db",
    )
    redis_url: str | None = Field(default=None, description="redis://host:port/db, optional")
    jwt_secret: SecretStr | None = Field(default=None, description="HS256 signing secret")
    jwt_ttl_seconds: int = Field(default=8 * 3600, ge=60, le=7 * 24 * 3600)
    # Maker-checker: a resolution above its currency's threshold waits for a second approver.
    approval_thresholds: str = Field(
        default="",
        description=(
            "per-currency approval thresholds in major units, CUR=amount separated by commas "
            "(INR=10000.00,KES=50000): resolving an exception above its currency's amount needs "
            "a second approver; in a currency with no threshold, every resolution does"
        ),
    )
    approval_threshold_minor: int = Field(
        default=1_000_000,
        ge=0,
        description=(
            "INR's approval threshold in paise (default 1,000,000 = ₹10,000.00); applies only "
            "when HISAAB_APPROVAL_THRESHOLDS does not list INR, and never to other currencies"
        ),
    )
    data_dir: str = Field(default="hisaab-data", description="where uploaded files are kept")
    exception_sla_hours: int = Field(
        default=24, ge=1, le=24 * 90, description="an exception is due this long after it opens"
    )
    overview_cache_seconds: int = Field(
        default=30, ge=0, le=3600, description="how long overview answers are cached"
    )
    access_log: bool = Field(
        default=True, description="one JSON line per HTTP request on standard error"
    )
    auth_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="how long a process trusts what it read of a token's user (0: every request)",
    )
    api_threads: int = Field(
        default=16,
        ge=2,
        le=512,
        description="thread-pool calls an API process runs at once (sync routes, auth)",
    )
    api_db_sessions: int = Field(
        default=16,
        ge=1,
        le=512,
        description=(
            "requests of an API process that hold a database session at once; the others wait "
            "their turn without blocking a thread. An API process opens up to api_threads + "
            "api_db_sessions + 6 database connections (hisaab.api.capacity)"
        ),
    )
    db_pool_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="how long a request waits for a database connection before a 503",
    )

    # Real-time M-Pesa (Daraja). Without a base URL, STK Push and queries answer "not configured".
    mpesa_base_url: str | None = Field(
        default=None, description="Daraja base URL, e.g. https://sandbox.safaricom.co.ke"
    )
    mpesa_consumer_key: SecretStr | None = Field(default=None, description="Daraja app key")
    mpesa_consumer_secret: SecretStr | None = Field(default=None, description="Daraja app secret")
    mpesa_shortcode: str = Field(default="174379", description="paybill or till number")
    mpesa_passkey: SecretStr | None = Field(default=None, description="Lipa na M-Pesa passkey")
    mpesa_transaction_type: str = Field(
        default="CustomerPayBillOnline", description="or CustomerBuyGoodsOnline for a till"
    )
    mpesa_callback_url: str | None = Field(
        default=None, description="public base URL Safaricom calls back (https://host)"
    )
    mpesa_callback_secret: SecretStr | None = Field(
        default=None, description="the ?secret= every callback URL carries"
    )
    mpesa_initiator: str | None = Field(default=None, description="Transaction Status initiator")
    mpesa_security_credential: SecretStr | None = Field(
        default=None, description="encrypted initiator password for Transaction Status"
    )
    realtime_check_interval_seconds: int = Field(
        default=900, ge=1, description="how often sessions stuck in processing are queried"
    )
    realtime_check_batch_size: int = Field(default=100, ge=1, le=10_000)
    realtime_stuck_after_seconds: int = Field(
        default=120, ge=1, description="a session processing longer than this is stuck"
    )
    # Reconcile a session in the transaction that records an event about it (callback, C2B
    # confirmation, status result, initiation); the durable queue takes it only if that fails.
    # False sends every reconciliation through the queue to a worker.
    realtime_reconcile_at_intake: bool = Field(
        default=True,
        description="reconcile in the transaction that records the event (else: via the queue)",
    )
    ws_heartbeat_seconds: float = Field(default=30.0, gt=0, le=3600)
    realtime_stats_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="how long an API process reuses the real-time statistics it computed",
    )
    # Completed queue jobs are deleted after this many days (0 keeps them); see queue.retention.
    queue_retention_days: int = Field(default=7, ge=0)
    queue_prune_interval_seconds: int = Field(default=3600, ge=1)
    # permessage-deflate on the WebSocket: smaller frames for dashboards on slow links, at a
    # compression pass per message per client in the API process. Off by default.
    ws_compression: bool = False
    # Alerts for high-severity discrepancies.
    admin_email: str | None = Field(
        default=None, validation_alias=AliasChoices("HISAAB_ADMIN_EMAIL", "ADMIN_EMAIL")
    )
    admin_phone: str | None = Field(
        default=None, validation_alias=AliasChoices("HISAAB_ADMIN_PHONE", "ADMIN_PHONE")
    )
    smtp_host: str | None = Field(default=None, description="SMTP server for email alerts")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_from: str = Field(default="hisaab@localhost", description="sender of email alerts")
    sms_url: str | None = Field(
        default=None, description="Africa's Talking compatible base URL for SMS alerts"
    )
    sms_username: str | None = None
    sms_api_key: SecretStr | None = None
    sms_sender: str | None = Field(default=None, description="sender id, if the account has one")
    alert_min_interval_seconds: int = Field(
        default=300, ge=0, description="one alert per session and type within this interval"
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must start with sqlite:// or postgresql://")
        return value

    @field_validator("approval_thresholds")
    @classmethod
    def _exact_thresholds(cls, value: str) -> str:
        parse_approval_thresholds(value)
        return value.strip()

    def approval_thresholds_minor(self) -> dict[str, int]:
        """Each configured currency's approval threshold, in minor units of that currency.

        HISAAB_APPROVAL_THRESHOLDS, plus INR from HISAAB_APPROVAL_THRESHOLD_MINOR unless the
        list names INR itself. A currency absent from the answer has no threshold.
        """
        return {
            "INR": self.approval_threshold_minor,
            **parse_approval_thresholds(self.approval_thresholds),
        }

    def shown(self) -> dict[str, Any]:
        """The effective settings with secrets and passwords masked, for `hisaab config show`."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            elif isinstance(value, str) and "://" in value:
                value = mask_url(value)
            out[f"HISAAB_{name.upper()}"] = value
        return out


def mask_url(url: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:********@host/db"""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:********@{host}"


def parse_approval_thresholds(text: str) -> dict[str, int]:
    """`INR=10000.00,KES=50000` -> {"INR": 1000000, "KES": 5000000}: major units, exactly.

    Raises ValueError naming the entry at fault: not `CUR=amount`, an unknown currency, an
    amount that is not a plain non-negative number, more decimals than the currency has, or a
    currency listed twice. Blank entries (a trailing comma) are skipped.
    """
    thresholds: dict[str, int] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        code, equals, amount = (piece.strip() for piece in entry.partition("="))
        if not equals or not code:
            hint = " (amounts are written without thousands separators)" if code.isdigit() else ""
            raise ValueError(f"entry {entry!r} is not CUR=amount, such as KES=50000{hint}")
        try:
            currency = normalize_currency(code)
            exp = exponent(currency)
        except CurrencyError as exc:
            raise ValueError(f"entry {entry!r}: {exc.message}") from None
        if currency in thresholds:
            raise ValueError(f"entry {entry!r}: {currency} is listed twice")
        if amount.startswith("-"):
            raise ValueError(f"entry {entry!r}: a threshold cannot be negative")
        digits = _PLAIN_AMOUNT.fullmatch(amount)
        if digits is None:
            raise ValueError(
                f"entry {entry!r}: {amount!r} is not an amount; write major units without "
                "separators, such as 50000 or 50000.00"
            )
        decimals = len(digits.group("fraction") or "")
        if decimals > exp:
            raise ValueError(
                f"entry {entry!r}: {currency} has {exp} decimals, {amount!r} has {decimals}"
            )
        thresholds[currency] = parse_amount(amount, currency)
    return thresholds


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "HISAAB_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise InputError(f"{name}: {first['msg']}", expected="see `hisaab config show`") from None
