"""The rules of one payment session, as worked examples: what M-Pesa said, what Hisaab decides.

Every example is a KES 2,500.00 payment asked of 0712 345 678 by STK Push at 10:30 on
14 December 2024; a session is stuck after five minutes without an outcome. The rules are pure,
so the evidence is written out here as M-Pesa would have sent it.

(This module is not called test_rules.py: tests/matching has one, and test modules need unique
names across the tree.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

from hypothesis import given
from hypothesis import strategies as st

from hisaab.realtime.rules import (
    Decision,
    Evidence,
    SessionView,
    masked_phone,
    phones_agree,
    reconcile,
)

PUSHED_AT = dt.datetime(2024, 12, 14, 10, 30, tzinfo=dt.UTC)
STUCK_AFTER = dt.timedelta(minutes=5)
KES_2500 = 250_000
PHONE = "254712345678"
RECEIPT = "NLJ7RT61SV"
_ids = itertools.count(1)


def session(status: str = "processing", **changes: object) -> SessionView:
    view = SessionView(
        id="ps_order_1001",
        amount_minor=KES_2500,
        currency="KES",
        phone=PHONE,
        status=status,
        created_at=PUSHED_AT - dt.timedelta(seconds=5),
        initiated_at=PUSHED_AT,
        checkout_request_id="ws_CO_141220241030001",
    )
    return dataclasses.replace(view, **changes)  # type: ignore[arg-type]


def at(seconds: float) -> dt.datetime:
    return PUSHED_AT + dt.timedelta(seconds=seconds)


def callback(code: str, *, seconds: float = 12, repeat: bool = False, **fields: object) -> Evidence:
    """An STK callback; a success carries the amount, receipt and phone unless told otherwise."""
    values: dict[str, object] = {}
    if code == "0":
        values = {"amount_minor": KES_2500, "receipt": RECEIPT, "phone": PHONE}
    values.update(fields)
    return Evidence(
        id=next(_ids),
        kind="stk_callback",
        received_at=at(seconds),
        repeat=repeat,
        result_code=code,
        **values,  # type: ignore[arg-type]
    )


def event(kind: str, *, seconds: float = 12, **fields: object) -> Evidence:
    return Evidence(id=next(_ids), kind=kind, received_at=at(seconds), **fields)  # type: ignore[arg-type]


def decide(
    view: SessionView, *events: Evidence, now: float = 20, others: tuple[str, ...] = ()
) -> Decision:
    return reconcile(view, events, now=at(now), stuck_after=STUCK_AFTER, receipt_also_on=others)


def types(decision: Decision) -> list[str]:
    return [issue.type for issue in decision.issues]


def issue(decision: Decision, kind: str) -> dict[str, object]:
    found = [i for i in decision.issues if i.type == kind]
    assert len(found) == 1, decision.issues
    return found[0].as_dict()


# --- statuses by result code ---------------------------------------------------------------


class TestResultCodes:
    def test_0_pays_the_session_with_its_receipt(self) -> None:
        decision = decide(session(), callback("0"))
        assert decision.session_status == "paid"
        assert decision.result_status == "matched"
        assert decision.issues == ()
        assert (decision.receipt, decision.paid_amount_minor) == (RECEIPT, KES_2500)
        assert decision.result_code == "0"
        assert decision.query_needed is False

    def test_1032_the_payer_cancelled(self) -> None:
        decision = decide(session(), callback("1032"))
        assert (decision.session_status, decision.result_status) == ("cancelled", "matched")
        assert decision.receipt is None
        assert decision.result_code == "1032"

    def test_2001_wrong_pin_fails_the_payment(self) -> None:
        decision = decide(session(), callback("2001"))
        assert (decision.session_status, decision.result_status) == ("failed", "matched")

    def test_1_insufficient_balance_fails_the_payment(self) -> None:
        decision = decide(session(), callback("1"))
        assert decision.session_status == "failed"
        assert decision.result_code == "1"

    def test_1037_the_phone_could_not_be_reached_so_mpesa_is_asked(self) -> None:
        decision = decide(session(), callback("1037"))
        assert (decision.session_status, decision.result_status) == ("processing", "pending")
        assert decision.query_needed is True
        assert decision.issues == ()

    def test_1019_in_a_callback_waits_for_the_query(self) -> None:
        decision = decide(session(), callback("1019"))
        assert decision.session_status == "processing"
        assert decision.query_needed is True

    def test_1019_confirmed_by_the_query_expires_the_session(self) -> None:
        decision = decide(
            session(), callback("1019"), event("stk_query", seconds=40, result_code="1019")
        )
        assert (decision.session_status, decision.result_status) == ("expired", "matched")
        assert decision.result_code == "1019"
        assert decision.query_needed is False

    def test_an_unknown_code_is_never_paid_even_with_a_receipt(self) -> None:
        odd = callback("4999", amount_minor=KES_2500, receipt=RECEIPT, phone=PHONE)
        decision = decide(session(), odd)
        assert decision.session_status == "processing"
        assert decision.receipt is None
        assert decision.query_needed is True

    def test_a_zero_written_unusually_is_not_success(self) -> None:
        decision = decide(session(), event("stk_query", result_code="00"))
        assert decision.session_status == "processing"
        assert decision.query_needed is True

    def test_a_query_answer_of_0_pays_a_session_whose_callback_never_came(self) -> None:
        decision = decide(session(), event("stk_query", seconds=400, result_code="0"), now=401)
        assert decision.session_status == "paid"
        assert types(decision) == ["missing_callback"]

    def test_a_settled_session_is_not_reopened_by_a_later_failure(self) -> None:
        decision = decide(session("cancelled"), callback("2001"))
        assert decision.session_status == "cancelled"


# --- what counts as evidence ----------------------------------------------------------------


class TestEvidence:
    def test_an_unauthenticated_success_is_ignored(self) -> None:
        forged = dataclasses.replace(callback("0"), authenticated=False)
        decision = decide(session(), forged)
        assert decision.session_status == "processing"
        assert decision.receipt is None
        assert decision.issues == ()

    def test_a_forged_copy_does_not_make_a_duplicate_callback(self) -> None:
        forged = dataclasses.replace(callback("1032", repeat=True), authenticated=False)
        decision = decide(session(), callback("0"), forged)
        assert decision.session_status == "paid"
        assert decision.issues == ()

    def test_our_own_stk_push_record_is_not_evidence_of_payment(self) -> None:
        pushed = event("stk_push", seconds=0, result_code="0", amount_minor=KES_2500)
        decision = decide(session(), pushed)
        assert decision.session_status == "processing"

    def test_a_c2b_validation_request_is_not_a_payment(self) -> None:
        asked = event("c2b_validation", amount_minor=KES_2500, receipt="RKTQDM7W6S")
        decision = decide(session("pending", initiated_at=None), asked)
        assert decision.session_status == "pending"

    def test_a_c2b_confirmation_pays_a_session_never_pushed(self) -> None:
        confirmation = event(
            "c2b_confirmation",
            result_code="0",
            amount_minor=KES_2500,
            receipt="RKTQDM7W6S",
            phone="25471****678",  # C2B v2 masks the MSISDN
        )
        decision = decide(session("pending", initiated_at=None), confirmation)
        assert (decision.session_status, decision.result_status) == ("paid", "matched")
        assert decision.receipt == "RKTQDM7W6S"

    def test_a_completed_transaction_status_pays_the_session(self) -> None:
        status = event(
            "transaction_status", result_code="0", receipt=RECEIPT, amount_minor=KES_2500
        )
        decision = decide(session(), status)
        assert decision.session_status == "paid"
        assert decision.receipt == RECEIPT

    def test_a_transaction_status_that_is_not_completed_settles_nothing(self) -> None:
        # The query succeeded (ResultCode 0) but the payment is not Completed: no receipt kept.
        status = event("transaction_status", result_code="0", receipt=None, amount_minor=KES_2500)
        decision = decide(session(), status)
        assert decision.session_status == "processing"
        assert decision.receipt is None
        assert decision.query_needed is True


# --- discrepancies ------------------------------------------------------------------------


class TestDiscrepancies:
    def test_amount_mismatch_keeps_the_session_unpaid(self) -> None:
        decision = decide(session(), callback("0", amount_minor=240_000))
        assert decision.session_status == "processing"
        assert decision.result_status == "discrepancy"
        found = issue(decision, "amount_mismatch")
        assert found["severity"] == "high"
        assert found["details"] == {
            "expected_minor": KES_2500,
            "received_minor": 240_000,
            "currency": "KES",
        }

    def test_status_mismatch_when_mpesa_took_money_for_a_cancelled_session(self) -> None:
        decision = decide(session("cancelled"), callback("0"))
        assert decision.session_status == "cancelled"  # a person decides, not the rules
        found = issue(decision, "status_mismatch")
        assert found["severity"] == "high"
        assert found["details"] == {"session_status": "cancelled", "receipt": RECEIPT}

    def test_status_mismatch_when_the_session_is_paid_without_any_word_from_mpesa(self) -> None:
        decision = decide(session("paid"))
        assert decision.session_status == "paid"
        assert issue(decision, "status_mismatch")["severity"] == "high"

    def test_status_mismatch_when_the_session_is_paid_but_mpesa_says_it_failed(self) -> None:
        decision = decide(session("paid"), callback("2001"))
        assert decision.session_status == "paid"
        found = issue(decision, "status_mismatch")
        assert found["details"] == {"failure_code": "2001"}

    def test_status_mismatch_when_mpesa_reports_a_failure_then_a_success(self) -> None:
        failed = callback("1032", seconds=12)
        paid = event(
            "c2b_confirmation",
            seconds=30,
            result_code="0",
            amount_minor=KES_2500,
            receipt="RKTQDM7W6S",
        )
        decision = decide(session(), failed, paid, now=31)
        assert decision.session_status == "paid"
        assert issue(decision, "status_mismatch")["details"] == {
            "failure_code": "1032",
            "receipt": "RKTQDM7W6S",
        }

    def test_duplicate_receipt_names_the_other_session(self) -> None:
        decision = decide(session(), callback("0"), others=("ps_order_0999",))
        assert decision.session_status == "paid"
        found = issue(decision, "duplicate_receipt")
        assert found["severity"] == "high"
        assert found["details"] == {"receipt": RECEIPT, "other_sessions": ["ps_order_0999"]}

    def test_phone_mismatch_is_medium_and_shows_masked_numbers_only(self) -> None:
        decision = decide(session(), callback("0", phone="254799000111"))
        assert decision.session_status == "paid"  # the money arrived; who paid is a question
        found = issue(decision, "phone_mismatch")
        assert found["severity"] == "medium"
        assert found["details"] == {"expected": "2547****678", "received": "2547****111"}

    def test_a_masked_phone_with_the_same_visible_digits_agrees(self) -> None:
        for masked in ("25471****678", "2547****678", "254712****78"):
            decision = decide(session(), callback("0", phone=masked))
            assert types(decision) == [], masked

    def test_a_masked_phone_with_other_visible_digits_is_a_mismatch(self) -> None:
        decision = decide(session(), callback("0", phone="25470****149"))
        assert issue(decision, "phone_mismatch")["details"] == {
            "expected": "2547****678",
            "received": "25470****149",
        }

    def test_a_hashed_msisdn_cannot_be_compared_and_is_not_a_mismatch(self) -> None:
        hashed = "a" * 64
        decision = decide(session(), callback("0", phone=hashed))
        assert types(decision) == []

    def test_missing_callback_when_the_query_settled_the_payment(self) -> None:
        decision = decide(session(), event("stk_query", seconds=320, result_code="1032"), now=321)
        assert decision.session_status == "cancelled"
        assert issue(decision, "missing_callback")["severity"] == "medium"

    def test_stuck_processing_after_five_minutes_without_an_outcome(self) -> None:
        decision = decide(session(), now=301)
        assert decision.session_status == "processing"
        assert decision.result_status == "discrepancy"
        assert issue(decision, "stuck_processing")["severity"] == "medium"
        assert decision.query_needed is True

    def test_not_stuck_before_five_minutes(self) -> None:
        decision = decide(session(), now=299)
        assert (decision.result_status, decision.issues, decision.query_needed) == (
            "pending",
            (),
            False,
        )

    def test_a_timeout_callback_does_not_stop_the_session_being_stuck(self) -> None:
        decision = decide(session(), callback("1037", seconds=45), now=400)
        assert types(decision) == ["stuck_processing"]

    def test_late_callback_still_pays_but_is_noted(self) -> None:
        decision = decide(session(), callback("0", seconds=360), now=361)
        assert decision.session_status == "paid"
        found = issue(decision, "late_callback")
        assert (found["severity"], found["details"]) == ("low", {"seconds": 360})

    def test_duplicate_callback_identical_copies_change_nothing(self) -> None:
        first = callback("0", seconds=12)
        again = callback("0", seconds=13, repeat=True)
        decision = decide(session(), first, again)
        assert decision.session_status == "paid"
        found = issue(decision, "duplicate_callback")
        assert found["severity"] == "low"
        assert found["details"] == {"copies": 2, "first_event_id": first.id}

    def test_duplicate_callback_contradicting_the_first_is_high_and_first_wins(self) -> None:
        first = callback("0", seconds=12)
        contradicting = callback("1032", seconds=13, repeat=True)
        decision = decide(session(), first, contradicting)
        assert decision.session_status == "paid"
        found = issue(decision, "duplicate_callback")
        assert found["severity"] == "high"
        assert found["details"] == {"result_codes": ["0", "1032"], "copies": 2}

    def test_the_decision_takes_the_highest_severity(self) -> None:
        decision = decide(session(), callback("0", phone="254799000111", amount_minor=1))
        assert sorted(types(decision)) == ["amount_mismatch", "phone_mismatch"]
        assert decision.severity == "high"


class TestPhones:
    def test_phones_agree_only_on_the_same_number(self) -> None:
        assert phones_agree(PHONE, PHONE)
        assert not phones_agree(PHONE, "254712345679")

    def test_digits_between_two_runs_of_stars_are_not_a_masking(self) -> None:
        assert not phones_agree(PHONE, "25**12**5678")

    def test_a_mask_showing_as_many_digits_as_the_number_has_is_not_a_match(self) -> None:
        assert not phones_agree(PHONE, "254712*345678")

    def test_masked_phone_hides_any_number(self) -> None:
        assert masked_phone(PHONE) == "2547****678"
        assert masked_phone("255712345678") == "2557****678"  # not a Kenyan number
        assert masked_phone("12345") == "****"


# --- the promise: nothing unauthenticated ever pays -----------------------------------------

CODES = ["0", "1", "17", "1019", "1032", "1037", "2001", "4999", "00", None]
KINDS = ["stk_callback", "stk_query", "transaction_status", "c2b_confirmation", "c2b_validation"]


@st.composite
def unauthenticated_events(draw: st.DrawFn) -> Evidence:
    return Evidence(
        id=draw(st.integers(1, 10_000)),
        kind=draw(st.sampled_from(KINDS)),
        received_at=at(draw(st.integers(0, 3_600))),
        authenticated=False,
        repeat=draw(st.booleans()),
        result_code=draw(st.sampled_from(CODES)),
        amount_minor=draw(st.sampled_from([None, KES_2500, 1])),
        receipt=draw(st.sampled_from([None, RECEIPT])),
        phone=draw(st.sampled_from([None, PHONE, "25470****149"])),
    )


@st.composite
def authenticated_failures(draw: st.DrawFn) -> Evidence:
    """Genuine M-Pesa messages that say the money did not (or not yet) move."""
    return Evidence(
        id=draw(st.integers(10_001, 20_000)),
        kind=draw(st.sampled_from(["stk_callback", "stk_query"])),
        received_at=at(draw(st.integers(0, 3_600))),
        result_code=draw(st.sampled_from(["1", "1019", "1032", "1037", "2001", "4999", "00"])),
        amount_minor=draw(st.sampled_from([None, KES_2500])),
        receipt=draw(st.sampled_from([None, RECEIPT])),
    )


@given(
    status=st.sampled_from(["pending", "processing", "failed", "cancelled", "expired"]),
    forged=st.lists(unauthenticated_events(), max_size=8),
    genuine=st.lists(authenticated_failures(), max_size=3),
    now=st.integers(0, 7_200),
)
def test_no_unauthenticated_payload_ever_makes_a_session_paid(
    status: str, forged: list[Evidence], genuine: list[Evidence], now: int
) -> None:
    decision = decide(session(status), *forged, *genuine, now=now)
    assert decision.session_status != "paid"
    assert decision.receipt is None
    assert decision.paid_amount_minor is None
