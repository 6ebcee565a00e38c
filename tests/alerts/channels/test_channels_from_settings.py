"""Which channels a deployment's settings turn on, and that they reach the configured servers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from hisaab.alerts.channels import EmailChannel, SmsChannel, channels_from_settings
from hisaab.alerts.message import Alert
from hisaab.config import Settings
from hisaab.errors import InputError
from sms_server import SmsServer
from smtp_server import SmtpServer

ALERT_SETTINGS = (
    "ADMIN_EMAIL",
    "ADMIN_PHONE",
    "HISAAB_ADMIN_EMAIL",
    "HISAAB_ADMIN_PHONE",
    "HISAAB_SMTP_HOST",
    "HISAAB_SMTP_PORT",
    "HISAAB_SMTP_USERNAME",
    "HISAAB_SMTP_PASSWORD",
    "HISAAB_SMTP_STARTTLS",
    "HISAAB_SMTP_FROM",
    "HISAAB_SMS_URL",
    "HISAAB_SMS_USERNAME",
    "HISAAB_SMS_API_KEY",
    "HISAAB_SMS_SENDER",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ALERT_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    yield


def settings_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


EMAIL = {"HISAAB_SMTP_HOST": "smtp.smilingsteps.example", "ADMIN_EMAIL": "ops@smilingsteps.example"}
SMS = {
    "HISAAB_SMS_URL": "https://api.sandbox.africastalking.com",
    "HISAAB_SMS_USERNAME": "sandbox",
    "HISAAB_SMS_API_KEY": "at-key",
    "ADMIN_PHONE": "+254712345678",
}


def test_nothing_configured_means_no_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    assert channels_from_settings(settings_with(monkeypatch)) == []


def test_email_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    (channel,) = channels_from_settings(settings_with(monkeypatch, **EMAIL))
    assert isinstance(channel, EmailChannel)
    assert channel.host == "smtp.smilingsteps.example" and channel.port == 25
    assert channel.recipients == ("ops@smilingsteps.example",)
    assert channel.sender == "hisaab@localhost"


def test_sms_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    (channel,) = channels_from_settings(settings_with(monkeypatch, **SMS))
    assert isinstance(channel, SmsChannel)
    assert channel.url == "https://api.sandbox.africastalking.com/version1/messaging"
    assert channel.recipients == ("+254712345678",)


def test_both_with_several_admins_each(monkeypatch: pytest.MonkeyPatch) -> None:
    several = {
        "ADMIN_EMAIL": "ops@smilingsteps.example, cfo@smilingsteps.example",
        "ADMIN_PHONE": "+254712345678,0733000111",
    }
    settings = settings_with(monkeypatch, **(EMAIL | SMS | several))
    email, sms = channels_from_settings(settings)
    assert isinstance(email, EmailChannel) and isinstance(sms, SmsChannel)
    assert email.recipients == ("ops@smilingsteps.example", "cfo@smilingsteps.example")
    assert sms.recipients == ("+254712345678", "+254733000111")


@pytest.mark.parametrize("missing", ["HISAAB_SMS_URL", "HISAAB_SMS_API_KEY", "ADMIN_PHONE"])
def test_sms_missing_one_setting_is_off_and_says_which(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, missing: str
) -> None:
    env = {name: value for name, value in SMS.items() if name != missing}
    with caplog.at_level(logging.WARNING, logger="hisaab.alerts.channels"):
        assert channels_from_settings(settings_with(monkeypatch, **env)) == []
    assert f"SMS alerts are off: {missing} not set" in caplog.text


def test_email_without_a_server_is_off_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hisaab.alerts.channels"):
        assert channels_from_settings(settings_with(monkeypatch, ADMIN_EMAIL="ops@x.example")) == []
    assert "email alerts are off: HISAAB_SMTP_HOST not set" in caplog.text


def test_a_malformed_admin_phone_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_with(monkeypatch, **SMS | {"ADMIN_PHONE": "712345678"})
    with pytest.raises(InputError, match=r"^ADMIN_PHONE: SMS recipient 1: "):
        channels_from_settings(settings)


def test_the_api_key_and_password_do_not_show_in_a_channels_repr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_with(
        monkeypatch,
        **EMAIL,
        **SMS,
        HISAAB_SMTP_USERNAME="hisaab",
        HISAAB_SMTP_PASSWORD="smtp-s3cret",
    )
    shown = repr(channels_from_settings(settings))
    assert "at-key" not in shown and "smtp-s3cret" not in shown


def test_configured_channels_reach_the_configured_servers(
    monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer, sms_server: SmsServer, alert: Alert
) -> None:
    settings = settings_with(
        monkeypatch,
        HISAAB_SMTP_HOST=smtp_server.host,
        HISAAB_SMTP_PORT=str(smtp_server.port),
        HISAAB_SMTP_FROM="hisaab@smilingsteps.example",
        ADMIN_EMAIL="ops@smilingsteps.example",
        HISAAB_SMS_URL=sms_server.base_url,
        HISAAB_SMS_USERNAME="hisaab",
        HISAAB_SMS_API_KEY="at-test-key",
        HISAAB_SMS_SENDER="HISAAB",
        ADMIN_PHONE="0712345678",
    )
    receipts = [channel.send(alert) for channel in channels_from_settings(settings)]
    assert [r.channel for r in receipts] == ["email", "sms"]
    assert smtp_server.messages[0].rcpt_tos == ("ops@smilingsteps.example",)
    assert smtp_server.messages[0].mail_from == "hisaab@smilingsteps.example"
    assert sms_server.requests[0].form["to"] == "+254712345678"
    assert sms_server.requests[0].form["from"] == "HISAAB"
