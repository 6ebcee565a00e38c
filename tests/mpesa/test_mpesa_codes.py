"""The STK result-code table: what each code means for a payment, and garbage refused."""

from __future__ import annotations

import pytest

from hisaab.mpesa.codes import STK_RESULT_CODES, Outcome, classify
from hisaab.mpesa.errors import MpesaPayloadError


@pytest.mark.parametrize(
    ("code", "outcome", "retryable", "query_first"),
    [
        (0, Outcome.PAID, False, False),
        (1, Outcome.FAILED, False, False),
        (2, Outcome.FAILED, False, False),
        (3, Outcome.FAILED, False, False),
        (4, Outcome.FAILED, False, False),
        (8, Outcome.FAILED, False, False),
        (17, Outcome.FAILED, False, False),
        (1019, Outcome.EXPIRED, False, True),
        (1025, Outcome.FAILED, True, False),
        (9999, Outcome.FAILED, True, False),
        (1032, Outcome.CANCELLED, False, False),
        (1036, Outcome.UNKNOWN, False, True),
        (1037, Outcome.UNKNOWN, False, True),
        (1001, Outcome.UNKNOWN, False, True),
        (2001, Outcome.FAILED, False, False),
        (2028, Outcome.FAILED, False, False),
        (8006, Outcome.FAILED, False, False),
    ],
)
def test_every_documented_code_has_its_treatment(
    code: int, outcome: Outcome, retryable: bool, query_first: bool
) -> None:
    result = classify(code)
    assert (result.code, result.outcome, result.retryable, result.query_first) == (
        str(code),
        outcome,
        retryable,
        query_first,
    )
    assert result.known


def test_the_table_holds_exactly_the_documented_codes() -> None:
    documented = [0, 1, 2, 3, 4, 8, 17, 1019, 1025, 9999, 1032, 1036, 1037, 1001, 2001, 2028, 8006]
    assert sorted(STK_RESULT_CODES, key=int) == [str(c) for c in sorted(documented)]


def test_only_code_zero_is_paid() -> None:
    assert [c.code for c in STK_RESULT_CODES.values() if c.is_paid] == ["0"]


@pytest.mark.parametrize("raw", [0, "0", " 0 ", 0.0, "0\n"])
def test_zero_is_paid_however_it_is_written(raw: int | str) -> None:
    assert classify(raw).outcome is Outcome.PAID


def test_a_string_code_from_stk_query_reads_like_the_number() -> None:
    assert classify("1032") == classify(1032)


def test_2028_is_flagged_as_a_configuration_error() -> None:
    assert "configuration" in classify(2028).meaning


def test_17_says_not_to_retry_at_once() -> None:
    assert not classify(17).retryable
    assert "do not retry" in classify(17).meaning


@pytest.mark.parametrize("raw", [4999, "4999", "00", "+0", -1])
def test_an_unknown_code_is_kept_reported_and_never_paid(raw: int | str) -> None:
    result = classify(raw)
    assert result.outcome is Outcome.UNKNOWN
    assert result.query_first and not result.known and not result.is_paid
    assert result.code == str(raw).strip()
    assert result.code in result.meaning


@pytest.mark.parametrize("raw", ["abc", None, "", "  ", True, 1.5, "1032a", [0], {"code": 0}])
def test_garbage_is_refused_with_the_field_named(raw: object) -> None:
    with pytest.raises(MpesaPayloadError) as caught:
        classify(raw, path="Body.stkCallback.ResultCode")  # type: ignore[arg-type]
    assert caught.value.path == "Body.stkCallback.ResultCode"
    assert caught.value.describe().startswith("Body.stkCallback.ResultCode: result code")


def test_final_codes_settle_and_query_first_codes_do_not() -> None:
    assert classify(0).is_final and classify(1032).is_final
    assert not classify(1037).is_final and not classify(1019).is_final
