"""Kenyan phone numbers: normalised for storage, masked for display, kinds told apart."""

from __future__ import annotations

import hashlib

import pytest

from hisaab.errors import InputError
from hisaab.mpesa.phones import (
    MsisdnKind,
    classify_msisdn,
    mask_phone,
    normalise_phone,
    payer_phone,
)


@pytest.mark.parametrize(
    "raw",
    ["0712345678", "+254712345678", "254712345678", "712345678", " 0712 345 678 ", "0712-345-678"],
)
def test_every_usual_spelling_becomes_the_12_digit_form(raw: str) -> None:
    assert normalise_phone(raw) == "254712345678"


def test_safaricom_011_numbers_are_mobile_numbers_too() -> None:
    assert normalise_phone("0110123456") == "254110123456"


def test_a_json_number_from_a_callback_is_accepted() -> None:
    assert normalise_phone(254708374149) == "254708374149"


@pytest.mark.parametrize(
    "raw",
    ["", "07123", "0812345678", "255712345678", "2547123456789", "+0712345678", "phone", "07OO"],
)
def test_anything_else_is_refused_clearly(raw: str) -> None:
    with pytest.raises(InputError) as caught:
        normalise_phone(raw, path="PhoneNumber")
    assert "is not a Kenyan mobile number" in caught.value.describe()
    assert caught.value.describe().startswith("PhoneNumber: ")


def test_masking_keeps_the_first_four_and_last_three_digits() -> None:
    assert mask_phone("254708374149") == "2547****149"
    assert mask_phone("0708374149") == "2547****149"


def test_masking_a_masked_or_hashed_number_leaves_it_as_given() -> None:
    digest = hashlib.sha256(b"254708374149").hexdigest()
    assert mask_phone("25470****149") == "25470****149"
    assert mask_phone(digest) == digest


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("254708374149", MsisdnKind.PLAIN),
        (254708374149, MsisdnKind.PLAIN),
        ("25470****149", MsisdnKind.MASKED),
        ("2547 ****149".replace(" ", ""), MsisdnKind.MASKED),
        (hashlib.sha256(b"254708374149").hexdigest(), MsisdnKind.HASHED),
        (hashlib.sha256(b"254708374149").hexdigest().upper(), MsisdnKind.HASHED),
    ],
)
def test_msisdn_kinds(raw: str | int, kind: MsisdnKind) -> None:
    given, found = classify_msisdn(raw)
    assert found is kind
    assert given == str(raw)


@pytest.mark.parametrize("raw", ["****", "John", "", None, True, "12*ab"])
def test_an_msisdn_that_is_none_of_the_kinds_is_refused(raw: object) -> None:
    with pytest.raises(InputError):
        classify_msisdn(raw, path="MSISDN")


def test_payer_phone_normalises_plain_numbers_and_keeps_masked_ones() -> None:
    assert payer_phone("0708374149") == "254708374149"
    assert payer_phone("25470****149") == "25470****149"
    assert payer_phone("255712345678") == "255712345678"  # plain, not Kenyan: kept
