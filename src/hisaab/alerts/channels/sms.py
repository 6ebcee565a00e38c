"""SMS alerts over Africa's Talking's bulk SMS HTTP API (or a service speaking it), with httpx."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import httpx

from hisaab.alerts.channels.base import DEFAULT_TIMEOUT_SECONDS, DeliveryError, DeliveryReceipt
from hisaab.alerts.message import Alert, mask_phone, sms_text
from hisaab.errors import InputError

# Africa's Talking per-recipient statusCode values.
SMS_ACCEPTED = frozenset({100, 101, 102})  # Processed, Sent, Queued
SMS_RETRYABLE = frozenset({500, 501})  # InternalServerError, GatewayError
_KENYA_LOCAL = re.compile(r"0[17]\d{8}")
_KENYA_INTERNATIONAL = re.compile(r"254[17]\d{8}")
_E164_DIGITS = re.compile(r"[1-9]\d{7,14}")


def international_phone(text: str) -> str:
    """`+254 712 345 678`, `254712345678`, `00254712345678` or `0712345678` -> `+254712345678`.

    Without a leading `+` or `00`, only Kenyan numbers are recognised (`2547XXXXXXXX`,
    `2541XXXXXXXX`, `07XXXXXXXX`, `01XXXXXXXX`): any other number must say its country.
    """
    compact = re.sub(r"[\s\-().]", "", text)
    if compact.startswith("+"):
        digits = compact[1:]
    elif compact.startswith("00"):
        digits = compact[2:]
    elif _KENYA_LOCAL.fullmatch(compact):
        digits = "254" + compact[1:]
    elif _KENYA_INTERNATIONAL.fullmatch(compact):
        digits = compact
    else:
        digits = ""
    if not _E164_DIGITS.fullmatch(digits):
        raise InputError(
            f"{mask_phone(text)!s} is not a phone number with its country code",
            expected="a number such as +254712345678",
        )
    return "+" + digits


class SmsChannel:
    """SMS alerts through Africa's Talking's bulk SMS API (or a service speaking it).

    `POST {base_url}/version1/messaging`, form-encoded `username`, `to` (comma-separated
    +E.164 numbers), `message` and optionally `from` (the sender id), with headers
    `apiKey` and `Accept: application/json`. The answer lists each recipient with a
    `statusCode`: 100, 101 and 102 mean accepted; anything else is a refusal.
    """

    name = "sms"

    def __init__(
        self,
        *,
        base_url: str,
        username: str,
        api_key: str,
        recipients: Sequence[str],
        sender: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if not recipients:
            raise InputError("an SMS channel needs at least one recipient")
        numbers = []
        for position, raw in enumerate(recipients, start=1):
            try:
                numbers.append(international_phone(raw))
            except InputError as exc:
                raise InputError(
                    f"SMS recipient {position}: {exc.message}", expected=exc.expected
                ) from None
        base = base_url.rstrip("/")
        self.url = base if base.endswith("/version1/messaging") else base + "/version1/messaging"
        self.username = username
        self._api_key = api_key
        self.recipients = tuple(numbers)
        self.sender = sender
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"SmsChannel(url={self.url!r}, recipients={len(self.recipients)})"

    def send(self, alert: Alert, *, note: str | None = None) -> DeliveryReceipt:
        form = {
            "username": self.username,
            "to": ",".join(self.recipients),
            "message": sms_text(alert, note=note),
        }
        if self.sender:
            form["from"] = self.sender
        headers = {"apiKey": self._api_key, "Accept": "application/json"}
        try:
            with httpx.Client(timeout=self.timeout) as client:
                response = client.post(self.url, data=form, headers=headers)
        except httpx.UnsupportedProtocol as exc:
            raise self._error(False, f"the SMS URL {self.url!r} cannot be used: {exc}") from None
        except httpx.TimeoutException:
            raise self._error(
                True, f"no answer from {self.url} within {self.timeout:g} s"
            ) from None
        except httpx.TransportError as exc:
            raise self._error(True, f"cannot reach {self.url}: {exc}") from None
        return self._read(response)

    def _error(self, retryable: bool, reason: str) -> DeliveryError:
        return DeliveryError(retryable, reason, channel=self.name)

    def _read(self, response: httpx.Response) -> DeliveryReceipt:
        status = response.status_code
        body = " ".join(response.text.split())[:300]
        if status == 401:
            raise self._error(
                False, f"the SMS provider refused the username or API key (HTTP 401): {body}"
            )
        if status in (408, 429) or status >= 500:
            raise self._error(True, f"the SMS provider answered HTTP {status}: {body}")
        if not 200 <= status < 300:
            raise self._error(
                False, f"the SMS provider refused the request (HTTP {status}): {body}"
            )
        try:
            data: Any = response.json()
            summary = data["SMSMessageData"]
            entries = summary["Recipients"]
            if not isinstance(entries, list):
                raise TypeError
            results = [
                (str(e["number"]), int(e["statusCode"]), str(e["status"]), e.get("messageId"))
                for e in entries
            ]
        except (ValueError, KeyError, TypeError):
            # It may have been sent: not retried, so the admins do not get it twice.
            raise self._error(
                False, f"unreadable answer from the SMS provider (HTTP {status}): {body}"
            ) from None
        if not results:
            raise self._error(False, f"the SMS provider sent nothing: {summary.get('Message')}")
        accepted = [r for r in results if r[1] in SMS_ACCEPTED]
        refused = [r for r in results if r[1] not in SMS_ACCEPTED]
        listed = "; ".join(f"{mask_phone(n)}: {code} {text}" for n, code, text, _ in refused)
        if not accepted:
            retryable = all(code in SMS_RETRYABLE for _, code, _, _ in refused)
            raise self._error(retryable, f"every recipient was refused ({listed})")
        ids = [str(message_id) for *_, message_id in accepted if message_id]
        return DeliveryReceipt(
            channel=self.name,
            recipients=tuple(mask_phone(n) for n, *_ in accepted),
            message_id=",".join(ids) or None,
            detail=f"refused: {listed}" if refused else str(summary.get("Message", "")),
        )
