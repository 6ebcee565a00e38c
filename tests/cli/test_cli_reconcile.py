"""`hisaab reconcile` end to end on canonical files, and its behaviour on bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hisaab.cli.main import main

PG = """record_id,amount_minor,currency,value_date,utr,settlement_id,fee_minor,tax_minor
pay_1,85000,INR,2024-01-15,412345678901,,,
pay_2,50000,INR,2024-01-15,412345678902,,,
pay_3,100000,INR,2024-01-15,,setl_A,2458,442
pay_4,100000,INR,2024-01-15,,setl_A,2458,442
pay_5,99900,INR,2024-01-15,412345678905,,,
"""
BANK = """record_id,amount_minor,currency,value_date,utr,settlement_id,narration
b1,85000,INR,2024-01-15,412345678901,,UPI/P2M/412345678901/RAVI/HDFC/UPI
b2,49000,INR,2024-01-16,412345678902,,UPI/P2M/412345678902/ANU/SBI/UPI
b3,194200,INR,2024-01-16,YESBN24015123456,setl_A,NEFT CR-YESB0000001-HISAABPAY-setl_A
b4,5500,INR,2024-01-16,,,CHARGES
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    pg, bank = tmp_path / "pg.csv", tmp_path / "bank.csv"
    pg.write_text(PG)
    bank.write_text(BANK)
    return pg, bank


def reconcile(*args: str) -> int:
    try:
        main(["reconcile", *args])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def canonical(pg: Path, bank: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--pg",
        str(pg),
        "--bank",
        str(bank),
        "--pg-template",
        "canonical",
        "--bank-template",
        "canonical",
        "--out",
        str(out),
        *extra,
    ]


def test_reconcile_writes_matches_exceptions_and_summary(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert reconcile(*canonical(*files, out)) == 0
    with (out / "matches.csv").open() as fh:
        matches = list(csv.DictReader(fh))
    assert {(m["pg_record_id"], m["bank_record_id"], m["status"]) for m in matches} == {
        ("pay_1", "b1", "auto"),
        ("pay_3", "b3", "auto"),
        ("pay_4", "b3", "auto"),
    }
    with (out / "exceptions.csv").open() as fh:
        exceptions = {(e["category"], e["record_id"], e["source_line"]) for e in csv.DictReader(fh)}
    assert exceptions == {
        ("AMOUNT_MISMATCH", "pay_2", "3"),
        ("AMOUNT_MISMATCH", "b2", "3"),
        ("UNMATCHED_PG", "pay_5", "6"),
        ("UNMATCHED_BANK", "b4", "5"),
    }
    summary = json.loads((out / "summary.json").read_text())
    assert summary["totals"]["pg"]["INR"]["matched_records"] == 3
    assert summary["inputs"]["pg"]["sha256"] and summary["ruleset"]["version"] == "seed-1"
    assert "Reconciliation summary" in capsys.readouterr().out


def test_parquet_output(files: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert reconcile(*canonical(*files, out, "--format", "parquet", "--quiet")) == 0
    assert pq.read_table(out / "matches.parquet").num_rows == 3
    assert pq.read_table(out / "exceptions.parquet").num_rows == 4


def test_rerun_produces_identical_files(files: tuple[Path, Path], tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert reconcile(*canonical(*files, first, "--quiet")) == 0
    assert reconcile(*canonical(*files, second, "--quiet")) == 0
    for name in ("matches.csv", "exceptions.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda pg, bank: pg.unlink(), "file not found"),
        (lambda pg, bank: pg.write_text(""), "file is empty"),
        (lambda pg, bank: pg.write_bytes(b"\x00\x9f garbage \x00"), "binary data"),
        (
            lambda pg, bank: bank.write_text(BANK.replace("85000", "850.00")),
            "line 2, column 'amount_minor'",
        ),
        (lambda pg, bank: bank.write_text("record_id,amount\nb1,1\n"), "missing required column"),
    ],
)
def test_bad_input_exits_2_with_one_paragraph_and_writes_nothing(
    files: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mutate: object,
    fragment: str,
) -> None:
    pg, bank = files
    mutate(pg, bank)  # type: ignore[operator]
    out = tmp_path / "out"
    assert reconcile(*canonical(pg, bank, out)) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert "Traceback" not in err
    assert not out.exists()


def test_failed_run_leaves_earlier_results_untouched(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    pg, bank = files
    out = tmp_path / "out"
    assert reconcile(*canonical(pg, bank, out, "--quiet")) == 0
    before = (out / "matches.csv").read_bytes()
    bank.write_text("record_id,amount_minor,currency,value_date\nb1,1,INR,2024-13-01\n")
    assert reconcile(*canonical(pg, bank, out, "--quiet")) == 2
    assert (out / "matches.csv").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_bad_rules_file_and_bad_format(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: x\nstages: [{name: a, type: fuzzy}]\n")
    assert reconcile(*canonical(*files, tmp_path / "o1", "--rules", str(rules))) == 2
    assert "rules.yaml" in capsys.readouterr().err
    assert reconcile(*canonical(*files, tmp_path / "o2", "--format", "xml")) == 2
    assert "csv or parquet" in capsys.readouterr().err
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_the_installed_command_prints_no_traceback(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    pg, _bank = files
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hisaab.cli.main",
            "reconcile",
            "--pg",
            str(pg),
            "--bank",
            str(tmp_path / "missing.csv"),
            "--pg-template",
            "canonical",
            "--bank-template",
            "canonical",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "missing.csv: file not found" in proc.stderr
    assert "Traceback" not in proc.stderr
