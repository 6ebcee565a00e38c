"""Kenyan phone numbers as M-Pesa writes them: normalising, masking, and telling MSISDN kinds apart.

Hisaab stores a payer's number as the 12 digits `2547XXXXXXXX` (or `2541XXXXXXXX`) and shows it
masked like M-Pesa's own receipts, first 4 and last 3 digits: `2547****149`. Daraja sends
numbers in three kinds: plain digits (STK callbacks, as a JSON number), masked with `*`
(C2B v2: `25470****149`), or a SHA-256 hex digest of the number (C2B v1). Masked and hashed
numbers cannot be turned back into a number, so they are kept exactly as given.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from hisaab.mpesa.errors import MpesaPayloadError

_KENYAN = re.compile(r"(?:\+?254|0)?([17][0-9]{8})")
_SEPARATORS = re.compile(r"[\s\-().]")
_MASKED = re.compile(r"\+?[0-9]*\*+[0-9]*")
_HASHED = re.compile(r"[0-9a-fA-F]{64}")
_PLAIN = re.compile(r"\+?[0-9]{9,15}")

PHONE_EXPECTED = "a Kenyan mobile number such as 0712345678, +254712345678 or 254712345678"


class MsisdnKind(StrEnum):
    PLAIN = "plain"
    MASKED = "masked"
    HASHED = "hashed"


def _as_text(value: Any, path: str | None) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MpesaPayloadError(
            f"phone number {value!r} is neither text nor a number",
            path=path,
            expected=PHONE_EXPECTED,
        )
    return str(value).strip()


def normalise_phone(value: str | int, *, path: str | None = None) -> str:
    """ "0712345678", "+254712345678", "254712345678", "712345678" -> "254712345678".

    Spaces, hyphens, dots and brackets between digits are ignored; anything else raises.
    """
    text = _SEPARATORS.sub("", _as_text(value, path))
    match = _KENYAN.fullmatch(text)
    if match is None:
        raise MpesaPayloadError(
            f"{value!r} is not a Kenyan mobile number", path=path, expected=PHONE_EXPECTED
        )
    return "254" + match.group(1)


def mask_phone(value: str | int) -> str:
    """ "254708374149" -> "2547****149": first 4 and last 3 digits. Masked or hashed: as given."""
    text = _as_text(value, None)
    if "*" in text or _HASHED.fullmatch(text):
        return text
    phone = normalise_phone(text)
    return f"{phone[:4]}****{phone[-3:]}"


def classify_msisdn(value: Any, *, path: str | None = None) -> tuple[str, MsisdnKind]:
    """(the number as given, its kind). A JSON number becomes its digits; garbage raises."""
    text = _as_text(value, path)
    if _MASKED.fullmatch(text) and sum(ch.isdigit() for ch in text) >= 3:
        return text, MsisdnKind.MASKED
    if _HASHED.fullmatch(text):
        return text, MsisdnKind.HASHED
    if _PLAIN.fullmatch(_SEPARATORS.sub("", text)):
        return text, MsisdnKind.PLAIN
    raise MpesaPayloadError(
        f"{value!r} is not a phone number, a masked one (25470****149) or a SHA-256 hash",
        path=path,
        expected=PHONE_EXPECTED,
    )


def payer_phone(value: Any, *, path: str | None = None) -> str:
    """A payer's number for storage: Kenyan plain numbers normalised, everything else as given."""
    text, kind = classify_msisdn(value, path=path)
    if kind is MsisdnKind.PLAIN:
        try:
            return normalise_phone(text)
        except MpesaPayloadError:
            return _SEPARATORS.sub("", text)
    return text
