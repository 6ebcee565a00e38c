"""Alert tests' real servers (SMTP by aiosmtpd, an Africa's Talking look-alike) and alerts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alert_examples import amount_mismatch

from hisaab.alerts.message import Alert
from sms_server import SmsServer, SmsServerUnavailable
from smtp_server import SmtpServer, SmtpServerUnavailable


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server collecting what it receives; it fails the test if it cannot start."""
    try:
        server = SmtpServer().start()
    except (SmtpServerUnavailable, OSError, TimeoutError) as exc:
        pytest.fail(f"cannot start the test SMTP server: {exc}")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def sms_server() -> Iterator[SmsServer]:
    """A running Africa's Talking look-alike (username hisaab, API key at-test-key)."""
    try:
        server = SmsServer(username="hisaab", api_key="at-test-key").start()
    except (SmsServerUnavailable, OSError) as exc:
        pytest.fail(f"cannot start the test SMS server: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def alert() -> Alert:
    return amount_mismatch()
