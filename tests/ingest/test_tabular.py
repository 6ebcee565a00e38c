"""Reading delimited statements with templates: golden files per bank, then every bad input.

Golden files live in tests/data/templates/<template>/: an input statement and, beside it,
`<input stem>.expected.csv` with the canonical records it must produce (every canonical column
except source_file and fingerprint; record_id is blank where the source has no id of its own).
"""

from __future__ import annotations

import csv
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from hisaab.errors import AmountError, FormatError, InputError
from hisaab.ingest.records import CANONICAL_COLUMNS, NormalizedFile
from hisaab.ingest.tabular import read_tabular
from hisaab.ingest.template import load_template

TEMPLATES_DATA = Path(__file__).parent.parent / "data" / "templates"
GOLDEN_COLUMNS = tuple(c for c in CANONICAL_COLUMNS if c not in ("source_file", "fingerprint"))


def golden_rows(table: pa.Table) -> list[dict[str, str]]:
    """The table as the strings a golden CSV holds."""
    rows = []
    for rec in table.to_pylist():
        if rec["record_id"] == rec["fingerprint"][:20]:
            rec["record_id"] = None
        rows.append({c: "" if rec[c] is None else str(rec[c]) for c in GOLDEN_COLUMNS})
    return rows


def write_golden(path: Path, table: pa.Table) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=GOLDEN_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(golden_rows(table))


def read_golden(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def golden_inputs() -> list[Path]:
    return sorted(p for p in TEMPLATES_DATA.glob("*/*") if not p.name.endswith(".expected.csv"))


def read(path: Path, template: str, source: str | None = None) -> NormalizedFile:
    return read_tabular(path, load_template(template), source=source)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


HDFC_HEADER = "Date,Narration,Chq./Ref.No.,Value Dt,Withdrawal Amt.,Deposit Amt.,Closing Balance\n"


# --------------------------------------------------------------------------- golden files
@pytest.mark.parametrize("statement", golden_inputs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden_statement_reads_to_expected_canonical_records(statement: Path) -> None:
    expected = statement.with_name(statement.name.rsplit(".", 1)[0] + ".expected.csv")
    result = read(statement, statement.parent.name)
    assert golden_rows(result.table) == read_golden(expected)
    assert result.template == statement.parent.name
    assert result.table.column("source_file").to_pylist() == [str(statement)] * result.row_count


def test_every_built_in_bank_template_has_golden_statements() -> None:
    covered = {p.parent.name for p in golden_inputs()}
    assert covered == {"hdfc", "icici", "axis", "sbi", "kotak", "mpesa-org", "pg-generic"}


# --------------------------------------------------------------------------- worked examples
def test_hdfc_settlement_credit_carries_utr_settlement_id_and_value_date() -> None:
    result = read(TEMPLATES_DATA / "hdfc" / "simulator_preamble_trailer.csv", "hdfc")
    settlement = result.table.to_pylist()[1]
    assert settlement["amount_minor"] == 11_804_375  # "1,18,043.75" in Indian grouping
    assert settlement["direction"] == "CR"
    assert settlement["currency"] == "INR"
    assert settlement["utr"] == "YESBN24015123456"
    assert settlement["settlement_id"] == "setl_Xk3f9aQ2Lm7pRt"
    assert settlement["value_date"] == date(2024, 1, 16)  # Value Dt, not the booking Date
    assert settlement["booked_at"] == "2024-01-15"
    assert settlement["source_line"] == 7  # 4 preamble lines + header + first row
    assert settlement["source"] == "bank"


def test_hdfc_trailer_lines_are_counted_in_notes_and_balances_are_stated() -> None:
    result = read(TEMPLATES_DATA / "hdfc" / "simulator_preamble_trailer.csv", "hdfc")
    assert result.row_count == 7
    assert result.notes == [
        "skipped 5 non-transaction lines (summaries, totals, balance lines) at lines 13-14, 16-18"
    ]
    assert result.opening_balance is not None and result.closing_balance is not None
    assert (result.opening_balance.amount_minor, result.opening_balance.currency) == (
        10_000_000,
        "INR",
    )
    assert result.closing_balance.amount_minor == 70_464_425
    assert result.closing_balance.as_of == date(2024, 1, 19)


def test_quoted_narration_over_two_lines_keeps_physical_line_numbers() -> None:
    result = read(TEMPLATES_DATA / "hdfc" / "bom_crlf_four_digit_years.csv", "hdfc")
    rows = result.table.to_pylist()
    assert [r["source_line"] for r in rows] == [2, 3, 5]
    assert rows[1]["narration"] == (
        "NEFT CR-ICIC0000001-GLOBEX PVT LTD- INVOICE 7781-ICICN52024020300099"
    )
    assert rows[1]["value_date"] == date(2024, 2, 3)  # blank Value Dt falls back to Date


def test_cp1252_statement_is_read_through_the_fallback_encoding_and_noted() -> None:
    result = read(TEMPLATES_DATA / "hdfc" / "cp1252_fallback.csv", "hdfc")
    assert result.table.column("narration")[0].as_py().startswith("UPI-CAFÉ MOCHA-")
    assert result.notes == ["decoded as cp1252"]


def test_mpesa_negative_withdrawn_is_a_debit_and_times_are_kenyan() -> None:
    path = TEMPLATES_DATA / "mpesa-org" / "full_columns_newest_first_totals.csv"
    result = read(path, "mpesa-org")
    sweep, payment, _ = result.table.to_pylist()
    assert (sweep["amount_minor"], sweep["direction"]) == (1_000_000, "DR")  # "-10,000.00"
    assert sweep["currency"] == "KES"
    assert payment["record_id"] == payment["utr"] == "SAF3XY9Z8W"
    assert payment["merchant_ref"] == "INV-1001"
    assert payment["booked_at"] == "2024-01-15T18:30:02+03:00"
    assert result.notes == [
        "skipped 1 non-transaction line (summaries, totals, balance lines) at lines 9"
    ]


def test_mpesa_newest_first_balances_agree_and_give_opening_and_closing() -> None:
    path = TEMPLATES_DATA / "mpesa-org" / "full_columns_newest_first_totals.csv"
    result = read(path, "mpesa-org")
    assert result.opening_balance is not None and result.closing_balance is not None
    assert result.opening_balance.amount_minor == 0
    assert result.closing_balance.amount_minor == 105_300
    assert result.closing_balance.as_of == date(2024, 1, 16)


def test_mpesa_failed_row_is_skipped_and_balances_still_agree() -> None:
    result = read(TEMPLATES_DATA / "mpesa-org" / "nine_columns_failed_row.csv", "mpesa-org")
    assert result.table.column("record_id").to_pylist() == ["SC55GH66IJ", "SC33EE11BB"]
    assert result.table.column("source_line").to_pylist() == [2, 4]
    assert result.notes == ["skipped 1 row by Transaction Status (failed 1)"]


def test_pg_export_keeps_settled_payments_and_counts_the_rest() -> None:
    result = read(TEMPLATES_DATA / "pg-generic" / "simulator_export.csv", "pg-generic")
    rows = {r["record_id"]: r for r in result.table.to_pylist()}
    assert sorted(rows) == [
        "pay_N1a2B3c4D5e6F7",
        "pay_N1a2B3c4D5e6F8",
        "pay_N1a2B3c4D5e6G1",
        "pay_N1a2B3c4D5e6G4",
        "rfnd_N1a2B3c4D5e6G2",
    ]
    card = rows["pay_N1a2B3c4D5e6F8"]
    assert (card["amount_minor"], card["fee_minor"], card["tax_minor"]) == (100_000, 2_458, 442)
    assert card["utr"] == "012345678902"  # leading zero kept: a UTR is never a number
    assert card["settlement_utr"] == "YESBN24015123456"
    assert card["narration"] == "card settled"
    assert card["source"] == "pg"
    refund = rows["rfnd_N1a2B3c4D5e6G2"]
    assert (refund["amount_minor"], refund["direction"]) == (85_000, "DR")
    assert result.notes == ["skipped 3 rows by status (created 1, failed 1, pending 1)"]


def test_pg_value_date_is_the_local_date_of_the_timestamp() -> None:
    result = read(TEMPLATES_DATA / "pg-generic" / "simulator_export.csv", "pg-generic")
    wallet = next(r for r in result.table.to_pylist() if r["record_id"] == "pay_N1a2B3c4D5e6G1")
    # 00:10 IST on the 16th is still the 15th in UTC; the business date is the local one
    assert wallet["value_date"] == date(2024, 1, 16)
    assert wallet["booked_at"] == "2024-01-16T00:10:00+05:30"


def test_pg_refund_with_positive_amount_and_type_column_is_a_debit(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "pg.csv",
        "payment_id,order_id,type,status,amount,currency,created_at\n"
        "rfnd_1,order_9,refund,settled,250.00,INR,2024-01-20T12:00:00+05:30\n",
    )
    (refund,) = read(path, "pg-generic").table.to_pylist()
    assert (refund["amount_minor"], refund["direction"]) == (25_000, "DR")
    assert refund["fee_minor"] is None and refund["tax_minor"] is None


def test_source_argument_overrides_the_template_default() -> None:
    result = read(TEMPLATES_DATA / "icici" / "simulator.csv", "icici", source="bank-icici")
    assert set(result.table.column("source").to_pylist()) == {"bank-icici"}


def test_kotak_overdrawn_balance_uses_the_second_dr_cr_column() -> None:
    result = read(TEMPLATES_DATA / "kotak" / "simulator_statement_summary.csv", "kotak")
    assert result.closing_balance is not None
    assert result.closing_balance.amount_minor == -5_404_950  # "54,049.50" with Dr
    assert result.notes == [
        "skipped 3 non-transaction lines (summaries, totals, balance lines) at lines 11-13"
    ]


# --------------------------------------------------------------------------- balance check
def test_a_dropped_row_shows_up_as_a_running_balance_note(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "hdfc.csv",
        HDFC_HEADER + "15/01/24,UPI-A-a@ybl-YESB0000001-412345678901-X,,15/01/24,,100.00,1100.00\n"
        # a 50.00 debit that took the balance to 1050.00 is missing here
        "16/01/24,UPI-B-b@ybl-YESB0000001-412345678902-Y,,16/01/24,,200.00,1250.00\n",
    )
    result = read(path, "hdfc")
    assert result.row_count == 2
    assert result.notes == [
        "the running balance does not agree with the amounts at 1 of 1 consecutive row pairs "
        "(first between lines 2 and 3, off by -50.00 INR); rows may be missing, duplicated "
        "or altered"
    ]


# --------------------------------------------------------------------------- bad input
def test_non_numeric_amount_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "hdfc.csv", HDFC_HEADER + "15/01/24,UPI-A,,15/01/24,,abc,1000.00\n")
    with pytest.raises(AmountError) as caught:
        read(path, "hdfc")
    assert (caught.value.file, caught.value.line, caught.value.column) == (
        str(path),
        2,
        "Deposit Amt.",
    )
    assert "'abc' is not a number" in caught.value.describe()


def test_three_decimals_in_inr_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "hdfc.csv", HDFC_HEADER + "15/01/24,UPI-A,,15/01/24,10.005,,990\n")
    with pytest.raises(AmountError) as caught:
        read(path, "hdfc")
    assert (caught.value.line, caught.value.column) == (2, "Withdrawal Amt.")
    assert "INR allows 2" in caught.value.describe()


def test_impossible_date_is_an_error_not_a_skipped_line(tmp_path: Path) -> None:
    path = write(tmp_path, "hdfc.csv", HDFC_HEADER + "30/02/24,UPI-A,,30/02/24,,100.00,100\n")
    with pytest.raises(FormatError) as caught:
        read(path, "hdfc")
    assert (caught.value.line, caught.value.column) == (2, "Value Dt")
    assert "'30/02/24' is not a valid date" in caught.value.describe()
    assert "d/m/y" in caught.value.describe()


def test_month_first_date_on_a_transaction_row_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "hdfc.csv", HDFC_HEADER + "Jan 15 2024,UPI-A,,,,100.00,100\n")
    with pytest.raises(FormatError, match="'Jan 15 2024' is not a valid date"):
        read(path, "hdfc")


def test_row_with_amount_and_narration_but_no_date_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "hdfc.csv", HDFC_HEADER + ",UPI-ACME-acme@ybl-Order 7,,,,500.00,\n")
    with pytest.raises(FormatError) as caught:
        read(path, "hdfc")
    assert caught.value.line == 2
    assert "no date" in caught.value.message


def test_both_debit_and_credit_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "hdfc.csv", HDFC_HEADER + "15/01/24,UPI-A,,15/01/24,10.00,20.00,\n")
    with pytest.raises(AmountError, match=r"both a debit \(10.00\) and a credit \(20.00\)"):
        read(path, "hdfc")


def test_neither_debit_nor_credit_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "hdfc.csv", HDFC_HEADER + "15/01/24,UPI-A,,15/01/24,0.00,,100\n")
    with pytest.raises(AmountError, match="neither a debit nor a credit") as caught:
        read(path, "hdfc")
    assert caught.value.line == 2


def test_header_missing_columns_names_them(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "hdfc.csv",
        "HDFC BANK\nDate,Narration,Chq./Ref.No.,Value Dt,Withdrawal Amt.,Closing Balance\n",
    )
    with pytest.raises(FormatError) as caught:
        read(path, "hdfc")
    assert caught.value.line == 2
    assert "missing required columns for template 'hdfc': 'Deposit Amt.' or 'Deposit Amount'" in (
        caught.value.message
    )


def test_file_without_any_header_says_which_columns_it_needs(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.csv", "just some text\nand more\n")
    with pytest.raises(FormatError, match="no header row for template 'axis'") as caught:
        read(path, "axis")
    assert "Tran Date, CHQNO, PARTICULARS, DR, CR" in caught.value.describe()


def test_field_over_one_mebibyte_is_a_clear_error(tmp_path: Path) -> None:
    huge = '"' + "X" * ((1 << 20) + 10) + '"'
    path = write(tmp_path, "hdfc.csv", HDFC_HEADER + f"15/01/24,{huge},,15/01/24,,1.00,1\n")
    with pytest.raises(FormatError) as caught:
        read(path, "hdfc")
    assert caught.value.line == 2
    assert "longer than 1,048,576 characters (1 MiB)" in caught.value.message


def test_narration_with_an_unquoted_comma_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "hdfc.csv", HDFC_HEADER + "15/01/24,UPI-A, note,,15/01/24,,1.00,1.00\n")
    with pytest.raises(FormatError, match="8 fields but the header has 7"):
        read(path, "hdfc")


def test_binary_bytes_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "statement.csv"
    path.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)))
    with pytest.raises(FormatError, match="binary file"):
        read(path, "hdfc")


def test_undecodable_text_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "statement.csv"
    path.write_bytes(HDFC_HEADER.encode() + b"15/01/24,UPI-\x81\x8d,,15/01/24,,1.00,1\n")
    with pytest.raises(FormatError, match="cannot be decoded as utf-8 or cp1252") as caught:
        read(path, "hdfc")
    assert caught.value.line == 2


@pytest.mark.parametrize("content", [b"", b"\n\r\n  \n"], ids=["empty", "blank-lines"])
def test_empty_file_is_an_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "statement.csv"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=r"empty|only blank lines"):
        read(path, "hdfc")


def test_failed_payment_without_timestamp_or_amount_is_still_just_skipped(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "pg.csv",
        "payment_id,order_id,method,status,amount,currency,created_at\n"
        "pay_1,o_1,upi,failed,,INR,\n"
        "pay_2,o_2,upi,captured,10.00,INR,2024-01-15T10:00:00+05:30\n",
    )
    result = read(path, "pg-generic")
    assert result.table.column("record_id").to_pylist() == ["pay_2"]
    assert result.notes == ["skipped 1 row by status (failed 1)"]


def test_unknown_status_in_an_export_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "pg.csv",
        "payment_id,order_id,status,amount,currency,created_at\n"
        "pay_1,o_1,disputed,10.00,INR,2024-01-15T10:00:00+05:30\n",
    )
    with pytest.raises(FormatError, match="status 'disputed' is neither kept nor skipped") as err:
        read(path, "pg-generic")
    assert (err.value.line, err.value.column) == (2, "status")


def test_unknown_currency_in_an_export_is_located(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "pg.csv",
        "payment_id,order_id,status,amount,currency,created_at\n"
        "pay_1,o_1,captured,10.00,XYZ,2024-01-15T10:00:00+05:30\n",
    )
    with pytest.raises(InputError) as caught:
        read(path, "pg-generic")
    assert (caught.value.line, caught.value.column) == (2, "currency")


def test_kotak_marker_that_is_neither_dr_nor_cr_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kotak.csv",
        "Sl. No.,Transaction Date,Value Date,Description,Chq / Ref No.,Amount,Dr / Cr\n"
        "1,15-01-2024,15-01-2024,UPI/A/412345611111/X,,850.00,XX\n",
    )
    with pytest.raises(FormatError, match="marker 'XX' is neither debit nor credit") as caught:
        read(path, "kotak")
    assert caught.value.column == "Dr / Cr"


def test_dated_balance_line_without_amounts_is_skipped_not_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "hdfc.csv",
        HDFC_HEADER + "01/01/24,OPENING BALANCE,,01/01/24,,,1000.00\n"
        "02/01/24,UPI-A-a@ybl-YESB0000001-412345678901-X,,02/01/24,,5.00,1005.00\n",
    )
    result = read(path, "hdfc")
    assert result.table.column("source_line").to_pylist() == [3]
    assert result.notes == [
        "skipped 1 non-transaction line (summaries, totals, balance lines) at lines 2"
    ]


def test_repeated_header_after_a_page_break_is_skipped(tmp_path: Path) -> None:
    row = "15/01/24,UPI-A-a@ybl-YESB0000001-412345678901-X,,15/01/24,,5.00,\n"
    path = write(tmp_path, "hdfc.csv", HDFC_HEADER + row + HDFC_HEADER + row)
    result = read(path, "hdfc")
    assert result.table.column("source_line").to_pylist() == [2, 4]
    assert result.notes == ["skipped repeated header rows at lines 3"]


def test_statement_with_no_transactions_is_empty_and_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "hdfc.csv", "HDFC BANK Ltd.\n\n" + HDFC_HEADER + "********\n")
    result = read(path, "hdfc")
    assert result.row_count == 0
    assert result.opening_balance is None and result.closing_balance is None
    assert result.notes == [
        "skipped 1 non-transaction line (summaries, totals, balance lines) at lines 4",
        "no transactions found after the header",
    ]


def test_bom_and_crlf_are_read(tmp_path: Path) -> None:
    path = tmp_path / "icici.csv"
    path.write_bytes(
        b"\xef\xbb\xbfS No.,Value Date,Transaction Date,Cheque Number,Transaction Remarks,"
        b"Withdrawal Amount (INR ),Deposit Amount (INR ),Balance (INR )\r\n"
        b'1,15/01/2024,15/01/2024,,UPI/412345600001/X,0.00,"1,499.00","1,499.00"\r\n'
    )
    (row,) = read(path, "icici").table.to_pylist()
    assert (row["amount_minor"], row["utr"], row["source_line"]) == (149_900, "412345600001", 2)


def test_utf16_tab_separated_export_is_read(tmp_path: Path) -> None:
    text = (
        "Txn Date\tValue Date\tDescription\tRef No./Cheque No.\tDebit\tCredit\tBalance\r\n"
        "01-Apr-24\t01-Apr-24\tBY TRANSFER-UPI/CR/409300099988/RAVI/SBIN/r@oksbi/UPI--\t\t\t"
        "250.00\t1,250.00\r\n"
    )
    path = tmp_path / "sbi.xls"
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    (row,) = read(path, "sbi").table.to_pylist()
    assert (row["amount_minor"], row["direction"], row["utr"]) == (25_000, "CR", "409300099988")
    assert row["value_date"] == date(2024, 4, 1)


# --------------------------------------------------------------------------- performance
def test_hundred_thousand_row_hdfc_statement_reads_in_seconds(tmp_path: Path) -> None:
    lines = ["HDFC BANK Ltd.\n", "\n", HDFC_HEADER]
    balance = 0
    for i in range(100_000):
        paise = 10_000 + i % 9_000
        balance += paise
        day = 1 + i % 28
        rrn = f"4{i:011d}"
        rupees = f"{balance // 100:,}.{balance % 100:02d}"
        lines.append(
            f"{day:02d}/01/24,UPI-CUSTOMER {i}-c{i}@ybl-YESB0000001-{rrn}-Order {i},"
            f'0000{rrn},{day:02d}/01/24,,{paise // 100}.{paise % 100:02d},"{rupees}"\n'
        )
    path = tmp_path / "big.csv"
    path.write_text("".join(lines), encoding="utf-8")
    started = time.perf_counter()
    result = read(path, "hdfc")
    elapsed = time.perf_counter() - started
    assert result.row_count == 100_000
    assert result.table.column("utr")[99_999].as_py() == "400000099999"
    assert result.notes == []
    assert elapsed < 15, f"100k rows took {elapsed:.1f}s"
