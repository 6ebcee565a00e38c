"""Batch reconciliation of two files: what `hisaab reconcile` runs."""

from __future__ import annotations

import json
from pathlib import Path

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
