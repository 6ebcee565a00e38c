"""What every alert channel shares: the `Channel` protocol, its receipt and its one error.

HisaabError
└── DeliveryError   code ALERT_DELIVERY_FAILED, 502; `retryable` says whether sending the
                    same alert again later can help (the durable queue does the retrying)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hisaab.alerts.message import Alert
from hisaab.errors import HisaabError
from hisaab.logs import mask

DEFAULT_TIMEOUT_SECONDS = 10.0


class DeliveryError(HisaabError):
    """A channel could not deliver an alert; `retryable` is False when only a person can help."""

    code = "ALERT_DELIVERY_FAILED"
    http_status = 502

    def __init__(self, retryable: bool, reason: str, *, channel: str = "alert") -> None:
        reason = mask(reason)
        kind = "temporary" if retryable else "permanent"
        super().__init__(f"{channel} alert not delivered ({kind} failure): {reason}")
        self.retryable = retryable
        self.reason = reason
        self.channel = channel


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """What a channel delivered: to whom (masked), the provider's message id where known."""

    channel: str
    recipients: tuple[str, ...]
    message_id: str | None
    detail: str = ""


class Channel(Protocol):
    """A way to reach the admins. `send` returns a receipt or raises `DeliveryError`."""

    @property
    def name(self) -> str: ...

    def send(self, alert: Alert, *, note: str | None = None) -> DeliveryReceipt: ...


def split_list(text: str) -> list[str]:
    """`"a@x.com, b@x.com"` -> `["a@x.com", "b@x.com"]` (settings may list several)."""
    return [part.strip() for part in text.split(",") if part.strip()]
