from __future__ import annotations

import pytest

from hisaab.settlement.ledger import LedgerLine


def test_each_kind_keeps_its_sign() -> None:
    assert LedgerLine("M1", "payment", 100, "INR").amount_minor == 100
    with pytest.raises(ValueError, match="a refund line cannot be 100"):
        LedgerLine("M1", "refund", 100, "INR")
    with pytest.raises(ValueError, match="a payment line cannot be -1"):
        LedgerLine("M1", "payment", -1, "INR")


def test_adjustments_and_carry_forwards_go_either_way() -> None:
    assert LedgerLine("M1", "adjustment", -5, "INR").amount_minor == -5
    assert LedgerLine("M1", "carry_forward", 5, "INR").amount_minor == 5


def test_amounts_are_integers() -> None:
    with pytest.raises(ValueError, match="integer minor units"):
        LedgerLine("M1", "payment", 1.5, "INR")  # type: ignore[arg-type]
