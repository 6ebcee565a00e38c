"""The engine on worked examples a payments-ops analyst would recognise."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from engine_ledger import NEXT_DAY, Run, bank, pg

from hisaab.matching.rules import default_ruleset

RRN = "412345678901"
NEFT_UTR = "YESBN24015123456"


def test_upi_payment_and_its_credit_with_the_same_rrn_match_automatically(run: Run) -> None:
    out = run([pg("pay_1", "850.00", utr=RRN)], [bank("b1", "850.00", utr=RRN)])
    match = out.match_of("pay_1")
    assert (match["bank_record_id"], match["status"], match["stage"]) == ("b1", "auto", "utr_exact")
    assert match["match_type"] == "one_to_one"
    # UTR 1.0 + amount 0.8 + date 0.6 out of 3.1 (merchant reference absent): 0.7742
    assert match["confidence"] == Decimal("0.7742")
    assert (match["score_utr"], match["score_amount"], match["score_date"]) == (
        Decimal("1"),
        Decimal("0.8"),
        Decimal("0.6"),
    )
    assert match["score_merchant_ref"] == 0
    assert out.exceptions == []


def test_next_day_credit_is_within_the_one_day_date_rule(run: Run) -> None:
    out = run(
        [pg("pay_1", "850.00", utr=RRN)], [bank("b1", "850.00", utr=RRN, value_date=NEXT_DAY)]
    )
    assert out.match_of("pay_1")["status"] == "auto"
    assert out.match_of("pay_1")["date_delta_days"] == 1


def test_credit_short_by_ten_rupees_is_an_amount_mismatch_on_both_sides(run: Run) -> None:
    out = run([pg("pay_1", "850.00", utr=RRN)], [bank("b1", "840.00", utr=RRN)])
    assert out.matches == []
    assert out.category("pay_1") == out.category("b1") == "AMOUNT_MISMATCH"
    evidence = json.loads(out.exception("b1")["details"])
    assert evidence["amount_delta_minor"] == -1000
    assert [c["record_id"] for c in evidence["counterparts"]] == ["pay_1"]
    assert out.exception("pay_1")["counterpart_record_ids"] == "b1"


def test_one_paisa_difference_is_within_the_seed_tolerance(run: Run) -> None:
    out = run([pg("pay_1", "850.00", utr=RRN)], [bank("b1", "850.01", utr=RRN)])
    assert out.match_of("b1")["status"] == "auto"
    assert out.match_of("b1")["amount_delta_minor"] == 1


def test_same_rrn_five_days_apart_is_suggested_as_a_date_mismatch(run: Run) -> None:
    out = run(
        [pg("pay_1", "850.00", utr=RRN)], [bank("b1", "850.00", utr=RRN, value_date="2024-01-20")]
    )
    assert out.match_of("pay_1")["status"] == "suggested"
    assert out.category("pay_1") == out.category("b1") == "DATE_MISMATCH"


def test_one_neft_credit_settles_37_payments_net_of_mdr_and_gst(run: Run) -> None:
    # Each card payment of 1,000.00 pays MDR 2% (20.00) and GST 18% of it (3.60): 976.40 net.
    payments = [
        pg(f"pay_{i:02d}", "1000.00", fee="20.00", tax="3.60", settlement_id="setl_Xk3f9aQ2Lm7pRt")
        for i in range(37)
    ]
    credit = bank(
        "neft_1", "36126.80", utr=NEFT_UTR, settlement_id="setl_Xk3f9aQ2Lm7pRt", value_date=NEXT_DAY
    )
    out = run(payments, [credit])
    assert out.members("neft_1") == {f"pay_{i:02d}" for i in range(37)}
    rows = [m for m in out.matches if m["bank_record_id"] == "neft_1"]
    assert {(m["match_type"], m["stage"], m["status"]) for m in rows} == {
        ("many_to_one", "settlement", "auto")
    }
    assert len({m["match_id"] for m in rows}) == 1
    assert {m["pg_net_minor"] for m in rows} == {97_640}
    assert out.exceptions == []


def test_settlement_found_by_settlement_utr_when_narration_has_no_settlement_id(run: Run) -> None:
    # The razorpay-style settlement report's example: 1,000.00 - 24.58 fee - 4.42 GST = 971.00
    payment = pg(
        "pay_1", "1000.00", fee="24.58", tax="4.42", settlement_id="setl_A", settlement_utr=NEFT_UTR
    )
    out = run([payment], [bank("neft_1", "971.00", utr=NEFT_UTR, value_date=NEXT_DAY)])
    assert out.match_of("pay_1")["bank_record_id"] == "neft_1"
    assert out.match_of("pay_1")["status"] == "auto"


def test_settlement_credit_short_by_an_adjustment_flags_the_credit_and_every_payment(
    run: Run,
) -> None:
    payments = [
        pg("pay_1", "1000.00", fee="20.00", tax="3.60", settlement_id="setl_A"),
        pg("pay_2", "500.00", fee="10.00", tax="1.80", settlement_id="setl_A"),
    ]
    out = run(payments, [bank("neft_1", "1400.00", settlement_id="setl_A", value_date=NEXT_DAY)])
    assert out.matches == []
    assert {out.category(r) for r in ("pay_1", "pay_2", "neft_1")} == {"AMOUNT_MISMATCH"}
    # expected 1,464.60 net; the bank credited 1,400.00
    assert json.loads(out.exception("neft_1")["details"])["amount_delta_minor"] == -6460
    assert out.exception("neft_1")["counterpart_record_ids"] == "pay_1;pay_2"


def test_unlinked_settlement_found_by_subset_sum_is_only_suggested(run: Run) -> None:
    payments = [
        pg("pay_1", "300.00", fee="6.00", tax="1.08", merchant_id="M0001234"),
        pg("pay_2", "200.00", fee="4.00", tax="0.72", merchant_id="M0001234"),
        pg("pay_3", "999.00", fee="19.98", tax="3.60", merchant_id="M0009999"),
    ]
    credit = bank("neft_1", "488.20", utr=NEFT_UTR, merchant_id="M0001234", value_date=NEXT_DAY)
    out = run(payments, [credit])
    assert out.members("neft_1") == {"pay_1", "pay_2"}
    assert {m["status"] for m in out.matches} == {"suggested"}
    assert out.category("neft_1") == out.category("pay_1") == "UTR_MISSING"
    assert out.category("pay_3") == "UNMATCHED_PG"


def test_credit_naming_no_merchant_is_never_explained_by_a_sum_of_loose_payments(
    run: Run,
) -> None:
    payments = [
        pg("pay_1", "300.00", fee="6.00", tax="1.08", merchant_id="M0001234"),
        pg("pay_2", "200.00", fee="4.00", tax="0.72", merchant_id="M0005678"),
    ]
    out = run(payments, [bank("int_1", "488.20", narration="INTEREST CREDIT", value_date=NEXT_DAY)])
    assert out.matches == []
    assert out.category("int_1") == "UNMATCHED_BANK"


def test_credit_without_rrn_is_suggested_and_flagged_utr_missing(run: Run) -> None:
    out = run([pg("pay_1", "1234.56", utr=RRN)], [bank("b1", "1234.56", narration="UPI TRANSFER")])
    assert out.match_of("b1")["status"] == "suggested"
    assert out.match_of("b1")["stage"] == "amount_date"
    assert out.category("pay_1") == out.category("b1") == "UTR_MISSING"


def test_two_identical_credits_without_rrn_are_ambiguous_and_neither_is_picked(run: Run) -> None:
    out = run(
        [pg("pay_1", "777.00", utr=RRN)],
        [bank("b1", "777.00"), bank("b2", "777.00")],
    )
    assert out.matches == []
    assert {out.category(r) for r in ("pay_1", "b1", "b2")} == {"AMBIGUOUS"}
    assert out.exception("pay_1")["counterpart_record_ids"] == "b1;b2"


def test_the_closer_date_wins_a_near_tie_that_is_not_a_tie(run: Run) -> None:
    out = run(
        [pg("pay_1", "777.00", utr=RRN)],
        [bank("b1", "777.00"), bank("b2", "777.00", value_date=NEXT_DAY)],
    )
    assert out.match_of("pay_1")["bank_record_id"] == "b1"
    assert out.category("b2") == "UNMATCHED_BANK"


def test_pg_reusing_an_rrn_leaves_the_original_pair_matched(run: Run) -> None:
    out = run(
        [pg("pay_1", "850.00", utr=RRN), pg("pay_2", "120.00", utr=RRN)],
        [bank("b1", "850.00", utr=RRN)],
    )
    assert out.auto_pairs() == {("pay_1", "b1")}
    assert out.category("pay_2") == "DUPLICATE_UTR"
    assert out.exception("pay_2")["counterpart_record_ids"] == "b1;pay_1"


def test_bank_posting_the_same_credit_twice_flags_all_three_records(run: Run) -> None:
    out = run(
        [pg("pay_1", "850.00", utr=RRN)],
        [bank("b1", "850.00", utr=RRN), bank("b2", "850.00", utr=RRN)],
    )
    assert out.matches == []
    assert {out.category(r) for r in ("pay_1", "b1", "b2")} == {"DUPLICATE_UTR"}


def test_refund_never_matches_a_credit(run: Run) -> None:
    out = run([pg("rfnd_1", "850.00", utr=RRN, direction="DR")], [bank("b1", "850.00", utr=RRN)])
    assert out.matches == []
    assert out.category("rfnd_1") == "UNMATCHED_PG"
    assert out.category("b1") == "UNMATCHED_BANK"


def test_currencies_never_mix(run: Run) -> None:
    out = run([pg("pay_1", "850.00", utr=RRN, currency="KES")], [bank("b1", "850.00", utr=RRN)])
    assert out.matches == []
    assert (out.category("pay_1"), out.category("b1")) == ("UNMATCHED_PG", "UNMATCHED_BANK")


def test_round_amounts_beyond_the_block_bound_are_ambiguous_not_a_cross_product(run: Run) -> None:
    payments = [pg(f"pay_{i}", "1000.00", utr=f"41234567{i:04d}") for i in range(3)]
    credits = [bank(f"b{i}", "1000.00", narration="CASH DEPOSIT") for i in range(12)]
    out = run(payments, credits)
    assert out.matches == []
    # Each payment sees 12 same-amount credits (> 8 allowed): none is paired, all are named.
    assert {out.category(f"pay_{i}") for i in range(3)} == {"AMBIGUOUS"}
    assert "too many" in json.loads(out.exception("pay_0")["details"])["reason"]


def test_merchant_reference_pairs_a_credit_that_names_the_order(run: Run) -> None:
    out = run(
        [pg("pay_1", "2500.00", merchant_ref="order_AB12CD34EF")],
        [bank("b1", "2500.00", merchant_ref="order_AB12CD34EF")],
    )
    match = out.match_of("b1")
    assert (match["stage"], match["score_merchant_ref"]) == ("merchant_ref", Decimal("0.7"))
    # amount 0.8 + date 0.6 + reference 0.7 = 2.1 of 3.1: below 0.75, proposed for review
    assert match["status"] == "suggested"


def test_lower_threshold_from_the_environment_turns_suggestions_automatic(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATCH_CONFIDENCE_THRESHOLD", "0.6")
    out = run(
        [pg("pay_1", "2500.00", merchant_ref="order_AB12CD34EF")],
        [bank("b1", "2500.00", merchant_ref="order_AB12CD34EF")],
        default_ruleset(),
    )
    assert out.match_of("b1")["status"] == "auto"
    assert out.category("b1") is None


def test_every_record_is_either_auto_matched_or_one_exception(run: Run) -> None:
    payments = [
        pg("pay_1", "850.00", utr=RRN),
        pg("pay_2", "10.00", utr="412345678902"),
        pg("pay_3", "99.00", utr="412345678903"),
    ]
    credits = [
        bank("b1", "850.00", utr=RRN),
        bank("b2", "11.00", utr="412345678902"),
        bank("b9", "5.00"),
    ]
    out = run(payments, credits)
    auto = {m["pg_record_id"] for m in out.matches if m["status"] == "auto"} | {
        m["bank_record_id"] for m in out.matches if m["status"] == "auto"
    }
    excepted = [e["record_id"] for e in out.exceptions]
    assert sorted([*auto, *excepted]) == ["b1", "b2", "b9", "pay_1", "pay_2", "pay_3"]


def test_summary_counts_amounts_by_stage_and_category(run: Run) -> None:
    out = run(
        [pg("pay_1", "850.00", utr=RRN), pg("pay_2", "100.00", utr="412345678902")],
        [bank("b1", "850.00", utr=RRN)],
    )
    inr = out.summary["totals"]["pg"]["INR"]
    assert (inr["records"], inr["matched_records"], inr["amount_minor"]) == (2, 1, 95_000)
    assert inr["match_rate_by_count"] == 0.5
    assert inr["match_rate_by_amount"] == pytest.approx(85_000 / 95_000, abs=1e-6)
    assert (
        out.summary["matched_by_stage"]["utr_exact"]["auto"]["INR"]["bank_amount_minor"] == 85_000
    )
    assert out.summary["exceptions_by_category"]["UNMATCHED_PG"]["pg"]["INR"] == {
        "records": 1,
        "amount_minor": 10_000,
    }
    assert out.summary["ruleset"]["version"] == "seed-1"


def test_an_rrn_padded_with_spaces_matches_like_a_clean_one(run: Run) -> None:
    # Some bank exports pad references, with plain or non-breaking spaces.
    out = run(
        [pg("pay_1", "850.00", utr=f" {RRN}\u00a0", merchant_ref="  ")],
        [bank("b1", "850.00", utr=f"{RRN}  ", merchant_ref="\u3000")],
    )
    match = out.match_of("pay_1")
    assert (match["bank_record_id"], match["status"], match["stage"]) == ("b1", "auto", "utr_exact")
    # Blank merchant references are absent, not equal: the same 0.7742 as without them.
    assert match["confidence"] == Decimal("0.7742")
    assert match["score_merchant_ref"] == 0
    assert out.exceptions == []


def test_blank_rrns_do_not_link_a_payment_to_a_credit(run: Run) -> None:
    out = run([pg("pay_1", "850.00", utr="   ")], [bank("b1", "900.00", utr=" ")])
    assert out.matches == []
    assert (out.category("pay_1"), out.category("b1")) == ("UNMATCHED_PG", "UNMATCHED_BANK")


def test_an_order_id_in_devanagari_links_like_any_other_reference(run: Run) -> None:
    out = run(
        [pg("pay_1", "2500.00", merchant_ref="ऑर्डर-४२")],
        [bank("b1", "2500.00", merchant_ref="ऑर्डर-४२\u2003")],
    )
    match = out.match_of("b1")
    assert (match["pg_record_id"], match["stage"]) == ("pay_1", "merchant_ref")
    assert match["score_merchant_ref"] == Decimal("0.7")
