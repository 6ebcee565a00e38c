"""Fees a merchant pays on each payment: MDR by instrument and sub-rail, GST on the fee.

Rates are exact decimals (percent as written in a rate card: "1.90", "0"), never floats.
Each payment line's fee is `round_half_up(amount * rate)` plus any fixed fee, and its GST is
`round_half_up(fee * gst_rate)`: rounded per line, so that a merchant can recompute every
paisa of a settlement from its lines (the brief's rule; a total-then-round scheme cannot be
checked line by line).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

from hisaab.errors import InputError

# Instruments a rate card prices; a sub-rail narrows one (cards: network and type; UPI: the
# account the payer paid from, since RuPay credit on UPI is not zero-MDR).
Instrument = Literal["upi", "card", "netbanking", "wallet", "mobile_money"]
ANY = "*"
DEFAULT_GST_PERCENT = Decimal("18")


def round_half_up(value: Decimal) -> int:
    """To whole minor units, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent(text: str | int | Decimal, *, what: str) -> Decimal:
    """A percentage as a rate card writes it ("1.90", "0", 18), checked to be 0-100."""
    try:
        value = Decimal(str(text).strip().rstrip("%"))
    except InvalidOperation:
        raise InputError(f"{what}: {text!r} is not a percentage", expected="e.g. 1.90") from None
    if not value.is_finite() or value < 0 or value > 100:
        raise InputError(f"{what}: {text!r} is out of range", expected="0 to 100 percent")
    return value


@dataclass(frozen=True)
class Rate:
    """What one instrument and sub-rail costs: a percentage of the amount plus a fixed fee."""

    percent: Decimal = Decimal(0)
    fixed_minor: int = 0

    def __post_init__(self) -> None:
        if self.fixed_minor < 0:
            raise InputError(f"a fixed fee of {self.fixed_minor} minor units", expected=">= 0")

    def fee(self, amount_minor: int) -> int:
        if amount_minor < 0:
            raise InputError(f"a fee on a negative amount ({amount_minor})", expected=">= 0")
        return round_half_up(Decimal(amount_minor) * self.percent / 100) + self.fixed_minor


@dataclass(frozen=True)
class RateCard:
    """MDR rates by (instrument, sub-rail); `*` as the sub-rail prices the rest of an instrument.

    A payment whose instrument the card does not price is an error, never a free payment.
    """

    rates: Mapping[tuple[str, str], Rate]
    gst_percent: Decimal = DEFAULT_GST_PERCENT
    version: str = "default"

    def rate(self, instrument: str, sub_rail: str | None = None) -> Rate:
        for key in ((instrument, sub_rail or ANY), (instrument, ANY)):
            if key in self.rates:
                return self.rates[key]
        priced = ", ".join(sorted({f"{i}/{s}" for i, s in self.rates}))
        raise InputError(
            f"rate card {self.version!r} has no rate for {instrument}/{sub_rail or ANY}",
            expected=f"one of {priced}",
        )

    def charges(self, amount_minor: int, instrument: str, sub_rail: str | None) -> Charges:
        fee = self.rate(instrument, sub_rail).fee(amount_minor)
        return Charges(fee, round_half_up(Decimal(fee) * self.gst_percent / 100))


@dataclass(frozen=True)
class Charges:
    fee_minor: int
    gst_minor: int


def default_rate_card() -> RateCard:
    """India's defaults: UPI and RuPay debit at zero MDR (since 1 January 2020), RuPay credit
    on UPI, cards and netbanking priced in percent; every figure is a starting point that a
    merchant's terms override."""
    return RateCard(
        rates={
            ("upi", ANY): Rate(),
            ("upi", "rupay_credit"): Rate(Decimal("2.00")),
            ("card", "rupay_debit"): Rate(),
            ("card", ANY): Rate(Decimal("2.00")),
            ("netbanking", ANY): Rate(Decimal("1.90")),
            ("wallet", ANY): Rate(Decimal("1.90")),
            ("mobile_money", ANY): Rate(Decimal("1.00")),
        },
        version="default",
    )
