"""Alerts of real-time discrepancies by email and SMS: the message, the channels, the policy.

This package holds no state and touches no database. A caller (the job that delivers alerts)
asks `policy.decide` whether an alert goes out, given when the last one for the same session
and kind went out, then calls `send` on every channel `channels_from_settings` returns. A
channel raises `DeliveryError` whose `retryable` says whether trying again can help; the
retries themselves, with backoff, are the durable queue's.

    message   Alert, and the email and SMS texts rendered from it (amounts exact, phones masked)
    channels  EmailChannel (SMTP), SmsChannel (Africa's Talking HTTP API), DeliveryError
    policy    decide(): send, or suppress a duplicate, a too-frequent or a storm alert
"""

from __future__ import annotations

from hisaab.alerts.channels import (
    Channel,
    DeliveryError,
    DeliveryReceipt,
    EmailChannel,
    SmsChannel,
    channels_from_settings,
)
from hisaab.alerts.message import Alert, Issue
from hisaab.alerts.policy import Decision, Verdict, decide, wants_delivery

__all__ = [
    "Alert",
    "Channel",
    "Decision",
    "DeliveryError",
    "DeliveryReceipt",
    "EmailChannel",
    "Issue",
    "SmsChannel",
    "Verdict",
    "channels_from_settings",
    "decide",
    "wants_delivery",
]
