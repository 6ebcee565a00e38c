"""Where alerts go: email over SMTP, SMS over an Africa's Talking compatible HTTP API.

    base    the Channel protocol, DeliveryReceipt, DeliveryError
    email   EmailChannel (smtplib)
    sms     SmsChannel (httpx, Africa's Talking bulk SMS API)

A channel delivers one alert per `send` call, synchronously, or raises `DeliveryError`:

    HisaabError
    └── DeliveryError   code ALERT_DELIVERY_FAILED, 502; `retryable` says whether sending the
                        same alert again later can help (the durable queue does the retrying)

Retryable: the server is down or does not answer (connection refused, timeouts), a temporary
refusal (SMTP 4xx, HTTP 408/429/5xx, SMS statusCode 500/501). Not retryable: what a person has
to fix first, such as a recipient the SMTP server refuses (5xx), an invalid phone number, bad
credentials, an empty SMS balance, a missing STARTTLS, a TLS certificate that does not verify.

A delivery accepted for some recipients and refused for others is a success (its receipt
names the refused ones): sending again would repeat the alert to those who already have it.
Reasons and receipts never hold a full phone number, and never a password or API key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from hisaab.alerts.channels.base import (
    DEFAULT_TIMEOUT_SECONDS,
    Channel,
    DeliveryError,
    DeliveryReceipt,
    split_list,
)
from hisaab.alerts.channels.email import EmailChannel
from hisaab.alerts.channels.sms import (
    SMS_ACCEPTED,
    SMS_RETRYABLE,
    SmsChannel,
    international_phone,
)
from hisaab.errors import InputError

if TYPE_CHECKING:
    from hisaab.config import Settings

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "SMS_ACCEPTED",
    "SMS_RETRYABLE",
    "Channel",
    "DeliveryError",
    "DeliveryReceipt",
    "EmailChannel",
    "SmsChannel",
    "channels_from_settings",
    "international_phone",
    "split_list",
]

log = logging.getLogger(__name__)


def channels_from_settings(settings: Settings) -> list[Channel]:
    """The channels the settings configure completely; a half-configured one is logged.

    Email needs HISAAB_SMTP_HOST and ADMIN_EMAIL; SMS needs HISAAB_SMS_URL,
    HISAAB_SMS_USERNAME, HISAAB_SMS_API_KEY and ADMIN_PHONE. Both admin settings may list
    several recipients separated by commas. A malformed recipient raises `InputError`.
    """
    channels: list[Channel] = []
    email_needs = {"HISAAB_SMTP_HOST": settings.smtp_host, "ADMIN_EMAIL": settings.admin_email}
    if _complete("email", email_needs):
        password = settings.smtp_password
        channels.append(
            _configured(
                "ADMIN_EMAIL",
                lambda: EmailChannel(
                    host=str(settings.smtp_host),
                    port=settings.smtp_port,
                    recipients=split_list(str(settings.admin_email)),
                    sender=settings.smtp_from,
                    username=settings.smtp_username,
                    password=password.get_secret_value() if password else None,
                    starttls=settings.smtp_starttls,
                ),
            )
        )
    api_key = settings.sms_api_key.get_secret_value() if settings.sms_api_key else None
    sms_needs = {
        "HISAAB_SMS_URL": settings.sms_url,
        "HISAAB_SMS_USERNAME": settings.sms_username,
        "HISAAB_SMS_API_KEY": api_key,
        "ADMIN_PHONE": settings.admin_phone,
    }
    if _complete("SMS", sms_needs):
        channels.append(
            _configured(
                "ADMIN_PHONE",
                lambda: SmsChannel(
                    base_url=str(settings.sms_url),
                    username=str(settings.sms_username),
                    api_key=str(api_key),
                    recipients=split_list(str(settings.admin_phone)),
                    sender=settings.sms_sender,
                ),
            )
        )
    return channels


def _complete(channel: str, needs: dict[str, str | None]) -> bool:
    missing = [name for name, value in needs.items() if not value]
    if missing and len(missing) < len(needs):
        log.warning("%s alerts are off: %s not set", channel, ", ".join(missing))
    return not missing


def _configured(setting: str, build: Callable[[], Channel]) -> Channel:
    try:
        channel = build()
    except InputError as exc:
        raise InputError(f"{setting}: {exc.message}", expected=exc.expected) from None
    return channel
