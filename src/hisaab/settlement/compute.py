"""One merchant's settlement for one cycle: ledger lines that add up to what it is owed.

    N = G - F - T - R - C + W - H + L + CF +- A

G gross captures, F MDR fees and T GST on them (per line, half-up), R refunds, C dispute
debits and fees, W dispute reversals, H the reserve held on this cycle's captures, L reserves
released, CF the balance carried from the cycle before (negative when the merchant owed), A
approved adjustments. N is the sum of the lines, never a separate formula: the components
are reported from the lines too.

What is done with N follows the merchant's terms: paid out when it reaches the minimum
payout; otherwise carried into the next cycle, or, when negative and the terms say so, debited
from the merchant's bank account.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from hisaab.errors import InputError
from hisaab.money import exponent
from hisaab.settlement.fees import RateCard, default_rate_card, percent, round_half_up
from hisaab.settlement.ledger import LedgerLine, LineKind

NegativeBalancePolicy = Literal["carry_forward", "debit"]
DisputeDebitPolicy = Literal["at_opening", "when_lost"]


@dataclass(frozen=True)
class Terms:
    """What a merchant agreed to: fees, reserve, minimum payout and what happens to debts."""

    merchant_id: str
    currency: str = "INR"
    rate_card: RateCard = field(default_factory=default_rate_card)
    min_payout_minor: int = 0
    reserve_percent: Decimal = Decimal(0)
    reserve_days: int = 0
    negative_balance: NegativeBalancePolicy = "carry_forward"
    dispute_debit: DisputeDebitPolicy = "at_opening"
    version: int = 1

    def __post_init__(self) -> None:
        exponent(self.currency)
        percent(self.reserve_percent, what="reserve")
        if self.min_payout_minor < 0 or self.reserve_days < 0:
            raise InputError("minimum payout and reserve days", expected="values >= 0")
        if self.negative_balance not in ("carry_forward", "debit"):
            raise InputError(
                f"negative balance policy {self.negative_balance!r}",
                expected="carry_forward or debit",
            )
        if self.dispute_debit not in ("at_opening", "when_lost"):
            raise InputError(
                f"dispute debit policy {self.dispute_debit!r}", expected="at_opening or when_lost"
            )


@dataclass(frozen=True)
class Capture:
    payment_id: str
    amount_minor: int
    instrument: str
    sub_rail: str | None = None
    currency: str = "INR"


@dataclass(frozen=True)
class Refund:
    refund_id: str
    amount_minor: int
    payment_id: str | None = None
    currency: str = "INR"


@dataclass(frozen=True)
class DisputeEvent:
    """A dispute opened, won or lost in this cycle, with any fee the acquirer charged for it."""

    dispute_id: str
    event: Literal["opened", "won", "lost"]
    amount_minor: int
    fee_minor: int = 0
    currency: str = "INR"


@dataclass(frozen=True)
class ReserveRelease:
    """A reserve held earlier whose days have passed: `source_id` names the hold."""

    source_id: str
    amount_minor: int
    currency: str = "INR"


@dataclass(frozen=True)
class Adjustment:
    """A manual credit (positive) or debit (negative), already approved by a checker."""

    adjustment_id: str
    amount_minor: int
    note: str
    currency: str = "INR"


@dataclass(frozen=True)
class CycleInput:
    cycle_date: date
    captures: Sequence[Capture] = ()
    refunds: Sequence[Refund] = ()
    disputes: Sequence[DisputeEvent] = ()
    releases: Sequence[ReserveRelease] = ()
    adjustments: Sequence[Adjustment] = ()
    carried_minor: int = 0  # the balance the previous cycle carried forward
    carried_from: str | None = None  # which settlement carried it
    # Payouts the bank returned, paid again: (source, amount), e.g. ("return:12", 1380095).
    returned: Sequence[tuple[str, int]] = ()


@dataclass(frozen=True)
class Settlement:
    merchant_id: str
    currency: str
    cycle_date: date
    terms_version: int
    lines: tuple[LedgerLine, ...]
    payout_minor: int  # paid to the merchant's account
    debit_minor: int  # collected from the merchant's account (terms: debit)
    carry_forward_minor: int  # into the next cycle
    reserve_available_on: date | None

    @property
    def net_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)

    def total(self, *kinds: LineKind) -> int:
        return sum(line.amount_minor for line in self.lines if line.kind in kinds)

    def components(self) -> dict[str, int]:
        """The formula's terms, read back from the lines (signed as booked)."""
        return {
            "gross": self.total("payment"),
            "fees": self.total("mdr_fee"),
            "gst": self.total("gst_on_fee"),
            "refunds": self.total("refund"),
            "dispute_debits": self.total("dispute_debit", "dispute_fee"),
            "dispute_reversals": self.total("dispute_reversal"),
            "reserve_hold": self.total("reserve_hold"),
            "reserve_release": self.total("reserve_release"),
            "carry_forward": self.total("carry_forward"),
            "adjustments": self.total("adjustment"),
            "net": self.net_minor,
        }


def settle(terms: Terms, cycle: CycleInput) -> Settlement:
    """Book one cycle's movements for `terms.merchant_id` and decide what is paid."""
    _check_inputs(terms, cycle)
    m, cur = terms.merchant_id, terms.currency
    lines: list[LedgerLine] = []

    def book(kind: LineKind, amount: int, source: str | None, note: str) -> None:
        if amount:
            lines.append(LedgerLine(m, kind, amount, cur, source, note))

    if cycle.carried_minor:
        book(
            "carry_forward",
            cycle.carried_minor,
            cycle.carried_from,
            "balance carried from the last cycle",
        )
    for source, amount in cycle.returned:
        book("carry_forward", amount, source, "payout returned by the bank, paid again")
    for c in cycle.captures:
        charges = terms.rate_card.charges(c.amount_minor, c.instrument, c.sub_rail)
        rail = f"{c.instrument}/{c.sub_rail}" if c.sub_rail else c.instrument
        book("payment", c.amount_minor, c.payment_id, f"{rail} payment")
        book("mdr_fee", -charges.fee_minor, c.payment_id, f"MDR on {rail}")
        book("gst_on_fee", -charges.gst_minor, c.payment_id, "GST on MDR")
    for r in cycle.refunds:
        book("refund", -r.amount_minor, r.refund_id, f"refund of {r.payment_id or 'a payment'}")
    for d in cycle.disputes:
        debit_now = (d.event == "opened" and terms.dispute_debit == "at_opening") or (
            d.event == "lost" and terms.dispute_debit == "when_lost"
        )
        if debit_now:
            book("dispute_debit", -d.amount_minor, d.dispute_id, f"dispute {d.event}")
        if d.event == "won" and terms.dispute_debit == "at_opening":
            book("dispute_reversal", d.amount_minor, d.dispute_id, "dispute won: debit returned")
        book("dispute_fee", -d.fee_minor, d.dispute_id, f"dispute fee ({d.event})")
    gross = sum(c.amount_minor for c in cycle.captures)
    hold = round_half_up(Decimal(gross) * terms.reserve_percent / 100)
    reserve_on = cycle.cycle_date + timedelta(days=terms.reserve_days) if hold else None
    book("reserve_hold", -hold, None, f"{terms.reserve_percent}% rolling reserve")
    for rel in cycle.releases:
        book("reserve_release", rel.amount_minor, rel.source_id, "reserve released")
    for a in cycle.adjustments:
        book("adjustment", a.amount_minor, a.adjustment_id, a.note)

    net = sum(line.amount_minor for line in lines)
    payout = debit = carry = 0
    if net > 0 and net >= terms.min_payout_minor:
        payout = net
    elif net < 0 and terms.negative_balance == "debit":
        debit = -net
    else:
        carry = net
    return Settlement(
        m, cur, cycle.cycle_date, terms.version, tuple(lines), payout, debit, carry, reserve_on
    )


def _check_inputs(terms: Terms, cycle: CycleInput) -> None:
    """Amounts positive, in the merchant's currency, and no source counted twice."""
    items: list[tuple[str, str, int, str]] = [
        *(("payment", c.payment_id, c.amount_minor, c.currency) for c in cycle.captures),
        *(("refund", r.refund_id, r.amount_minor, r.currency) for r in cycle.refunds),
        *(("dispute", d.dispute_id, d.amount_minor, d.currency) for d in cycle.disputes),
        *(("reserve release", r.source_id, r.amount_minor, r.currency) for r in cycle.releases),
    ]
    for what, ident, amount, currency in items:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise InputError(f"{what} {ident}: amount {amount!r}", expected="minor units > 0")
        if currency != terms.currency:
            raise InputError(
                f"{what} {ident} is in {currency}; merchant {terms.merchant_id} settles in"
                f" {terms.currency}",
                expected=f"{terms.currency} amounts only",
            )
    for d in cycle.disputes:
        if d.fee_minor < 0:
            raise InputError(f"dispute {d.dispute_id}: fee {d.fee_minor}", expected=">= 0")
    for a in cycle.adjustments:
        if a.currency != terms.currency or not a.note.strip():
            raise InputError(
                f"adjustment {a.adjustment_id}",
                expected=f"an amount in {terms.currency} and a note saying why",
            )
    seen = Counter((what, ident) for what, ident, _a, _c in items if what != "dispute")
    seen.update(("dispute", f"{d.dispute_id}/{d.event}") for d in cycle.disputes)
    twice = sorted(f"{what} {ident}" for (what, ident), n in seen.items() if n > 1)
    if twice:
        raise InputError(f"counted twice in one cycle: {', '.join(twice)}", expected="each once")
