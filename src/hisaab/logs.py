"""Structured logging: one JSON object per line, with customers' identifiers masked.

`configure_logging()` installs one handler on the root logger. Every record that reaches it
is masked first (its message and every string field, nested ones included), then rendered as
a JSON line: `timestamp` (UTC, ISO 8601), `level`, `logger`, `message`, `request_id` (from
the record, else from `request_id_var`, which the API's middleware sets per request), any
`extra=` fields, and `exception` when there is one.

Masking rules (`mask()`), applied in one left-to-right pass so nothing is masked twice:

1. Emails keep their first character and the domain: `a****@example.com`.
2. UPI VPAs (`handle@psp`, the PSP part without a dot) keep the handle's first character and
   the PSP, which ops need to tell the app apart: `r****@okhdfcbank`, `9****@ybl`.
3. Account numbers after an account keyword (`a/c`, `acct`, `account`, `account no.`) keep
   their last 4 digits whatever their length, 12 digits included: `acct ****9012`.
4. Phone numbers keep the country code, the subscriber number's first digit and its last
   three digits, like M-Pesa's own receipts:
   - Kenya: `2547XXXXXXXX` / `2541XXXXXXXX`, with or without `+` -> `2547****678`, and
     `07XXXXXXXX` / `01XXXXXXXX` -> `07****678`;
   - India: `+91` (optionally followed by a space or hyphen) and 10 digits starting 6-9 ->
     `+919****210`; a bare 10-digit mobile `9876543210` -> `9****210`.
5. Any other standalone run of 9-11 or 13-18 digits (a bank account number) keeps its last 4
   digits: `****5678`. "Standalone" means no letter or digit right before or after it.

What stays readable, on purpose, because ops search the logs by it:

- 12-digit runs: UPI/IMPS RRNs (`YDDDHHNNNNNN`). A bare `91` + 10 digits is also 12 digits and
  is indistinguishable from an RRN, so an Indian number is masked only when written with `+91`
  (or `91-`/`91 `). A bare `2547...`/`2541...` is masked as a Kenyan phone: an RRN cannot
  start so, as its digits 2-4 are a day of the year (547 and 541 are not).
- NEFT/RTGS UTRs (16-22 characters, starting with the bank's letters, e.g.
  `HDFCN52024112112345678`) and M-Pesa receipt codes (`QKJ4ABC123`): the digits are glued to
  letters, so they are not standalone runs.
- Digit runs up to 8 long (amounts, dates, ids), and numbers that are not strings (ints in
  `extra=`), which are never masked.

Known limits: a phone written with spaces inside the subscriber number (`98765 43210`) and an
account number glued to letters (`acct123456789`) are not recognised; a 9+ digit value that is
not sensitive (an epoch timestamp in text) is masked too, which errs on the safe side.
"""

from __future__ import annotations

import datetime as dt
import json as jsonlib
import logging
import re
import sys
import traceback
from contextvars import ContextVar
from typing import Any, Final, TextIO

# The id of the request being served; the API's request-id middleware sets it.
request_id_var: ContextVar[str | None] = ContextVar("hisaab_request_id", default=None)

_NOT_ALNUM_BEFORE = r"(?<![A-Za-z0-9])"
_NOT_ALNUM_AFTER = r"(?![A-Za-z0-9])"
# "+91", "+91 ", "+91-", or a bare "91" only when a space or hyphen sets it apart.
_INDIA_PREFIX = r"\+91[\s\-]?|(?<![A-Za-z0-9+])91[\s\-]"

_SENSITIVE = re.compile(
    rf"""
    (?P<email>{_NOT_ALNUM_BEFORE}[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)
    | (?P<vpa>{_NOT_ALNUM_BEFORE}[A-Za-z0-9._\-]{{2,256}}@[A-Za-z]{{2,64}}{_NOT_ALNUM_AFTER})
    | (?P<account_label>(?i:\b(?:a/c|acct|account)(?:\s*(?:no\.?|number|\#))?\s*[:=\-]?\s*))
      (?P<account_number>\d{{9,18}}){_NOT_ALNUM_AFTER}
    | {_NOT_ALNUM_BEFORE}(?P<ke_prefix>\+?254[17]|0[17])(?P<ke_rest>\d{{8}}){_NOT_ALNUM_AFTER}
    | (?P<in_prefix>{_INDIA_PREFIX})(?P<in_rest>[6-9]\d{{9}}){_NOT_ALNUM_AFTER}
    | {_NOT_ALNUM_BEFORE}(?P<in_bare>[6-9]\d{{9}}){_NOT_ALNUM_AFTER}
    | {_NOT_ALNUM_BEFORE}(?P<digits>\d{{9,11}}|\d{{13,18}}){_NOT_ALNUM_AFTER}
    """,
    re.VERBOSE,
)

_STARS: Final = "****"


def _keep_last(value: str, visible: int) -> str:
    return _STARS + value[-visible:]


def _replace(found: re.Match[str]) -> str:
    group = found.lastgroup
    text = found.group(0)
    if group == "email" or group == "vpa":
        handle, _, domain = text.partition("@")
        return f"{handle[0]}{_STARS}@{domain}"
    if group == "account_number":
        return found["account_label"] + _keep_last(found["account_number"], 4)
    if group == "ke_rest":
        return found["ke_prefix"] + _STARS + found["ke_rest"][-3:]
    if group == "in_rest":
        rest = found["in_rest"]
        return found["in_prefix"] + rest[0] + _STARS + rest[-3:]
    if group == "in_bare":
        return text[0] + _STARS + text[-3:]
    return _keep_last(text, 4)


def mask(text: str) -> str:
    """`text` with phone numbers, VPAs, emails and account numbers masked (rules above)."""
    return _SENSITIVE.sub(_replace, text)


def mask_value(value: Any) -> Any:
    """`value` with every string in it masked, through dicts, lists and tuples."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(item) for item in value]
    return value


# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName"}


class MaskingFilter(logging.Filter):
    """Masks a record's message and its extra string fields in place, before any formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = None
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD_ATTRIBUTES:
                setattr(record, name, mask_value(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record; exception text is masked as well."""

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.UTC)
        entry: dict[str, Any] = {
            "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for name, value in record.__dict__.items():
            if name not in _STANDARD_ATTRIBUTES and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = mask("".join(traceback.format_exception(*record.exc_info)))
        if record.stack_info:
            entry["stack"] = mask(record.stack_info)
        return jsonlib.dumps(entry, default=str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def formatException(self, ei: Any) -> str:  # noqa: N802 (the stdlib's name)
        return mask(super().formatException(ei))


class _HisaabHandler(logging.StreamHandler[TextIO]):
    """The handler `configure_logging` installs, told apart from others to be replaced."""


def configure_logging(
    level: str | int = "INFO", json: bool = True, *, stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record to `stream` (stderr), masked, as JSON lines or as plain text.

    Calling it again replaces the handler it installed before, so it is safe to call twice.
    Returns the handler, e.g. for a test to remove it.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _HisaabHandler)]:
        root.removeHandler(old)
    handler = _HisaabHandler(stream or sys.stderr)
    handler.addFilter(MaskingFilter())
    if json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
