"""Batch reconciliation of two files: what `hisaab reconcile` runs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hisaab.errors import FormatError
from hisaab.recon.batch import BatchRequest, run_batch

PG = """record_id,amount_minor,currency,value_date,utr
pay_1,85000,INR,2024-01-15,412345678901
pay_2,50000,INR,2024-01-15,412345678902
"""
BANK = """record_id,amount_minor,currency,value_date,utr,narration
b1,85000,INR,2024-01-15,412345678901,UPI/P2M/412345678901/RAVI/HDFC/UPI
b4,5500,INR,2024-01-16,,CHARGES
"""
NO_AMOUNTS = "record_id,currency,value_date\npay_1,INR,2024-01-15\n"


def request(tmp_path: Path, pg: str, bank: str) -> BatchRequest:
    (tmp_path / "pg.csv").write_text(pg)
    (tmp_path / "bank.csv").write_text(bank)
    return BatchRequest(
        pg_path=tmp_path / "pg.csv",
        bank_path=tmp_path / "bank.csv",
        out_dir=tmp_path / "results",
        pg_template="canonical",
        bank_template="canonical",
    )


def test_one_upi_credit_matched_one_payment_and_one_charge_left_over(tmp_path: Path) -> None:
    summary = run_batch(request(tmp_path, PG, BANK))
    out = tmp_path / "results"
    matches = (out / "matches.csv").read_text().splitlines()
    exceptions = (out / "exceptions.csv").read_text().splitlines()
    assert [line.split(",")[5:7] for line in matches[1:]] == [["pay_1", "b1"]]
    assert [line.split(",")[1:4] for line in exceptions[1:]] == [
        ["UNMATCHED_PG", "pg", "pay_2"],
        ["UNMATCHED_BANK", "bank", "b4"],
    ]
    assert json.loads((out / "summary.json").read_text())["exception_count"] == 2
    assert summary["inputs"]["pg"]["records"] == 2


def test_the_pg_file_is_blamed_first_when_both_files_are_bad(tmp_path: Path) -> None:
    with pytest.raises(FormatError) as caught:
        run_batch(request(tmp_path, NO_AMOUNTS, NO_AMOUNTS))
    assert caught.value.file == str(tmp_path / "pg.csv")
    assert not (tmp_path / "results").exists()


def test_a_bad_bank_file_is_named_when_the_pg_file_is_fine(tmp_path: Path) -> None:
    with pytest.raises(FormatError) as caught:
        run_batch(request(tmp_path, PG, NO_AMOUNTS))
    assert caught.value.file == str(tmp_path / "bank.csv")
    assert "amount_minor" in caught.value.message
    assert not (tmp_path / "results").exists()


# The bank states a closing balance of 1,600.00 after one credit of 850.00 on 1,000.00: a page
# or a line is missing, 250.00 of it unexplained.
SHORT_STATEMENT = (
    ":20:STMT1\n:25:50100012345678\n:28C:1/1\n:60F:C240101INR1000,00\n"
    ":61:2401150115C850,00NTRFNONREF//HDFC0001\n:86:UPI/P2M/412345678901/RAVI/HDFC/UPI\n"
    ":62F:C240131INR2100,00\n"
)


def statement_request(tmp_path: Path, *, strict: bool = False, fmt: str = "csv") -> BatchRequest:
    (tmp_path / "pg.csv").write_text(PG)
    (tmp_path / "bank.sta").write_text(SHORT_STATEMENT)
    return BatchRequest(
        pg_path=tmp_path / "pg.csv",
        bank_path=tmp_path / "bank.sta",
        out_dir=tmp_path / "results",
        pg_template="canonical",
        strict=strict,
        fmt="csv" if fmt == "csv" else "parquet",
    )


def test_a_statement_that_does_not_add_up_is_matched_and_reported_as_an_exception(
    tmp_path: Path,
) -> None:
    summary = run_batch(statement_request(tmp_path))
    out = tmp_path / "results"
    matches = list(csv.DictReader((out / "matches.csv").read_text().splitlines()))
    exceptions = list(csv.DictReader((out / "exceptions.csv").read_text().splitlines()))
    assert [m["pg_record_id"] for m in matches] == ["pay_1"]
    finding = exceptions[-1]
    assert (finding["exception_id"], finding["category"], finding["side"]) == (
        "bank-statement-7",
        "BALANCE_MISMATCH",
        "bank",
    )
    assert (finding["record_id"], finding["amount_minor"]) == ("", "")
    assert (finding["amount_delta_minor"], finding["currency"]) == ("25000", "INR")
    assert finding["value_date"] == "2024-01-31"
    assert "difference 250.00 INR" in json.loads(finding["details"])["reason"]
    assert [e["category"] for e in exceptions[:-1]] == ["UNMATCHED_PG"]
    [reported] = summary["findings"]
    assert (reported["side"], reported["line"], reported["difference_minor"]) == ("bank", 7, 25000)
    assert summary["inputs"]["bank"]["findings"][0]["category"] == "BALANCE_MISMATCH"


def test_a_finding_is_appended_to_parquet_exceptions_too(tmp_path: Path) -> None:
    run_batch(statement_request(tmp_path, fmt="parquet"))
    rows = pq.read_table(tmp_path / "results" / "exceptions.parquet").to_pylist()
    assert [r["category"] for r in rows] == ["UNMATCHED_PG", "BALANCE_MISMATCH"]
    assert rows[-1]["amount_delta_minor"] == 25000


def test_strict_refuses_the_statement_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"difference 250\.00 INR"):
        run_batch(statement_request(tmp_path, strict=True))
    assert not (tmp_path / "results").exists()
