"""The alert of a real-time discrepancy, and the email and SMS texts rendered from it.

Texts are plain and exact: amounts come from integer minor units through `hisaab.money.Money`
("1,500.00 KES", never a float); the payer's phone is masked to its first four and last three
digits (`2547****149`) and any phone number, email or account number inside an issue's message
is masked too (`hisaab.logs.mask`), so no full number ever leaves Hisaab in an alert.

The SMS is always one GSM-7 segment: at most 160 septets, where the GSM extension characters
(`^{}\\[~]|€`) count two. Characters outside the GSM 03.38 alphabet are replaced (curly quotes
by straight ones, dashes by "-", accented letters by their base letter, anything else by "?")
rather than switching the whole message to UCS-2, which would cut it to 70 characters. When
the text is still too long, parts go in this order until it fits: the issue's message is
shortened, then dropped; the detection time is dropped; the session id is shortened to its
first 12 characters; last, the text is cut at 157 characters and ends with "...". A note
(the storm summary's, see `hisaab.alerts.policy`) comes right after the headline, so it stays.
The email always carries everything.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, get_args

from hisaab.errors import HisaabError, InputError
from hisaab.logs import mask
from hisaab.money import Money

Severity = Literal["high", "medium", "low"]
SEVERITIES: tuple[str, ...] = get_args(Severity)

SMS_LIMIT = 160
_STARS = "****"


class Issue(NamedTuple):
    """One finding of a discrepancy check: its type and a sentence for a person."""

    type: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A discrepancy found in one payment session, as the admins are told about it.

    `amount_minor` is in minor units of `currency` (150000 KES minor units = 1,500.00 KES);
    `detected_at` is timezone-aware; `issues` may be given as any sequence of (type, message)
    pairs and is kept as a tuple of `Issue`. Invalid values raise `InputError` naming the field.
    """

    session_id: str
    kind: str
    severity: Severity
    issues: tuple[Issue, ...] = field(default=())
    amount_minor: int | None = None
    currency: str
    receipt: str | None = None
    phone: str | None = None
    detected_at: dt.datetime

    def __post_init__(self) -> None:
        for name in ("session_id", "kind"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"alert {name} must be a non-empty string, got {value!r}")
        if self.severity not in SEVERITIES:
            raise InputError(
                f"alert severity {self.severity!r} is not known",
                expected="one of " + ", ".join(SEVERITIES),
            )
        object.__setattr__(self, "issues", _issues(self.issues))
        if self.amount_minor is not None and (
            isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int)
        ):
            raise InputError(
                f"alert amount_minor must be integer minor units, got {self.amount_minor!r}"
            )
        try:
            if not isinstance(self.currency, str):
                raise InputError(f"{self.currency!r} is not a currency code")
            Money(0, self.currency)
        except HisaabError as exc:
            raise InputError(
                f"alert currency: {exc.message}", expected="an ISO-4217 code"
            ) from None
        for name in ("receipt", "phone"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InputError(f"alert {name} must be a string or None, got {value!r}")
        if not isinstance(self.detected_at, dt.datetime) or self.detected_at.utcoffset() is None:
            raise InputError(
                f"alert detected_at must be a timezone-aware datetime, got {self.detected_at!r}"
            )

    @property
    def amount(self) -> Money | None:
        return None if self.amount_minor is None else Money(self.amount_minor, self.currency)

    def to_payload(self) -> dict[str, Any]:
        """A JSON-ready dict (e.g. a queue job's payload); `from_payload` reads it back."""
        return {
            "session_id": self.session_id,
            "kind": self.kind,
            "severity": self.severity,
            "issues": [{"type": i.type, "message": i.message} for i in self.issues],
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "receipt": self.receipt,
            "phone": self.phone,
            "detected_at": self.detected_at.isoformat(),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Alert:
        """The alert `to_payload` wrote; a missing or malformed field raises `InputError`."""
        required = ("session_id", "kind", "severity", "currency", "detected_at")
        missing = [name for name in required if name not in payload]
        if missing:
            raise InputError(f"alert payload lacks {', '.join(missing)}")
        try:
            detected_at = dt.datetime.fromisoformat(str(payload["detected_at"]))
        except ValueError:
            raise InputError(
                f"alert detected_at {payload['detected_at']!r} is not a date and time",
                expected="ISO 8601 with a UTC offset, e.g. 2024-12-14T10:30:00+00:00",
            ) from None
        raw_issues = payload.get("issues") or []
        if not isinstance(raw_issues, list) or not all(isinstance(i, dict) for i in raw_issues):
            raise InputError("alert issues must be a list of {type, message} objects")
        return cls(
            session_id=payload["session_id"],
            kind=payload["kind"],
            severity=payload["severity"],
            issues=tuple(Issue(i.get("type", ""), i.get("message", "")) for i in raw_issues),
            amount_minor=payload.get("amount_minor"),
            currency=payload["currency"],
            receipt=payload.get("receipt"),
            phone=payload.get("phone"),
            detected_at=detected_at,
        )


def _issues(raw: Iterable[Any]) -> tuple[Issue, ...]:
    if isinstance(raw, str | bytes):
        raise InputError("alert issues must be a sequence of (type, message) pairs")
    issues = []
    for position, item in enumerate(raw, start=1):
        if (
            not isinstance(item, Sequence)
            or isinstance(item, str)
            or len(item) != 2
            or not all(isinstance(part, str) for part in item)
        ):
            raise InputError(
                f"alert issue {position} must be a (type, message) pair of strings, got {item!r}"
            )
        issues.append(Issue(item[0], item[1]))
    return tuple(issues)


# --- masking and plain-text helpers -----------------------------------------------------------

_PHONE_PUNCTUATION = re.compile(r"[\s+\-().]")
_KENYA_LOCAL = re.compile(r"0[17]\d{8}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def mask_phone(phone: str | None) -> str:
    """`254708374149`, `+254 708 374 149` or `0708374149` -> `2547****149`.

    Kenyan local numbers are written in international form first so every alert looks the
    same. Numbers shorter than 10 digits keep only their last three; anything that is not a
    phone number (a hashed MSISDN) becomes `****`. An already masked number stays masked.
    """
    if not phone:
        return "not known"
    text = _PHONE_PUNCTUATION.sub("", phone)
    if not text or any(ch not in "0123456789*" for ch in text):
        return _STARS
    if _KENYA_LOCAL.fullmatch(text):
        text = "254" + text[1:]
    if len(text) < 7:
        return _STARS
    if len(text) < 10:
        return _STARS + text[-3:]
    return text[:4] + _STARS + text[-3:]


def _line(text: str) -> str:
    """One line of text: control characters (newlines included) become single spaces."""
    return _CONTROL.sub(" ", text).strip()


def format_amount(alert: Alert) -> str:
    amount = alert.amount
    return "not known" if amount is None else str(amount)


def _utc(when: dt.datetime) -> dt.datetime:
    return when.astimezone(dt.UTC)


# --- email -----------------------------------------------------------------------------------


def email_subject(alert: Alert) -> str:
    """`[Hisaab] HIGH amount_mismatch: 1,500.00 KES, session 507f1f77bcf86cd799439011`."""
    amount = "" if alert.amount is None else f": {alert.amount}"
    sep = "," if amount else ":"
    return _line(
        f"[Hisaab] {alert.severity.upper()} {alert.kind}{amount}{sep} session {alert.session_id}"
    )


def email_body(alert: Alert, *, note: str | None = None) -> str:
    """The plain-text email: what, where, how much, who (masked), when, and every issue."""
    when = _utc(alert.detected_at).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        f"Hisaab found a {alert.severity}-severity discrepancy in a real-time M-Pesa payment.",
        "",
    ]
    if note:
        lines += [_line(mask(note)), ""]
    rows = [
        ("Session", _line(alert.session_id)),
        ("Type", _line(alert.kind)),
        ("Severity", alert.severity),
        ("Amount", format_amount(alert)),
        ("Receipt", _line(alert.receipt) if alert.receipt else "not known"),
        ("Phone", mask_phone(alert.phone)),
        ("Detected", when),
    ]
    lines += [f"{label + ':':<10} {value}" for label, value in rows]
    lines += ["", "Issues:"]
    if alert.issues:
        lines += [f"- {_line(i.type)}: {_line(mask(i.message))}" for i in alert.issues]
    else:
        lines.append("- none recorded")
    lines += [
        "",
        "Review the session in Hisaab. Phone numbers are masked in alerts; the full record is",
        "in Hisaab.",
        "",
    ]
    return "\n".join(lines)


# --- SMS -------------------------------------------------------------------------------------

# GSM 03.38 basic alphabet (without the escape character) and its extension table.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
_REPLACEMENTS = {
    "‘": "'",
    "’": "'",
    "‚": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "–": "-",
    "—": "-",
    "−": "-",
    "…": "...",
    "\u00a0": " ",
    "\u2009": " ",
    "₹": "Rs",
    "\t": " ",
}


def to_gsm7(text: str) -> str:
    """`text` in the GSM 03.38 alphabet: known look-alikes replaced, the rest by `?`."""
    out = []
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
            out.append(ch)
        elif ch in _REPLACEMENTS:
            out.append(_REPLACEMENTS[ch])
        else:
            base = unicodedata.normalize("NFKD", ch)
            base = "".join(c for c in base if not unicodedata.combining(c))
            out.append(base if base and all(c in GSM7_BASIC for c in base) else "?")
    return "".join(out)


def gsm7_length(text: str) -> int:
    """Septets `text` takes in GSM-7: extension characters take two."""
    return sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)


def _cut(text: str, septets: int) -> str:
    """The longest prefix of `text` within `septets` septets."""
    used = 0
    for index, ch in enumerate(text):
        used += 2 if ch in GSM7_EXTENSION else 1
        if used > septets:
            return text[:index]
    return text


def sms_text(alert: Alert, *, note: str | None = None) -> str:
    """One GSM-7 segment (<= 160 septets) saying what happened; see the module docstring."""

    def clean(text: str) -> str:
        return to_gsm7(_line(mask(text)))

    head = clean(f"Hisaab {alert.severity.upper()}: {alert.kind}")
    amount = format_amount(alert) if alert.amount is not None else None
    receipt = f"receipt {clean(alert.receipt)}" if alert.receipt else None
    phone = mask_phone(alert.phone) if alert.phone else None
    session = clean(alert.session_id)
    when = _utc(alert.detected_at).strftime("%H:%M UTC")
    extra = clean(note) if note else ""
    detail = ""
    if alert.issues:
        detail = clean(alert.issues[0].message)
        if len(alert.issues) > 1:
            detail += f" (+{len(alert.issues) - 1} more)"

    def compose(session_text: str, with_time: bool, detail_text: str) -> str:
        fields = [amount, receipt, phone, f"session {session_text}"]
        if with_time:
            fields.append(when)
        text = head + "." + (" " + extra if extra else "")
        text += " " + ", ".join(f for f in fields if f) + "."
        return text + (" " + detail_text if detail_text else "")

    text = compose(session, True, detail)
    if gsm7_length(text) <= SMS_LIMIT:
        return text
    # Shorten the issue's message to what is left, if a useful part of it fits.
    room = SMS_LIMIT - gsm7_length(compose(session, True, "")) - 1 - 3
    if detail and room >= 20:
        return compose(session, True, _cut(detail, room).rstrip() + "...")
    shortened = session if len(session) <= 14 else session[:12] + ".."
    for short_session, with_time in ((session, False), (shortened, False)):
        text = compose(short_session, with_time, "")
        if gsm7_length(text) <= SMS_LIMIT:
            return text
    return _cut(text, SMS_LIMIT - 3) + "..."
