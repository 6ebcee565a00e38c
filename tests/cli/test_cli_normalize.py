"""`hisaab normalize`: canonical CSV/Parquet out, or exit 2 with one message and no output."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hisaab.cli.main import main
from hisaab.ingest.records import CANONICAL_COLUMNS, CANONICAL_SCHEMA

TEMPLATES_DATA = Path(__file__).parent.parent / "data" / "templates"
HDFC = TEMPLATES_DATA / "hdfc" / "simulator_preamble_trailer.csv"
PG = TEMPLATES_DATA / "pg-generic" / "simulator_export.csv"


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    code = caught.value.code
    return code if isinstance(code, int) else 1


def test_hdfc_statement_to_canonical_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bank.csv"
    assert run(["normalize", str(HDFC), "--out", str(out)]) == 0
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(CANONICAL_COLUMNS)
    assert len(rows) == 7
    settlement = rows[1]
    assert settlement["amount_minor"] == "11804375"
    assert settlement["direction"] == "CR"
    assert settlement["value_date"] == "2024-01-16"
    assert settlement["utr"] == "YESBN24015123456"
    assert settlement["settlement_id"] == "setl_Xk3f9aQ2Lm7pRt"
    assert settlement["source_line"] == "7"
    summary = capsys.readouterr().out.strip()
    assert summary.startswith(f"7 records from {HDFC} (template hdfc, sha256 ")
    assert summary.endswith(
        f") -> {out}; notes: skipped 5 non-transaction lines (summaries, totals, balance "
        "lines) at lines 13-14, 16-18"
    )
    assert "\n" not in summary


def test_pg_export_to_parquet_keeps_utrs_as_strings(tmp_path: Path) -> None:
    out = tmp_path / "pg.parquet"
    assert run(["normalize", str(PG), "--template", "pg-generic", "--out", str(out)]) == 0
    table = pq.read_table(out)
    assert table.schema.equals(CANONICAL_SCHEMA)
    assert table.column("record_id").to_pylist()[:2] == ["pay_N1a2B3c4D5e6F7", "pay_N1a2B3c4D5e6F8"]
    assert table.column("utr").to_pylist()[1] == "012345678902"
    assert table.column("fee_minor").to_pylist()[:2] == [2006, 2458]


def test_source_option_labels_the_records(tmp_path: Path) -> None:
    out = tmp_path / "bank.parquet"
    assert run(["normalize", str(HDFC), "--source", "bank-hdfc", "--out", str(out)]) == 0
    assert set(pq.read_table(out).column("source").to_pylist()) == {"bank-hdfc"}


def test_other_output_extension_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bank.xlsx"
    assert run(["normalize", str(HDFC), "--out", str(out)]) == 2
    assert "must end in .csv or .parquet" in capsys.readouterr().err
    assert not out.exists()


def test_invalid_source_label_is_a_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "bank.csv"
    assert run(["normalize", str(HDFC), "--source", "Bank HDFC", "--out", str(out)]) == 2
    assert not out.exists()


def test_bad_amount_exits_2_with_one_located_message_and_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    statement = tmp_path / "hdfc.csv"
    statement.write_text(
        "Date,Narration,Chq./Ref.No.,Value Dt,Withdrawal Amt.,Deposit Amt.,Closing Balance\n"
        "15/01/24,UPI-A-a@ybl-YESB0000001-412345678901-X,,15/01/24,,850.00,850.00\n"
        "16/01/24,UPI-B-b@ybl-YESB0000001-412345678902-Y,,16/01/24,,8S0.00,1700.00\n",
        encoding="utf-8",
    )
    out = tmp_path / "bank.csv"
    assert run(["normalize", str(statement), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {statement}, line 3, column 'Deposit Amt.': '8S0.00' is not a number. "
        "Expected a number such as 1,053.00.\n"
    )
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["hdfc.csv"]  # no temporary file either


def test_failed_run_leaves_an_earlier_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "bank.csv"
    out.write_text("earlier result\n", encoding="utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert run(["normalize", str(empty), "--template", "hdfc", "--out", str(out)]) == 2
    assert out.read_text(encoding="utf-8") == "earlier result\n"


@pytest.mark.parametrize(
    ("argv_tail", "message"),
    [
        (["--template", "nosuch"], "unknown template 'nosuch'"),
        ([], "could not recognise the layout"),
    ],
    ids=["unknown-template", "undetectable"],
)
def test_template_problems_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv_tail: list[str], message: str
) -> None:
    statement = tmp_path / "notes.csv"
    statement.write_text("a,b\n1,2\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    assert run(["normalize", str(statement), "--out", str(out), *argv_tail]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err
    assert not out.exists()


def test_missing_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["normalize", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_bom_crlf_statement_through_the_installed_command(tmp_path: Path) -> None:
    statement = tmp_path / "icici.csv"
    statement.write_bytes(
        b"\xef\xbb\xbfS No.,Value Date,Transaction Date,Cheque Number,Transaction Remarks,"
        b"Withdrawal Amount (INR ),Deposit Amount (INR ),Balance (INR )\r\n"
        b'1,15/01/2024,15/01/2024,,UPI/412345600001/Order 2001,0.00,"1,499.00","1,499.00"\r\n'
    )
    out = tmp_path / "icici-out.csv"
    done = subprocess.run(
        [sys.executable, "-m", "hisaab.cli.main", "normalize", str(statement), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"1 record from {statement} (template icici, sha256 ")
    with out.open(newline="", encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert (row["amount_minor"], row["utr"], row["value_date"]) == (
        "149900",
        "412345600001",
        "2024-01-15",
    )


# The bank says it closed at 1,600.00, but its one credit of 500.00 on 1,000.00 makes 1,500.00.
SHORT_MT940 = (
    ":20:STMT1\n:25:50100012345678\n:28C:1/1\n:60F:C240101INR1000,00\n"
    ":61:2401150115C500,00NTRFNONREF//HDFC0001\n:86:NEFT CR-YESB0000001-ACME-YESBN24015123456\n"
    ":62F:C240131INR1600,00\n"
)


def test_a_statement_that_does_not_add_up_is_written_whole_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    statement = tmp_path / "short.sta"
    statement.write_text(SHORT_MT940, encoding="utf-8")
    out = tmp_path / "bank.csv"
    assert run(["normalize", str(statement), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert len(out.read_text().splitlines()[1:]) == 1
    assert captured.err.startswith(
        "warning: BALANCE_MISMATCH: short.sta line 7: statement 'STMT1' (account 50100012345678)"
    )
    assert captured.err.rstrip().endswith("(difference 100.00 INR)")


def test_strict_refuses_a_statement_that_does_not_add_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    statement = tmp_path / "short.sta"
    statement.write_text(SHORT_MT940, encoding="utf-8")
    out = tmp_path / "bank.csv"
    assert run(["normalize", str(statement), "--out", str(out), "--strict"]) == 2
    assert "difference 100.00 INR" in capsys.readouterr().err
    assert not out.exists()
