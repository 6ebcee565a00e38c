"""STK Push payloads as Daraja sends them: callbacks, push answers, query answers."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from hisaab.errors import InputError
from hisaab.mpesa.codes import Outcome
from hisaab.mpesa.errors import MpesaPayloadError
from hisaab.mpesa.payloads import (
    DarajaErrorBody,
    QueryStatus,
    StkPushAnswer,
    parse_stk_callback,
    parse_stk_push_answer,
    parse_stk_query_answer,
)

DATA = Path(__file__).parent / "data"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def items_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    return items


def with_item(name: str, value: Any) -> dict[str, Any]:
    """The documented success callback with one metadata item's Value replaced."""
    body = copy.deepcopy(load("stk_callback_success.json"))
    for item in items_of(body):
        if item["Name"] == name:
            item["Value"] = value
    return body


class TestSuccessCallback:
    def test_the_documented_callback_pays_one_shilling(self) -> None:
        cb = parse_stk_callback(load("stk_callback_success.json"))
        assert cb.is_paid and cb.result.outcome is Outcome.PAID
        assert (cb.amount_minor, cb.currency) == (100, "KES")
        assert cb.receipt == "NLJ7RT61SV"
        assert cb.phone == "254708374149"
        assert cb.balance_minor is None
        assert cb.merchant_request_id == "29115-34620561-1"
        assert cb.checkout_request_id == "ws_CO_191220191020363925"
        assert (
            cb.result_desc
            == cb.result_desc_raw
            == ("The service request is processed successfully.")
        )

    def test_kenya_time_becomes_utc(self) -> None:
        cb = parse_stk_callback(load("stk_callback_success.json"))
        # 10:21:15 in Nairobi (UTC+3) is 07:21:15 UTC.
        assert cb.transaction_time == dt.datetime(2019, 12, 19, 7, 21, 15, tzinfo=dt.UTC)

    def test_numbers_sent_as_strings_read_the_same(self) -> None:
        cb = parse_stk_callback(load("stk_callback_success_strings.json"))
        assert cb.is_paid
        assert cb.amount_minor == 150_000  # "1500.00" -> KES 1,500.00
        assert cb.receipt == "RKQ1ABCD2E"
        assert cb.phone == "254708374149"
        assert cb.balance_minor is None  # "Balance": "" means no balance
        assert cb.transaction_time == dt.datetime(2023, 11, 26, 12, 1, 19, tzinfo=dt.UTC)

    @pytest.mark.parametrize(
        "order", list(itertools.islice(itertools.permutations(range(5)), 0, 120, 7))
    )
    def test_item_order_does_not_matter(self, order: tuple[int, ...]) -> None:
        body = load("stk_callback_success.json")
        original = parse_stk_callback(body)
        items = items_of(body)
        body["Body"]["stkCallback"]["CallbackMetadata"]["Item"] = [items[i] for i in order]
        assert parse_stk_callback(body) == original

    @pytest.mark.parametrize("amount", [1, 1.0, "1", "1.00", " 1.0 ", 1.00])
    def test_one_shilling_however_it_is_written(self, amount: Any) -> None:
        assert parse_stk_callback(with_item("Amount", amount)).amount_minor == 100

    def test_cents_survive_exactly(self) -> None:
        assert parse_stk_callback(with_item("Amount", 10.1)).amount_minor == 1010
        assert parse_stk_callback(with_item("Amount", "2499.99")).amount_minor == 249_999

    def test_trailing_zeros_beyond_cents_are_exact_and_accepted(self) -> None:
        assert parse_stk_callback(with_item("Amount", "10.000")).amount_minor == 1000

    def test_a_balance_with_a_value_is_read(self) -> None:
        body = load("stk_callback_success.json")
        for item in items_of(body):
            if item["Name"] == "Balance":
                item["Value"] = 5000.5
        assert parse_stk_callback(body).balance_minor == 500_050

    def test_a_masked_phone_is_kept_as_given(self) -> None:
        assert parse_stk_callback(with_item("PhoneNumber", "2547****149")).phone == "2547****149"

    def test_a_lone_item_object_is_read_as_a_list_of_one(self) -> None:
        body = load("stk_callback_cancelled.json")
        body["Body"]["stkCallback"]["CallbackMetadata"] = {"Item": {"Name": "Balance"}}
        assert parse_stk_callback(body).balance_minor is None

    def test_the_bare_stk_callback_object_is_accepted(self) -> None:
        body = load("stk_callback_success.json")["Body"]
        assert parse_stk_callback(body).receipt == "NLJ7RT61SV"

    def test_the_same_item_twice_with_the_same_value_is_harmless(self) -> None:
        body = load("stk_callback_success.json")
        items_of(body).append({"Name": "Amount", "Value": 1})
        assert parse_stk_callback(body).amount_minor == 100


class TestFailureCallbacks:
    def test_cancelled_by_the_payer(self) -> None:
        cb = parse_stk_callback(load("stk_callback_cancelled.json"))
        assert cb.result.code == "1032" and cb.result.outcome is Outcome.CANCELLED
        assert cb.result_desc == "Request cancelled by user"
        assert cb.result_desc_raw == "[STK_CB - ]Request cancelled by user"
        assert (cb.amount_minor, cb.receipt, cb.phone, cb.transaction_time) == (
            None,
            None,
            None,
            None,
        )
        assert not cb.is_paid

    def test_wrong_pin_with_the_mpesacb_prefix(self) -> None:
        cb = parse_stk_callback(load("stk_callback_wrong_pin.json"))
        assert cb.result.outcome is Outcome.FAILED
        assert cb.result_desc == "The initiator information is invalid."

    def test_a_timeout_is_not_a_failure_but_a_question(self) -> None:
        cb = parse_stk_callback(load("stk_callback_timeout.json"))
        assert cb.result.outcome is Outcome.UNKNOWN and cb.result.query_first

    def test_an_unknown_code_is_kept_and_never_paid(self) -> None:
        cb = parse_stk_callback(load("stk_callback_unknown_code.json"))
        assert cb.result.code == "4999" and not cb.result.known
        assert cb.result.outcome is Outcome.UNKNOWN and not cb.is_paid
        assert cb.result_desc == "Something new happened"

    def test_a_result_code_sent_as_a_string_reads_the_same(self) -> None:
        body = load("stk_callback_cancelled.json")
        body["Body"]["stkCallback"]["ResultCode"] = "1032"
        assert parse_stk_callback(body).result.outcome is Outcome.CANCELLED


def refused(body: Any) -> MpesaPayloadError:
    with pytest.raises(MpesaPayloadError) as caught:
        parse_stk_callback(body)
    assert isinstance(caught.value, InputError)
    return caught.value


class TestBadCallbacks:
    AMOUNT = "Body.stkCallback.CallbackMetadata.Item[0].Value"

    def test_more_than_two_decimals_is_refused_at_its_path(self) -> None:
        error = refused(with_item("Amount", 1.005))
        assert error.path == self.AMOUNT
        assert "more than 2 decimal places" in error.describe()

    def test_a_float_sum_that_is_not_exact_money_is_refused(self) -> None:
        assert refused(with_item("Amount", 0.1 + 0.2)).path == self.AMOUNT

    @pytest.mark.parametrize("amount", [-5, "-1.00", "1,000.00", "ten", True, "NaN", "Infinity"])
    def test_amounts_that_are_not_money(self, amount: Any) -> None:
        assert refused(with_item("Amount", amount)).path == self.AMOUNT

    def test_success_without_metadata_is_not_read_as_paid(self) -> None:
        body = load("stk_callback_success.json")
        del body["Body"]["stkCallback"]["CallbackMetadata"]
        error = refused(body)
        assert "not read as paid" in error.message
        assert error.path == "Body.stkCallback.CallbackMetadata"

    def test_success_without_a_receipt_is_not_read_as_paid(self) -> None:
        body = load("stk_callback_success.json")
        items = items_of(body)
        items[:] = [i for i in items if i["Name"] != "MpesaReceiptNumber"]
        error = refused(body)
        assert "without MpesaReceiptNumber" in error.message

    def test_success_with_an_amount_lacking_its_value_is_not_paid(self) -> None:
        body = load("stk_callback_success.json")
        items_of(body)[0].pop("Value")
        assert "without Amount" in refused(body).message

    def test_an_impossible_date_is_refused(self) -> None:
        error = refused(with_item("TransactionDate", 20190230102115))
        assert error.path == "Body.stkCallback.CallbackMetadata.Item[3].Value"
        assert "not a real time" in error.message

    def test_a_date_that_is_not_a_timestamp_is_refused(self) -> None:
        assert (
            "not a Daraja timestamp" in refused(with_item("TransactionDate", "yesterday")).message
        )

    def test_a_phone_that_is_not_a_phone_is_refused(self) -> None:
        error = refused(with_item("PhoneNumber", "call me"))
        assert error.path == "Body.stkCallback.CallbackMetadata.Item[4].Value"

    def test_the_same_item_twice_with_different_values_is_ambiguous(self) -> None:
        body = load("stk_callback_success.json")
        items_of(body).append({"Name": "Amount", "Value": 1000})
        error = refused(body)
        assert "appears twice" in error.message
        assert error.path == "Body.stkCallback.CallbackMetadata.Item[5].Value"

    def test_a_missing_checkout_request_id_is_named(self) -> None:
        body = load("stk_callback_cancelled.json")
        del body["Body"]["stkCallback"]["CheckoutRequestID"]
        assert refused(body).path == "Body.stkCallback.CheckoutRequestID"

    def test_a_missing_result_code_is_named(self) -> None:
        body = load("stk_callback_cancelled.json")
        body["Body"]["stkCallback"]["ResultCode"] = None
        assert refused(body).path == "Body.stkCallback.ResultCode"

    def test_a_garbage_result_code_is_named(self) -> None:
        body = load("stk_callback_cancelled.json")
        body["Body"]["stkCallback"]["ResultCode"] = "abc"
        assert refused(body).path == "Body.stkCallback.ResultCode"

    def test_an_item_without_a_name_is_named(self) -> None:
        body = load("stk_callback_success.json")
        del items_of(body)[2]["Name"]
        assert refused(body).path == "Body.stkCallback.CallbackMetadata.Item[2].Name"

    @pytest.mark.parametrize("body", [[], "Body", None, {"Body": []}, {"Result": {}}])
    def test_something_that_is_not_a_callback(self, body: Any) -> None:
        refused(body)


class TestPushAnswer:
    def test_an_accepted_push(self) -> None:
        answer = parse_stk_push_answer(load("stk_push_answer.json"))
        assert isinstance(answer, StkPushAnswer) and answer.accepted
        assert answer.checkout_request_id == "ws_CO_191220191020363925"

    def test_an_error_body_is_returned_as_it_is(self) -> None:
        answer = parse_stk_push_answer(load("stk_push_invalid_phone.json"))
        assert answer == DarajaErrorBody(
            "9458-79414631-1", "400.002.02", "Bad Request - Invalid PhoneNumber"
        )
        assert not answer.still_processing

    def test_a_refusal_without_ids_is_not_accepted(self) -> None:
        answer = parse_stk_push_answer({"ResponseCode": "1", "ResponseDescription": "Rejected"})
        assert isinstance(answer, StkPushAnswer) and not answer.accepted

    def test_an_accepted_push_without_a_checkout_id_is_refused(self) -> None:
        body = load("stk_push_answer.json")
        del body["CheckoutRequestID"]
        with pytest.raises(MpesaPayloadError) as caught:
            parse_stk_push_answer(body)
        assert caught.value.path == "CheckoutRequestID"


class TestQueryAnswer:
    def test_a_final_answer_with_a_string_result_code(self) -> None:
        answer = parse_stk_query_answer(load("stk_query_final.json"))
        assert answer.status is QueryStatus.FINAL
        assert answer.result is not None and answer.result.outcome is Outcome.CANCELLED
        assert answer.checkout_request_id == "ws_CO_13012021093521236557"

    def test_a_numeric_result_code_zero_is_paid(self) -> None:
        body = load("stk_query_final.json") | {"ResultCode": 0, "ResultDesc": "ok"}
        answer = parse_stk_query_answer(body)
        assert answer.result is not None and answer.result.is_paid

    def test_still_processing_means_ask_again(self) -> None:
        answer = parse_stk_query_answer(load("stk_query_processing.json"))
        assert answer.status is QueryStatus.PROCESSING and answer.result is None
        assert answer.error is not None and answer.error.still_processing

    def test_the_same_error_code_with_another_message_is_a_refusal(self) -> None:
        answer = parse_stk_query_answer(load("stk_query_wrong_credentials.json"))
        assert answer.status is QueryStatus.REJECTED
        assert answer.error is not None
        assert answer.error.error_message == "[MerchantValidate] - Wrong credentials"

    def test_a_response_code_without_result_is_a_refusal(self) -> None:
        answer = parse_stk_query_answer({"ResponseCode": "1", "ResponseDescription": "no"})
        assert answer.status is QueryStatus.REJECTED and answer.result is None

    @pytest.mark.parametrize("body", [{}, {"ResultCode": "abc"}, [], {"ResultCode": True}])
    def test_unreadable_answers_are_refused(self, body: Any) -> None:
        with pytest.raises(MpesaPayloadError):
            parse_stk_query_answer(body)
