"""Scoring reconcile output against a truth file, on small hand-written examples.

The truth below is a day a finance person would recognise:

    pg 2 + bank 7          UPI payment and its credit                 MATCHED G1
    pg 3 + bank 8          UPI payment and its credit                 MATCHED G2
    pg 4, pg 5 + bank 9    two card payments settled by one NEFT      MATCHED G3
    pg 6                   UPI payment never credited                 UNMATCHED_PG
    bank 10                bank charge                                UNMATCHED_BANK
    pg 7 + bank 11         UPI credit 100 INR short                   AMOUNT_MISMATCH
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hisaab.errors import FormatError, InputError
from hisaab.sandbox.evaluate import evaluate

TRUTH = """side,record_id,source_line,expected,match_group,amount_minor
pg,pay_A,2,MATCHED,G1,10000
bank,,7,MATCHED,G1,10000
pg,pay_B,3,MATCHED,G2,20000
bank,,8,MATCHED,G2,20000
pg,pay_C,4,MATCHED,G3,50000
pg,pay_D,5,MATCHED,G3,30000
bank,,9,MATCHED,G3,78000
pg,pay_E,6,UNMATCHED_PG,,4000
bank,,10,UNMATCHED_BANK,,590
pg,pay_F,7,AMOUNT_MISMATCH,,60000
bank,,11,AMOUNT_MISMATCH,,50000
"""
MATCH_HEADER = (
    "match_id,match_type,stage,confidence,status,pg_record_id,bank_record_id,"
    "pg_amount_minor,bank_amount_minor,pg_source_line,bank_source_line\n"
)
PERFECT_MATCHES = [
    "m1,one_to_one,utr,1.0,auto,pay_A,b7,10000,10000,2,7",
    "m2,one_to_one,utr,1.0,auto,pay_B,b8,20000,20000,3,8",
    "m3,many_to_one,settlement,1.0,auto,pay_C,b9,50000,78000,4,9",
    "m3,many_to_one,settlement,1.0,auto,pay_D,b9,30000,78000,5,9",
]
EXCEPTION_HEADER = "exception_id,category,side,record_id,source_line,amount_minor,details\n"
PERFECT_EXCEPTIONS = [
    "e1,UNMATCHED_PG,pg,pay_E,6,4000,no credit",
    "e2,UNMATCHED_BANK,bank,b10,10,590,charge",
    "e3,AMOUNT_MISMATCH,pg,pay_F,7,60000,short by 100.00",
    "e4,AMOUNT_MISMATCH,bank,b11,11,50000,short by 100.00",
]


def write_case(tmp_path: Path, matches: list[str], exceptions: list[str]) -> tuple[Path, Path]:
    truth = tmp_path / "truth.csv"
    truth.write_text(TRUTH, encoding="utf-8")
    results = tmp_path / "results"
    results.mkdir()
    (results / "matches.csv").write_text(MATCH_HEADER + "\n".join(matches) + "\n")
    (results / "exceptions.csv").write_text(EXCEPTION_HEADER + "\n".join(exceptions) + "\n")
    return truth, results


def test_a_perfect_reconciliation_scores_one(tmp_path: Path) -> None:
    ev = evaluate(*write_case(tmp_path, PERFECT_MATCHES, PERFECT_EXCEPTIONS))
    assert ev.truth_records == 11 and ev.correct == 11
    assert (ev.matched.precision, ev.matched.recall, ev.matched.f1) == (1.0, 1.0, 1.0)
    assert ev.matched.support == ev.matched.predicted == 7
    for label in ("UNMATCHED_PG", "UNMATCHED_BANK", "AMOUNT_MISMATCH"):
        score = ev.categories[label]
        assert (score.precision, score.recall, score.f1) == (1.0, 1.0, 1.0)
    assert ev.categories["AMOUNT_MISMATCH"].support == 2
    assert ev.micro_f1 == 1.0 and ev.macro_f1 == 1.0
    assert ev.macro_labels == ["MATCHED", "UNMATCHED_PG", "UNMATCHED_BANK", "AMOUNT_MISMATCH"]
    assert (ev.missing, ev.absent_from_truth, ev.conflicts) == (0, 0, 0)
    assert ev.errors() == []


def test_one_swapped_pair_makes_all_four_records_wrong(tmp_path: Path) -> None:
    swapped = [
        "m1,one_to_one,amount,0.8,auto,pay_A,b8,10000,20000,2,8",
        "m2,one_to_one,amount,0.8,auto,pay_B,b7,20000,10000,3,7",
        *PERFECT_MATCHES[2:],
    ]
    ev = evaluate(*write_case(tmp_path, swapped, PERFECT_EXCEPTIONS))
    assert ev.matched.predicted == 7 and ev.matched.correct == 3
    assert ev.matched.precision == pytest.approx(3 / 7)
    assert ev.matched.recall == pytest.approx(3 / 7)
    assert ev.correct == 7 and ev.micro_f1 == pytest.approx(7 / 11)
    assert ev.confusion["MATCHED"] == {"MATCHED": 3, "MATCHED_WRONG_GROUP": 4}


def test_a_settlement_missing_one_member_is_wrong_for_every_record_involved(
    tmp_path: Path,
) -> None:
    partial = [*PERFECT_MATCHES[:3]]  # pay_D left out of the settlement
    exceptions = [*PERFECT_EXCEPTIONS, "e5,UNMATCHED_PG,pg,pay_D,5,30000,no match"]
    ev = evaluate(*write_case(tmp_path, partial, exceptions))
    assert ev.matched.predicted == 6 and ev.matched.correct == 4  # G1 and G2 only
    assert ev.categories["UNMATCHED_PG"].predicted == 2
    assert ev.categories["UNMATCHED_PG"].precision == 0.5
    assert ev.correct == 8


def test_a_record_the_reconciliation_lost_is_counted_missing(tmp_path: Path) -> None:
    ev = evaluate(
        *write_case(tmp_path, PERFECT_MATCHES, PERFECT_EXCEPTIONS[:1] + PERFECT_EXCEPTIONS[2:])
    )
    assert ev.missing == 1
    assert ev.categories["UNMATCHED_BANK"].recall == 0.0
    assert ev.categories["UNMATCHED_BANK"].precision is None
    assert ev.categories["UNMATCHED_BANK"].f1 == 0.0
    assert ev.micro_f1 == pytest.approx(10 / 11)
    assert ev.errors() == ["1 truth records are neither auto-matched nor in exceptions.csv"]
    assert ev.to_json()["records"]["missing"] == 1


def test_a_category_confusion_costs_both_categories(tmp_path: Path) -> None:
    exceptions = ["e1,UTR_MISSING,pg,pay_E,6,4000,no utr", *PERFECT_EXCEPTIONS[1:]]
    ev = evaluate(*write_case(tmp_path, PERFECT_MATCHES, exceptions))
    unmatched, utr_missing = ev.categories["UNMATCHED_PG"], ev.categories["UTR_MISSING"]
    assert (unmatched.support, unmatched.predicted, unmatched.correct) == (1, 0, 0)
    assert unmatched.recall == 0.0 and unmatched.precision is None
    assert (utr_missing.support, utr_missing.predicted, utr_missing.correct) == (0, 1, 0)
    assert utr_missing.precision == 0.0 and utr_missing.recall is None
    assert ev.macro_labels == [
        "MATCHED",
        "UNMATCHED_PG",
        "UNMATCHED_BANK",
        "AMOUNT_MISMATCH",
        "UTR_MISSING",
    ]
    assert ev.macro_f1 == pytest.approx(3 / 5)
    assert ev.micro_f1 == pytest.approx(10 / 11)
    assert ev.confusion["UNMATCHED_PG"] == {"UTR_MISSING": 1}


def test_suggested_matches_do_not_count_and_their_records_stay_exceptions(
    tmp_path: Path,
) -> None:
    matches = [*PERFECT_MATCHES, "m9,one_to_one,amount,0.5,suggested,pay_E,b10,4000,590,6,10"]
    ev = evaluate(*write_case(tmp_path, matches, PERFECT_EXCEPTIONS))
    assert ev.micro_f1 == 1.0 and ev.matched.predicted == 7


def test_records_absent_from_truth_and_double_claims_are_reported(tmp_path: Path) -> None:
    matches = [*PERFECT_MATCHES, "m4,one_to_one,amount,0.9,auto,pay_E,b99,4000,4000,6,99"]
    exceptions = [*PERFECT_EXCEPTIONS, "e9,UNMATCHED_BANK,bank,b7,7,10000,again"]
    ev = evaluate(*write_case(tmp_path, matches, exceptions))
    assert ev.absent_from_truth == 1  # bank line 99
    assert ev.conflicts == 2  # pay_E matched and an exception; bank 7 matched and an exception
    # pay_E is predicted MATCHED (m4) though truth says UNMATCHED_PG; bank 99 is extra
    assert ev.correct == 10
    assert ev.micro_f1 == pytest.approx(10 / 12)
    assert ev.matched.predicted == 9 and ev.matched.precision == pytest.approx(7 / 9)
    assert len(ev.errors()) == 2


def test_missing_files_columns_and_bad_values_are_clear_errors(tmp_path: Path) -> None:
    truth, results = write_case(tmp_path, PERFECT_MATCHES, PERFECT_EXCEPTIONS)
    with pytest.raises(InputError, match="does not exist"):
        evaluate(tmp_path / "nope.csv", results)
    with pytest.raises(InputError, match="results directory"):
        evaluate(truth, tmp_path / "nowhere")
    (results / "matches.csv").write_text("match_id,status,pg_source_line\n", encoding="utf-8")
    with pytest.raises(FormatError, match="missing column\\(s\\) bank_source_line") as info:
        evaluate(truth, results)
    assert "matches.csv" in info.value.describe()
    (results / "matches.csv").write_text(MATCH_HEADER + "m1,x,y,1,auto,a,b,1,1,two,7\n")
    with pytest.raises(FormatError, match="not a line number") as info:
        evaluate(truth, results)
    assert info.value.line == 2 and info.value.column == "pg_source_line"
    (results / "matches.csv").unlink()
    with pytest.raises(InputError, match=r"matches\.csv does not exist"):
        evaluate(truth, results)
    (results / "matches.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(FormatError, match="not UTF-8"):
        evaluate(truth, results)
    (results / "matches.csv").write_text("", encoding="utf-8")
    with pytest.raises(FormatError, match="empty"):
        evaluate(truth, results)


def test_a_truth_file_with_a_repeated_record_is_refused(tmp_path: Path) -> None:
    truth, results = write_case(tmp_path, PERFECT_MATCHES, PERFECT_EXCEPTIONS)
    truth.write_text(TRUTH + "bank,,7,UNMATCHED_BANK,,10000\n", encoding="utf-8")
    with pytest.raises(FormatError, match="bank line 7 appears twice"):
        evaluate(truth, results)
