"""Disputes and chargebacks, one model for cards and UPI: categories, stages, deadlines.

A dispute keeps the network's raw reason code beside a normalised category (Stripe's eight,
plus `technical_debit_no_confirmation` for UPI and RuPay's "debited but not confirmed"). Its
stage is where the network process stands; its status is where the merchant's response
stands, and only the moves below are allowed:

    open -> evidence_draft -> submitted -> won | lost
    open | evidence_draft -> accepted (a loss by choice) | expired (no answer in time: a loss)
    any open state -> cancelled (the issuer withdrew)

The response deadline is an absolute time: the end of the n-th working day after the
dispute reached the acquirer (chargeback 3, pre-arbitration 2, arbitration 1, retrieval 3;
the acquirers' turnaround times in the settlement brief), in the merchant's time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal
from zoneinfo import ZoneInfo

from hisaab.errors import Conflict, InputError
from hisaab.settlement.calendar import BankCalendar

Network = Literal["visa", "mastercard", "rupay", "upi"]
Stage = Literal["retrieval", "chargeback", "pre_arbitration", "arbitration"]
Status = Literal[
    "open", "evidence_draft", "submitted", "won", "lost", "accepted", "expired", "cancelled"
]
Category = Literal[
    "credit_not_processed",
    "duplicate",
    "fraudulent",
    "general",
    "product_not_received",
    "product_unacceptable",
    "subscription_canceled",
    "unrecognized",
    "technical_debit_no_confirmation",
]

RESPONSE_DAYS: dict[str, int] = {
    "retrieval": 3,
    "chargeback": 3,
    "pre_arbitration": 2,
    "arbitration": 1,
}
MOVES: dict[str, frozenset[str]] = {
    "open": frozenset({"evidence_draft", "submitted", "accepted", "expired", "cancelled"}),
    "evidence_draft": frozenset(
        {"evidence_draft", "submitted", "accepted", "expired", "cancelled"}
    ),
    "submitted": frozenset({"won", "lost", "cancelled"}),
}
LOSSES = frozenset({"lost", "accepted", "expired"})
FINAL = frozenset({"won", "lost", "accepted", "expired", "cancelled"})

# Reason codes by network (settlement brief 2.7): the families, then single codes.
_VISA_FAMILIES = {"10": "fraudulent", "11": "general", "12": "general", "13": "general"}
_VISA = {
    "12.6": "duplicate",
    "12.6.1": "duplicate",
    "12.6.2": "duplicate",
    "13.1": "product_not_received",
    "13.2": "subscription_canceled",
    "13.3": "product_unacceptable",
    "13.6": "credit_not_processed",
    "13.7": "credit_not_processed",
}
_MASTERCARD = {
    **dict.fromkeys(("4837", "4840", "4849", "4863", "4870", "4871"), "fraudulent"),
    "4808": "general",
    "4834": "duplicate",
    "4853": "general",
    "4855": "product_not_received",
    "4860": "credit_not_processed",
}
_RUPAY = {
    "1061": "credit_not_processed",
    "1062": "product_unacceptable",
    "1063": "duplicate",  # paid by alternate means
    "1064": "product_not_received",
    "1065": "technical_debit_no_confirmation",
    "1084": "duplicate",
    "1085": "general",  # charged more than agreed
}
_UPI = {
    "U005": "technical_debit_no_confirmation",
    "U008": "product_not_received",
    "U010": "technical_debit_no_confirmation",
    "U021": "credit_not_processed",
    "U023": "duplicate",  # paid by alternate means
}
_CODE = re.compile(r"^[A-Za-z0-9.]{1,16}$")


def category_of(network: str, reason_code: str) -> Category:
    """The normalised category of a network's reason code; `general` for codes not known."""
    code = reason_code.strip().upper()
    if not _CODE.match(code):
        raise InputError(
            f"reason code {reason_code!r}",
            column="reason_code",
            expected="the network's code, e.g. 10.4, 4853, 1065 or U008",
        )
    found: str | None
    if network == "visa":
        found = _VISA.get(code) or _VISA_FAMILIES.get(code.split(".")[0])
    elif network == "mastercard":
        found = _MASTERCARD.get(code)
    elif network == "rupay":
        found = _RUPAY.get(code)
    elif network == "upi":
        found = _UPI.get(code)
    else:
        raise InputError(
            f"network {network!r}", column="network", expected="visa, mastercard, rupay or upi"
        )
    return found or "general"  # type: ignore[return-value]


def respond_by(
    stage: str,
    received_at: dt.datetime,
    *,
    calendar: BankCalendar,
    timezone: str = "Asia/Kolkata",
) -> dt.datetime:
    """The end (23:59:59 local) of the stage's n-th working day after the dispute arrived."""
    if stage not in RESPONSE_DAYS:
        raise InputError(f"stage {stage!r}", column="stage", expected=", ".join(RESPONSE_DAYS))
    if received_at.tzinfo is None:
        raise InputError("the time a dispute arrived must carry its time zone")
    zone = ZoneInfo(timezone)
    local_day = received_at.astimezone(zone).date()
    due = calendar.add_working_days(local_day + dt.timedelta(days=1), RESPONSE_DAYS[stage] - 1)
    return dt.datetime.combine(due, dt.time(23, 59, 59), tzinfo=zone).astimezone(dt.UTC)


def move(current: str, to: str) -> str:
    """The new status, or Conflict naming the move that is not allowed."""
    if to not in MOVES.get(current, frozenset()):
        allowed = ", ".join(sorted(MOVES.get(current, ()))) or "none: it is decided"
        raise Conflict(f"a dispute that is {current} cannot become {to} (allowed: {allowed})")
    return to


def double_loss(captured_minor: int, refunded_minor: int, disputed_minor: int) -> bool:
    """A payment refunded and also lost in a dispute beyond what was captured."""
    return refunded_minor + disputed_minor > captured_minor
