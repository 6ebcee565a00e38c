"""Reading decoded Daraja JSON field by field, each failure naming the JSON path at fault.

The readers are liberal about representation (a number may come as a JSON number or a
string, a list of one item may come as the item itself) and strict about meaning: money
must be a whole number of cents, times must be real calendar times, identifiers non-empty.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from hisaab.mpesa.errors import MpesaPayloadError
from hisaab.mpesa.protocol import KENYA_TZ

ROOT = "(body)"
KES = "KES"
_MINOR_PER_SHILLING = 100
_DAR_TIME = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})")
_ISO_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?"
)


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return key if path == ROOT else f"{path}.{key}"


def mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MpesaPayloadError(
            f"expected a JSON object, got {type(value).__name__}", path=path, expected="an object"
        )
    return value


def member(obj: Mapping[str, Any], key: str, path: str) -> Any:
    """obj[key], which must be there and not null."""
    value = obj.get(key)
    if value is None:
        raise MpesaPayloadError(f"{key} is missing", path=join(path, key))
    return value


def items(value: Any, path: str) -> list[Any]:
    """A JSON list; a lone object is a list of one (XML-to-JSON gateways collapse them)."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    raise MpesaPayloadError(
        f"expected a list, got {type(value).__name__}", path=path, expected="a JSON list"
    )


def text(value: Any, path: str, *, allow_empty: bool = False) -> str:
    """A string field; a JSON number is accepted as its digits (never a bool or float)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MpesaPayloadError(
            f"expected text, got {value!r}", path=path, expected="a JSON string"
        )
    result = str(value).strip()
    if not result and not allow_empty:
        raise MpesaPayloadError("is empty", path=path, expected="a non-empty value")
    return result


def optional_text(value: Any, path: str) -> str | None:
    """A string field that may be missing, null or empty (all mean None)."""
    if value is None:
        return None
    result = text(value, path, allow_empty=True)
    return result or None


def optional_amount_minor(value: Any, path: str) -> int | None:
    """Like `amount_minor`, but "" and null mean "no amount" (None)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return amount_minor(value, path)


def amount_minor(value: Any, path: str) -> int:
    """KES minor units from 1, 1.0, "10", "10.00". Floats are read through their shortest repr
    (Decimal(str(x))), so 0.1 + 0.2 is refused instead of rounded. Refuses negatives, more
    than 2 decimal places, NaN, infinities, booleans and thousands separators.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MpesaPayloadError(
            f"amount {value!r} is not a number", path=path, expected="an amount such as 10.00"
        )
    raw = str(value).strip()
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise MpesaPayloadError(
            f"amount {value!r} is not a number", path=path, expected="an amount such as 10.00"
        ) from None
    if not amount.is_finite():
        raise MpesaPayloadError(f"amount {value!r} is not finite", path=path)
    if amount < 0:
        raise MpesaPayloadError(
            f"amount {value!r} is negative", path=path, expected="an amount of zero or more"
        )
    minor = amount * _MINOR_PER_SHILLING
    if minor != minor.to_integral_value():
        raise MpesaPayloadError(
            f"amount {value!r} has more than 2 decimal places",
            path=path,
            expected="whole cents (KES has 2 decimals)",
        )
    return int(minor)


def _zone(offset: str | None) -> dt.tzinfo:
    if offset is None:
        return KENYA_TZ
    if offset == "Z":
        return dt.UTC
    digits = offset[1:].replace(":", "")
    delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return dt.timezone(delta if offset[0] == "+" else -delta)


def kenya_time(value: Any, path: str) -> dt.datetime:
    """Daraja's local time (20191219102115, as a number or string; or ISO 8601 without a zone)
    as a timezone-aware UTC datetime. An ISO time with its own offset keeps that offset."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MpesaPayloadError(
            f"time {value!r} is not a Daraja timestamp", path=path, expected="YYYYMMDDHHmmss"
        )
    raw = str(value).strip()
    compact = _DAR_TIME.fullmatch(raw)
    iso = None if compact else _ISO_TIME.fullmatch(raw)
    zone: dt.tzinfo
    if compact is not None:
        parts, zone = compact.groups(), KENYA_TZ
    elif iso is not None:
        parts, zone = iso.groups()[:6], _zone(iso.group(8))
    else:
        raise MpesaPayloadError(
            f"time {value!r} is not a Daraja timestamp",
            path=path,
            expected="YYYYMMDDHHmmss in Kenya time, e.g. 20191219102115",
        )
    year, month, day, hour, minute, second = (int(p) for p in parts)
    try:
        local = dt.datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError as exc:
        raise MpesaPayloadError(
            f"time {value!r} is not a real time ({exc})",
            path=path,
            expected="YYYYMMDDHHmmss in Kenya time",
        ) from None
    return local.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class Param:
    """One {"Name"/"Key": ..., "Value": ...} item of a Daraja list; `value` None when absent."""

    path: str
    value: Any


def named_values(raw: Any, path: str, *, name_key: str) -> dict[str, Param]:
    """A Daraja list of named items as a dict by name. Order does not matter; an item without
    a value is kept with value None; the same name twice with different values is refused."""
    found: dict[str, Param] = {}
    for index, item in enumerate(items(raw, path)):
        item_path = join(path, index)
        obj = mapping(item, item_path)
        name = text(member(obj, name_key, item_path), join(item_path, name_key))
        param = Param(join(item_path, "Value"), obj.get("Value"))
        previous = found.get(name)
        if previous is not None and previous.value != param.value:
            raise MpesaPayloadError(
                f"{name} appears twice with different values "
                f"({previous.value!r} at {previous.path})",
                path=param.path,
            )
        found.setdefault(name, param)
    return found
