"""The alerts the tests send: a worked amount mismatch on an M-Pesa payment, and variations."""

from __future__ import annotations

import datetime as dt

from hisaab.alerts.message import Alert

DETECTED_AT = dt.datetime(2024, 12, 14, 10, 30, tzinfo=dt.UTC)


def amount_mismatch(**changes: object) -> Alert:
    """The worked example: KES 1,500.00 expected, M-Pesa receipt RKTQDM7W6S paid KES 1,000.00."""
    fields: dict[str, object] = {
        "session_id": "507f1f77bcf86cd799439011",
        "kind": "amount_mismatch",
        "severity": "high",
        "issues": [
            ("amount_mismatch", "M-Pesa paid 1,000.00 KES; the session's price is 1,500.00 KES")
        ],
        "amount_minor": 150_000,
        "currency": "KES",
        "receipt": "RKTQDM7W6S",
        "phone": "254708374149",
        "detected_at": DETECTED_AT,
    }
    fields.update(changes)
    return Alert(**fields)  # type: ignore[arg-type]
