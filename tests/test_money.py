"""Money is exact: printed amounts become integer minor units or a clear error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hisaab.errors import AmountError, CurrencyError
from hisaab.money import Money, exponent, parse_amount, split_direction


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1,18,043.75", "INR", 11_804_375),  # Indian digit grouping (HDFC)
        ("118,043.75", "INR", 11_804_375),  # Western grouping
        ("1,053.00", "KES", 105_300),  # M-Pesa portal, quoted with separators
        ("  1,234.50  ", "INR", 123_450),  # Axis pads amounts with spaces
        ("1,053.00 Cr", "INR", 105_300),
        ("1,053.00 Dr", "INR", -105_300),
        ("DR 500", "INR", -50_000),
        ("(250.00)", "INR", -25_000),
        ("-1,053.00", "KES", -105_300),  # M-Pesa `Withdrawn` sometimes negative
        ("1053.00-", "INR", -105_300),
        ("+12", "INR", 1_200),
        ("₹1,00,000.00", "INR", 10_000_000),
        ("Rs. 12.5", "INR", 1_250),
        ("-0.00", "INR", 0),  # negative zero is zero
        (".5", "INR", 50),
        ("10.000", "INR", 1_000),  # trailing zeros beyond the minor unit are exact
        ("1500", "JPY", 1_500),  # zero-decimal currency
        ("1.234", "KWD", 1_234),  # three-decimal currency
    ],
)
def test_parse_amount_reads_printed_amounts_exactly(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "fragment"),
    [
        ("1.005", "INR", "INR allows 2"),
        ("12.5", "JPY", "JPY allows 0"),
        ("1.2345", "KWD", "KWD allows 3"),
        ("", "INR", "empty amount"),
        ("abc", "INR", "not a number"),
        ("1,2,3", "INR", "misplaced digit-group"),
        ("1.2.3", "INR", "more than one decimal separator"),
        ("1e5", "INR", "not a number"),
        ("١٢٣", "INR", "not a number"),  # non-ASCII digits are refused, not guessed
        ("₹", "INR", "has no digits"),  # a currency symbol alone
        ("INR", "INR", "has no digits"),
        ("()", "INR", "has no digits"),
        ("+", "INR", "has no digits"),
        ("-", "INR", "has no digits"),
        (" . ", "INR", "has no digits"),
    ],
)
def test_parse_amount_rejects_what_is_not_exact_money(
    text: str, currency: str, fragment: str
) -> None:
    with pytest.raises(AmountError) as info:
        parse_amount(text, currency)
    assert fragment in info.value.describe()


def test_european_decimal_comma() -> None:
    assert parse_amount("1.234,56", "EUR", decimal_separator=",") == 123_456


def test_currency_exponents_cover_zero_two_and_three_decimals() -> None:
    assert (exponent("JPY"), exponent("INR"), exponent("KES"), exponent("BHD")) == (0, 2, 2, 3)


def test_unknown_currency_is_an_error() -> None:
    with pytest.raises(CurrencyError):
        exponent("XYZ")


def test_money_adds_only_same_currency() -> None:
    assert Money(100, "INR") + Money(250, "INR") == Money(350, "INR")
    with pytest.raises(AmountError):
        Money(100, "INR") + Money(100, "KES")


def test_money_refuses_floats() -> None:
    with pytest.raises(AmountError):
        Money(1.5, "INR")  # type: ignore[arg-type]


def test_money_prints_with_its_minor_unit() -> None:
    assert str(Money(11_804_375, "INR")) == "118,043.75 INR"
    assert str(Money(-1500, "JPY")) == "-1,500 JPY"


def test_split_direction() -> None:
    assert split_direction(-500) == (500, "DR")
    assert split_direction(500) == (500, "CR")


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_printed_money_parses_back_to_the_same_minor_units(minor: int) -> None:
    text = str(Money(minor, "INR")).removesuffix(" INR")
    assert parse_amount(text, "INR") == minor
