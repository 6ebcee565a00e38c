from __future__ import annotations

from decimal import Decimal

import pytest

from hisaab.errors import InputError
from hisaab.settlement.fees import ANY, Rate, RateCard, default_rate_card, percent, round_half_up


def test_half_up_rounds_halves_away_from_zero() -> None:
    assert [round_half_up(Decimal(x)) for x in ("2.5", "2.4999", "-2.5", "0.5")] == [3, 2, -3, 1]


def test_fee_and_gst_are_rounded_per_line() -> None:
    card = RateCard({("card", ANY): Rate(Decimal("1.85"))})
    # 1.85% of Rs 333.33 is 616.6605 paise -> 617; 18% GST on 617 is 111.06 -> 111.
    charges = card.charges(33_333, "card", "visa_credit")
    assert (charges.fee_minor, charges.gst_minor) == (617, 111)


def test_a_fixed_fee_adds_to_the_percentage() -> None:
    assert Rate(Decimal("1.00"), fixed_minor=300).fee(10_000) == 400


def test_a_sub_rail_overrides_its_instrument() -> None:
    card = default_rate_card()
    assert card.charges(1_000_000, "upi", "rupay_credit").fee_minor == 20_000
    assert card.charges(1_000_000, "upi", "bank_account").fee_minor == 0
    assert card.charges(1_000_000, "card", "rupay_debit").fee_minor == 0


def test_an_unpriced_instrument_is_an_error_never_a_free_payment() -> None:
    with pytest.raises(InputError, match="no rate for bnpl/\\*"):
        default_rate_card().rate("bnpl")


@pytest.mark.parametrize("text", ["abc", "-1", "101", "NaN"])
def test_a_bad_percentage_names_itself(text: str) -> None:
    with pytest.raises(InputError, match="MDR"):
        percent(text, what="MDR")
