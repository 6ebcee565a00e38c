"""The kinds of ledger line every balance movement of a merchant is booked as.

A line's amount is signed from the merchant's side: what the merchant is owed is positive
(a payment, a released reserve, a dispute won back), what it is charged or paid out is
negative (fees, GST, refunds, dispute debits, a reserve held, the payout itself). A
settlement is exactly the sum of its lines; nothing about a payout lives outside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

LineKind = Literal[
    "payment",
    "mdr_fee",
    "gst_on_fee",
    "refund",
    "dispute_debit",
    "dispute_reversal",
    "dispute_fee",
    "reserve_hold",
    "reserve_release",
    "adjustment",
    "payout",
    "payout_return",
    "carry_forward",
]
LINE_KINDS: tuple[LineKind, ...] = get_args(LineKind)
# The sign each kind always has (adjustments and carry-forwards go either way).
_SIGN: dict[str, int] = {
    "payment": 1,
    "mdr_fee": -1,
    "gst_on_fee": -1,
    "refund": -1,
    "dispute_debit": -1,
    "dispute_reversal": 1,
    "dispute_fee": -1,
    "reserve_hold": -1,
    "reserve_release": 1,
    "payout": -1,
    "payout_return": 1,
}


@dataclass(frozen=True)
class LedgerLine:
    """One balance movement: `amount_minor` of `currency`, signed from the merchant's side.

    `source_id` names what caused it (a payment, refund or dispute id; the reserve line it
    releases); `note` says why in words a merchant reads on a statement.
    """

    merchant_id: str
    kind: LineKind
    amount_minor: int
    currency: str
    source_id: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in LINE_KINDS:
            raise ValueError(f"unknown ledger line kind {self.kind!r}")
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise ValueError(f"amount must be integer minor units, got {self.amount_minor!r}")
        sign = _SIGN.get(self.kind)
        if sign is not None and self.amount_minor * sign < 0:
            raise ValueError(f"a {self.kind} line cannot be {self.amount_minor}")
