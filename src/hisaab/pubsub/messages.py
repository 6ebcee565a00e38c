"""The wire form of a fan-out message: compact JSON text of a JSON object, at most 7,999 bytes.

Every transport carries the same text, so a message that travels in-process on a laptop travels
unchanged through PostgreSQL NOTIFY or Redis in production. The limit is PostgreSQL's NOTIFY
payload limit (a payload must be shorter than 8,000 bytes), applied to every transport for that
reason. A message over it is refused with `MessageTooLarge` when it is published, inside the
publisher's transaction: messages are small notices (what changed, its id, a few fields), and
anything bigger belongs in the database, where a client fetches it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hisaab.errors import HisaabError

MAX_MESSAGE_BYTES = 7_999


class FanoutError(HisaabError):
    """A message that cannot be fanned out, or a fan-out transport that cannot be used."""

    code = "FANOUT_ERROR"


class MessageTooLarge(FanoutError):
    """A message whose JSON text is over MAX_MESSAGE_BYTES."""

    code = "FANOUT_MESSAGE_TOO_LARGE"


def encode(message: Mapping[str, Any]) -> str:
    """The compact JSON text of `message`; FanoutError if it is not JSON or too large."""
    if not isinstance(message, Mapping):
        raise FanoutError(
            f"a fan-out message must be a mapping (a JSON object), not {type(message).__name__}"
        )
    try:
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        size = len(text.encode("utf-8"))
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise FanoutError(f"fan-out message{_kind(message)} is not valid JSON: {exc}") from None
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(
            f"fan-out message{_kind(message)} is {size} bytes of JSON; the limit is"
            f" {MAX_MESSAGE_BYTES}: publish the id of what changed and let clients fetch it"
        )
    return text


def decode(text: str | bytes) -> dict[str, Any]:
    """The message a payload carries; ValueError when it is not a JSON object."""
    message = json.loads(text)
    if not isinstance(message, dict):
        raise ValueError(f"expected a JSON object, got {type(message).__name__}")
    return message


def _kind(message: Mapping[str, Any]) -> str:
    kind = message.get("type")
    return f" of type {kind!r}" if isinstance(kind, str) else ""
