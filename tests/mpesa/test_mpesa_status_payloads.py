"""Transaction Status Results: what Daraja posts to the ResultURL about one receipt."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from hisaab.mpesa.errors import MpesaPayloadError
from hisaab.mpesa.payloads import parse_transaction_status_result

DATA = Path(__file__).parent / "data"


def load(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((DATA / name).read_text())
    return body


def with_param(key: str, value: Any = ..., body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The documented Result with one parameter's Value replaced (... removes the Value)."""
    body = copy.deepcopy(body or load("transaction_status_result.json"))
    for param in body["Result"]["ResultParameters"]["ResultParameter"]:
        if param["Key"] == key:
            if value is ...:
                param.pop("Value", None)
            else:
                param["Value"] = value
    return body


def test_the_documented_result_is_a_completed_payment() -> None:
    result = parse_transaction_status_result(load("transaction_status_result.json"))
    assert result.is_completed and result.query_succeeded
    assert result.result_code == "0" and result.result_type == "0"
    assert result.receipt == "MBN31H462N"
    assert (result.amount_minor, result.currency) == (10_000, "KES")
    assert result.status == "Completed"
    assert result.conversation_id == "AG_20191219_00004e48cf7e3533f581"
    assert result.originator_conversation_id == "1236-7134259-1"
    assert result.transaction_id == "NLJ41HAY6Q"
    assert result.debit_party_phone == "254708374149"
    assert result.debit_party_name == "John Doe"
    assert result.credit_party is not None
    assert (result.credit_party.identifier, result.credit_party.name) == ("600310", "Shop")
    assert result.credit_party.phone is None  # a shortcode is not a phone
    assert result.initiated_at == dt.datetime(2019, 12, 19, 7, 21, 15, tzinfo=dt.UTC)
    assert result.finalised_at == dt.datetime(2019, 12, 19, 7, 21, 20, tzinfo=dt.UTC)
    assert result.debit_party_charges == "Fee For B2C Payment|KES|22.40"
    assert result.reason_type == "Pay Bill Online"
    assert result.transaction_reason is None  # the parameter has no Value
    assert result.occasion is None


def test_a_failed_query_has_no_parameters_and_is_not_completed() -> None:
    result = parse_transaction_status_result(load("transaction_status_failed.json"))
    assert result.result_code == "2001" and not result.query_succeeded
    assert not result.is_completed
    assert result.result_desc == "The initiator information is invalid."
    assert (result.receipt, result.amount_minor, result.status) == (None, None, None)
    assert result.occasion == "ORDER-17"


@pytest.mark.parametrize("amount", [100, "100", "100.00", 100.0])
def test_amount_flips_between_number_and_string(amount: Any) -> None:
    assert parse_transaction_status_result(with_param("Amount", amount)).amount_minor == 10_000


def test_times_sent_as_strings_read_the_same() -> None:
    result = parse_transaction_status_result(with_param("InitiatedTime", "20191219102115"))
    assert result.initiated_at == dt.datetime(2019, 12, 19, 7, 21, 15, tzinfo=dt.UTC)


def test_a_receipt_sent_as_a_number_becomes_text() -> None:
    assert parse_transaction_status_result(with_param("ReceiptNo", 12345)).receipt == "12345"


def test_a_status_other_than_completed_is_not_completed() -> None:
    result = parse_transaction_status_result(with_param("TransactionStatus", "Failed"))
    assert result.query_succeeded and not result.is_completed


def test_missing_keys_are_none_and_not_completed() -> None:
    body = load("transaction_status_result.json")
    params = body["Result"]["ResultParameters"]["ResultParameter"]
    body["Result"]["ResultParameters"]["ResultParameter"] = [
        p for p in params if p["Key"] not in ("Amount", "DebitPartyName", "InitiatedTime")
    ]
    result = parse_transaction_status_result(body)
    assert (result.amount_minor, result.debit_party, result.initiated_at) == (None, None, None)
    assert not result.is_completed


def test_keys_without_value_are_none() -> None:
    result = parse_transaction_status_result(with_param("Amount"))
    assert result.amount_minor is None and not result.is_completed


def test_a_lone_parameter_object_is_read() -> None:
    body = load("transaction_status_result.json")
    body["Result"]["ResultParameters"]["ResultParameter"] = {"Key": "ReceiptNo", "Value": "X1"}
    assert parse_transaction_status_result(body).receipt == "X1"


def test_a_result_code_as_a_string_and_the_bare_result() -> None:
    body = load("transaction_status_result.json")["Result"] | {"ResultCode": "0"}
    assert parse_transaction_status_result(body).query_succeeded


def test_an_alphanumeric_result_code_is_kept() -> None:
    body = load("transaction_status_failed.json")
    body["Result"]["ResultCode"] = "R000001"
    assert parse_transaction_status_result(body).result_code == "R000001"


def test_a_masked_debit_party_keeps_its_mask() -> None:
    result = parse_transaction_status_result(with_param("DebitPartyName", "2547****149 - JOHN DOE"))
    assert result.debit_party_phone == "2547****149" and result.debit_party_name == "JOHN DOE"


def test_a_debit_party_with_a_hyphenated_name() -> None:
    result = parse_transaction_status_result(
        with_param("DebitPartyName", "0708374149 - Mary-Jane Wanjiru")
    )
    assert result.debit_party_phone == "254708374149"
    assert result.debit_party_name == "Mary-Jane Wanjiru"


def test_a_bad_amount_is_named_by_its_path() -> None:
    with pytest.raises(MpesaPayloadError) as caught:
        parse_transaction_status_result(with_param("Amount", "1.001"))
    assert caught.value.path == "Result.ResultParameters.ResultParameter[1].Value"


def test_a_bad_time_is_named_by_its_path() -> None:
    with pytest.raises(MpesaPayloadError) as caught:
        parse_transaction_status_result(with_param("FinalisedTime", 20191332102120))
    assert caught.value.path == "Result.ResultParameters.ResultParameter[6].Value"


def test_a_missing_result_code_is_named() -> None:
    body = load("transaction_status_result.json")
    del body["Result"]["ResultCode"]
    with pytest.raises(MpesaPayloadError) as caught:
        parse_transaction_status_result(body)
    assert caught.value.path == "Result.ResultCode"


def test_something_else_is_refused() -> None:
    with pytest.raises(MpesaPayloadError):
        parse_transaction_status_result({"Body": {}})
