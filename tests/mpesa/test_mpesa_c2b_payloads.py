"""C2B: a customer pays the paybill directly; Daraja posts validation and confirmation."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from hisaab.mpesa.errors import MpesaPayloadError
from hisaab.mpesa.payloads import (
    C2B_REJECT_CODES,
    MsisdnKind,
    c2b_confirmation_ack,
    c2b_validation_answer,
    parse_c2b,
)

DATA = Path(__file__).parent / "data"


def load(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((DATA / name).read_text())
    return body


def test_a_v2_confirmation_with_a_masked_msisdn() -> None:
    payment = parse_c2b(load("c2b_confirmation_v2.json"))
    assert payment.trans_id == "RKTQDM7W6S"
    assert payment.trans_type == "Pay Bill"
    assert (payment.amount_minor, payment.currency) == (1000, "KES")  # "10" -> KES 10.00
    assert payment.trans_time == dt.datetime(2019, 11, 22, 3, 38, 45, tzinfo=dt.UTC)
    assert payment.shortcode == "600638"
    assert payment.bill_ref == "invoice008"
    assert payment.invoice is None
    assert payment.org_balance_minor is None  # "" means Daraja did not say
    assert (payment.msisdn, payment.msisdn_kind, payment.phone) == (
        "25470****149",
        MsisdnKind.MASKED,
        None,
    )
    assert payment.payer_name == "John"


def test_a_v1_confirmation_with_a_hashed_msisdn_and_a_balance() -> None:
    payment = parse_c2b(load("c2b_confirmation_v1.json"))
    assert payment.amount_minor == 1000  # "10.00"
    assert payment.msisdn_kind is MsisdnKind.HASHED and payment.phone is None
    assert payment.msisdn == load("c2b_confirmation_v1.json")["MSISDN"]
    assert payment.org_balance_minor == 4_919_700
    assert payment.payer_name == "John J. Doe"


def test_a_plain_msisdn_is_also_normalised() -> None:
    payment = parse_c2b(load("c2b_confirmation_v2.json") | {"MSISDN": 254708374149})
    assert payment.msisdn == "254708374149" and payment.msisdn_kind is MsisdnKind.PLAIN
    assert payment.phone == "254708374149"


@pytest.mark.parametrize(
    ("amount", "minor"), [("10", 1000), ("10.00", 1000), (10, 1000), (10.5, 1050)]
)
def test_trans_amount_as_string_or_number(amount: Any, minor: int) -> None:
    assert (
        parse_c2b(load("c2b_confirmation_v2.json") | {"TransAmount": amount}).amount_minor == minor
    )


def test_a_shortcode_sent_as_a_number_is_kept_as_text() -> None:
    assert parse_c2b(
        load("c2b_confirmation_v2.json") | {"BusinessShortCode": 600638}
    ).shortcode == ("600638")


def test_missing_names_are_none() -> None:
    body = load("c2b_confirmation_v2.json")
    for key in ("FirstName", "MiddleName", "LastName"):
        del body[key]
    payment = parse_c2b(body)
    assert (payment.first_name, payment.payer_name) == (None, "")


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"TransAmount": "10.005"}, "TransAmount"),
        ({"TransAmount": "-10"}, "TransAmount"),
        ({"TransAmount": ""}, "TransAmount"),
        ({"TransTime": "2019-11-31 06:38:45"}, "TransTime"),
        ({"TransTime": "22/11/2019"}, "TransTime"),
        ({"MSISDN": "not a number"}, "MSISDN"),
        ({"TransID": ""}, "TransID"),
        ({"TransID": None}, "TransID"),
        ({"OrgAccountBalance": "lots"}, "OrgAccountBalance"),
    ],
)
def test_bad_fields_are_named(change: dict[str, Any], path: str) -> None:
    with pytest.raises(MpesaPayloadError) as caught:
        parse_c2b(load("c2b_confirmation_v2.json") | change)
    assert caught.value.path == path


def test_an_iso_time_without_a_zone_is_kenya_time() -> None:
    payment = parse_c2b(load("c2b_confirmation_v2.json") | {"TransTime": "2019-11-22 06:38:45"})
    assert payment.trans_time == dt.datetime(2019, 11, 22, 3, 38, 45, tzinfo=dt.UTC)


def test_validation_answers() -> None:
    assert c2b_validation_answer() == {"ResultCode": "0", "ResultDesc": "Accepted"}
    assert c2b_validation_answer("C2B00012")["ResultCode"] == "C2B00012"
    assert set(C2B_REJECT_CODES) == {f"C2B0001{i}" for i in range(1, 7)}
    assert c2b_confirmation_ack() == {"ResultCode": 0, "ResultDesc": "Success"}
    with pytest.raises(MpesaPayloadError):
        c2b_validation_answer("C2B99999")
