"""BAI2 balance reports read into canonical records: golden files, balances, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from format_golden import DATA, assert_matches_golden, golden_files

from hisaab.errors import FormatError
from hisaab.ingest.formats import STANDARD_FORMATS, bai2, sniff_standard
from hisaab.ingest.records import NormalizedFile

GOLDEN = DATA / "bai2"
GOLDEN_FILES = golden_files("bai2", "*.bai")


# Opening ledger 1,000.00 USD, one incoming wire of 500.00, closing ledger 1,500.00. The 49
# account total is 100000 + 150000 + 50000; 3, 5 and 7 are the record counts.
WIRE_500 = [
    "01,BANK,ACME,240201,0200,F1,,,2/",
    "02,ACME,BANK,1,240131,,USD,2/",
    "03,111,USD,010,100000,,,015,150000,,/",
    "16,195,50000,0,WIRE1,,INCOMING WIRE/",
    "49,300000,3/",
    "98,300000,1,5/",
    "99,300000,1,7/",
]


def write(tmp_path: Path, lines: list[str], name: str = "report.bai") -> Path:
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode("ascii"))
    return path


def replaced(lines: list[str], index: int, line: str) -> list[str]:
    return [line if number == index else text for number, text in enumerate(lines)]


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_golden_report_reads_field_by_field(path: Path) -> None:
    assert_matches_golden(bai2.parse(path), path, "bai2")


def test_windows_1252_text_is_read(tmp_path: Path) -> None:
    path = tmp_path / "report.bai"
    text = "\n".join(replaced(WIRE_500, 3, "16,195,50000,0,WIRE1,,PAGO CAFÉ MÜLLER/")) + "\n"
    path.write_bytes(text.encode("cp1252"))
    result = bai2.parse(path)
    assert result.table.to_pylist()[0]["narration"] == "PAGO CAFÉ MÜLLER"
    assert any("read as Windows-1252" in note for note in result.notes)


def test_amounts_are_taken_as_minor_units(tmp_path: Path) -> None:
    row = bai2.parse(write(tmp_path, WIRE_500)).table.to_pylist()[0]
    assert (row["amount_minor"], row["currency"], row["direction"]) == (50000, "USD", "CR")


def test_bank_specific_debit_code_reads_as_a_debit(tmp_path: Path) -> None:
    lines = replaced(WIRE_500, 2, "03,111,USD,010,100000,,,015,50000,,/")
    lines = replaced(lines, 3, "16,965,50000,0,FEE1,,CUSTOM SWEEP/")
    lines = replaced(lines, 4, "49,200000,3/")
    lines = replaced(lines, 5, "98,200000,1,5/")
    lines = replaced(lines, 6, "99,200000,1,7/")
    row = bai2.parse(write(tmp_path, lines)).table.to_pylist()[0]
    assert (row["amount_minor"], row["direction"]) == (50000, "DR")


def test_balances_that_do_not_add_up_are_a_finding_not_a_refusal(tmp_path: Path) -> None:
    # Control totals agree (they only add amounts up); the ledger balances do not.
    lines = replaced(WIRE_500, 2, "03,111,USD,010,100000,,,015,160000,,/")
    lines = replaced(lines, 4, "49,310000,3/")
    lines = replaced(lines, 5, "98,310000,1,5/")
    lines = replaced(lines, 6, "99,310000,1,7/")
    path = write(tmp_path, lines)
    read = bai2.parse(path)
    assert read.row_count == 1  # every entry is read
    [finding] = read.findings
    assert finding.category == "BALANCE_MISMATCH"
    assert finding.statement == "account 111"
    assert (finding.line, finding.difference_minor, finding.currency) == (3, 10000, "USD")
    assert "difference 100.00 USD" in finding.message


def test_strict_refuses_balances_that_do_not_add_up_with_both_figures(tmp_path: Path) -> None:
    # Control totals agree (they only add amounts up); the ledger balances do not.
    lines = replaced(WIRE_500, 2, "03,111,USD,010,100000,,,015,160000,,/")
    lines = replaced(lines, 4, "49,310000,3/")
    lines = replaced(lines, 5, "98,310000,1,5/")
    lines = replaced(lines, 6, "99,310000,1,7/")
    path = write(tmp_path, lines)
    with pytest.raises(FormatError) as caught:
        bai2.parse(path, strict=True)
    error = caught.value
    assert error.file == str(path)
    assert error.line == 3
    assert "account 111" in error.message
    assert "= 1,500.00 USD" in error.message
    assert "closing balance is 1,600.00 USD" in error.message
    assert "difference 100.00 USD" in error.message


def test_account_trailer_whose_total_disagrees_is_a_finding_naming_it(tmp_path: Path) -> None:
    # The bank's 49 says 3,000.01 but the opening, closing and the wire add up to 3,000.00.
    read = bai2.parse(write(tmp_path, replaced(WIRE_500, 4, "49,300001,3/")))
    assert read.row_count == 1
    [finding] = read.findings
    assert finding.category == "CONTROL_TOTAL_MISMATCH"
    assert (finding.line, finding.statement) == (5, "account 111")
    assert (finding.difference_minor, finding.currency) == (1, "USD")
    assert "49 account trailer" in finding.message
    assert "total of 300001, but its records add up to 300000" in finding.message


def test_strict_refuses_an_account_trailer_that_disagrees(tmp_path: Path) -> None:
    path = write(tmp_path, replaced(WIRE_500, 4, "49,300001,3/"))
    with pytest.raises(FormatError, match="49 account trailer of account 111") as caught:
        bai2.parse(path, strict=True)
    assert caught.value.line == 5


def test_group_trailer_that_disagrees_is_one_finding_naming_the_98(tmp_path: Path) -> None:
    read = bai2.parse(write(tmp_path, replaced(WIRE_500, 5, "98,300000,2,5/")))
    [finding] = read.findings
    assert finding.category == "CONTROL_TOTAL_MISMATCH"
    assert finding.line == 6
    assert "98 group trailer" in finding.message
    assert "2 accounts, but there are 1" in finding.message


def test_file_trailer_whose_record_count_disagrees_is_a_finding(tmp_path: Path) -> None:
    read = bai2.parse(write(tmp_path, replaced(WIRE_500, 6, "99,300000,1,8/")))
    [finding] = read.findings
    assert (finding.category, finding.statement, finding.line) == (
        "CONTROL_TOTAL_MISMATCH",
        "file",
        7,
    )
    assert "8 records, but there are 7" in finding.message


def test_a_changed_detail_amount_shows_in_every_trailer_above_it(tmp_path: Path) -> None:
    # The wire was 500.00 when the trailers were written; the detail now says 500.10.
    read = bai2.parse(write(tmp_path, replaced(WIRE_500, 3, "16,195,50010,0,WIRE1,,WIRE/")))
    assert [f.line for f in read.findings if f.category == "CONTROL_TOTAL_MISMATCH"] == [5, 6, 7]
    assert all(f.difference_minor == -10 for f in read.findings if f.line in (5, 6, 7))


def test_thirtieth_of_february_as_of_date_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, replaced(WIRE_500, 1, "02,ACME,BANK,1,240230,,USD,2/"))
    with pytest.raises(FormatError) as caught:
        bai2.parse(path)
    assert caught.value.line == 2
    assert "'240230'" in caught.value.message


def test_report_that_states_no_currency_takes_the_specification_default_and_says_so(
    tmp_path: Path,
) -> None:
    lines = replaced(WIRE_500, 1, "02,ACME,BANK,1,240131,,,2/")
    lines = replaced(lines, 2, "03,111,,010,100000,,,015,150000,,/")
    parsed = bai2.parse(write(tmp_path, lines))
    assert parsed.table.column("currency").to_pylist() == ["USD"]
    assert any("line 3" in note and "BAI2 default USD" in note for note in parsed.notes)


def test_unknown_type_code_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, replaced(WIRE_500, 3, "16,850,50000,0,WIRE1,,INCOMING WIRE/"))
    with pytest.raises(FormatError, match="unknown BAI2 type code '850'") as caught:
        bai2.parse(path)
    assert caught.value.line == 4


def test_balance_code_on_a_transaction_detail_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, replaced(WIRE_500, 3, "16,015,50000,0,WIRE1,,INCOMING WIRE/"))
    with pytest.raises(FormatError, match="is not a credit or a debit") as caught:
        bai2.parse(path)
    assert caught.value.line == 4


def test_missing_account_trailer_is_a_finding_at_the_record_found_instead(
    tmp_path: Path,
) -> None:
    read = bai2.parse(write(tmp_path, [line for line in WIRE_500 if not line.startswith("49,")]))
    assert read.row_count == 1
    controls = [f for f in read.findings if "has no 49 account trailer" in f.message]
    assert [(f.line, f.statement) for f in controls] == [(5, "account 111")]


def test_truncated_report_is_read_with_a_finding_naming_the_missing_trailers(
    tmp_path: Path,
) -> None:
    read = bai2.parse(write(tmp_path, WIRE_500[:5]))  # stops after the 49
    assert read.row_count == 1
    [finding] = read.findings
    assert finding.category == "CONTROL_TOTAL_MISMATCH"
    assert finding.line == 5
    assert "stops before its 98 group trailer and its 99 file trailer" in finding.message


def test_report_truncated_inside_an_account_keeps_the_details_it_has(tmp_path: Path) -> None:
    lines = [*WIRE_500[:4], "16,475,12500,0,CHK7,,CHECK PAID 7/"]
    read = bai2.parse(write(tmp_path, lines))
    assert read.table.column("amount_minor").to_pylist() == [50000, 12500]
    [control] = [f for f in read.findings if f.category == "CONTROL_TOTAL_MISMATCH"]
    assert "the 49 account trailer of account 111" in control.message


def test_strict_refuses_a_truncated_report(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="stops before") as caught:
        bai2.parse(write(tmp_path, WIRE_500[:5]), strict=True)
    assert caught.value.line == 5


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, [""])
    with pytest.raises(FormatError, match="the file is empty"):
        bai2.parse(path)


def test_garbage_bytes_are_refused_at_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "garbage.bai"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(FormatError, match="is not a BAI2 record") as caught:
        bai2.parse(path)
    assert caught.value.line == 1


def test_sniff_recognises_bai2_and_not_mt940() -> None:
    assert bai2.sniff("\n".join(WIRE_500).encode("ascii"))
    assert not bai2.sniff(b":20:STMT1\n:25:ACC\n")


def test_bai2_is_registered_as_a_standard_format() -> None:
    assert STANDARD_FORMATS["bai2"].parse is bai2.parse
    assert STANDARD_FORMATS["bai2"].sniff is bai2.sniff


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_only_the_bai2_sniffer_claims_the_golden_file(path: Path) -> None:
    assert sniff_standard(path) == ["bai2"]


# Opening 1,000.00 on the 03 record, the closing ledger continued on an 88; three details.
REPORT = [
    "01,BANK,ACME,240201,0200,F1,,,2/",
    "02,ACME,BANK,1,240131,,USD,2/",
    "03,111,USD,010,100000,,,040,100000,,/",
    "88,015,137500,,/",
    "16,195,50000,0,WIRE1,,INCOMING WIRE/",
    "16,475,12500,0,CHK7,,CHECK PAID 7/",
    "49,400000,5/",
    "98,400000,1,7/",
    "99,400000,1,9/",
]


def test_summaries_continued_on_an_88_give_the_closing_balance(tmp_path: Path) -> None:
    read = bai2.parse(write(tmp_path, REPORT))
    assert read.opening_balance is not None and read.closing_balance is not None
    assert (read.opening_balance.amount_minor, read.closing_balance.amount_minor) == (
        100000,
        137500,
    )
    assert read.findings == []


def test_detail_text_continued_over_several_88s_is_one_narration(tmp_path: Path) -> None:
    lines = [
        *REPORT[:4],
        "16,195,50000,0,WIRE1,,INCOMING WIRE/",
        "88,FROM GLOBEX LTD",
        "88,REF 88213",
    ]
    lines += [*REPORT[5:6], "49,400000,7/", "98,400000,1,9/", "99,400000,1,11/"]
    row = bai2.parse(write(tmp_path, lines)).table.to_pylist()[0]
    assert row["narration"] == "INCOMING WIRE FROM GLOBEX LTD REF 88213"


def test_text_that_starts_on_the_88_after_a_16_ending_in_slash(tmp_path: Path) -> None:
    lines = [*REPORT[:4], "16,195,50000,0,WIRE1,,/", "88,NEFT CR-YESB0000001-ACME"]
    lines += [*REPORT[5:6], "49,400000,6/", "98,400000,1,8/", "99,400000,1,10/"]
    row = bai2.parse(write(tmp_path, lines)).table.to_pylist()[0]
    assert (row["narration"], row["record_id"]) == ("NEFT CR-YESB0000001-ACME", "WIRE1")


def test_blank_detail_amount_is_zero_with_a_note(tmp_path: Path) -> None:
    lines = replaced(REPORT, 4, "16,195,,0,WIRE1,,INCOMING WIRE/")
    lines = replaced(lines, 3, "88,015,87500,,/")
    lines = replaced(lines, 6, "49,300000,5/")
    lines = replaced(lines, 7, "98,300000,1,7/")
    lines = replaced(lines, 8, "99,300000,1,9/")
    read = bai2.parse(write(tmp_path, lines))
    assert read.table.column("amount_minor").to_pylist() == [0, 12500]
    assert any("line 5" in note and "no amount was read as 0" in note for note in read.notes)
    assert read.findings == []


def test_blank_summary_amount_is_not_stated(tmp_path: Path) -> None:
    lines = replaced(REPORT, 2, "03,111,USD,010,,,,040,100000,,/")
    lines = replaced(lines, 6, "49,300000,5/")
    lines = replaced(lines, 7, "98,300000,1,7/")
    lines = replaced(lines, 8, "99,300000,1,9/")
    read = bai2.parse(write(tmp_path, lines))
    assert read.opening_balance is None
    assert any("were not checked" in note for note in read.notes)
    assert read.findings == []


def test_record_wrapped_at_80_columns_without_an_88_is_joined(tmp_path: Path) -> None:
    lines = [*REPORT[:4], "16,195,50000,0,WIRE1,,INCOMING WIRE FROM GLOB", "EX LTD/", *REPORT[5:]]
    read = bai2.parse(write(tmp_path, lines))
    assert read.table.to_pylist()[0]["narration"] == "INCOMING WIRE FROM GLOBEX LTD"
    assert read.findings == []
    assert any("wrapped" in note for note in read.notes)


def test_several_records_on_one_line_are_read_apart(tmp_path: Path) -> None:
    joined = "16,195,50000,0,WIRE1,,INCOMING WIRE/ 16,475,12500,0,CHK7,,CHECK PAID 7/"
    lines = [*REPORT[:4], joined, *REPORT[6:]]
    read = bai2.parse(write(tmp_path, lines))
    assert read.table.column("source_line").to_pylist() == [5, 5]
    assert read.findings == []


def test_records_without_a_trailing_slash_and_with_spaces_around_fields(
    tmp_path: Path,
) -> None:
    lines = [line.removesuffix("/") for line in REPORT]
    lines[4] = "16, 195 , 50000 ,0, WIRE1 ,,INCOMING WIRE"
    read = bai2.parse(write(tmp_path, lines))
    row = read.table.to_pylist()[0]
    assert (row["amount_minor"], row["record_id"], row["narration"]) == (
        50000,
        "WIRE1",
        "INCOMING WIRE",
    )
    assert read.findings == []


def directions(read: NormalizedFile) -> list[str]:
    return list(read.table.column("direction").to_pylist())


def test_bank_specific_credit_code_reads_as_a_credit(tmp_path: Path) -> None:
    read = bai2.parse(write(tmp_path, replaced(REPORT, 4, "16,935,50000,0,LBX1,,LOCKBOX/")))
    assert directions(read) == ["CR", "DR"]


def test_code_missing_from_the_table_reads_by_its_range_with_a_note(tmp_path: Path) -> None:
    read = bai2.parse(write(tmp_path, replaced(REPORT, 4, "16,299,50000,0,X1,,OTHER CREDIT/")))
    assert directions(read) == ["CR", "DR"]
    assert any("type code 299 is not in the BAI2 code table" in note for note in read.notes)


def test_non_monetary_detail_is_not_an_entry(tmp_path: Path) -> None:
    lines = [*REPORT[:6], "16,890,,,,,ACCOUNT RENAMED/", "49,400000,6/", "98,400000,1,8/"]
    read = bai2.parse(write(tmp_path, [*lines, "99,400000,1,10/"]))
    assert read.row_count == 2
    assert any("non-monetary" in note for note in read.notes)


def test_value_dated_funds_give_the_value_date(tmp_path: Path) -> None:
    read = bai2.parse(write(tmp_path, replaced(REPORT, 4, "16,195,50000,V,240202,1200,W1,,WIRE/")))
    row = read.table.to_pylist()[0]
    assert (row["value_date"].isoformat(), row["booked_at"], row["record_id"]) == (
        "2024-02-02",
        "2024-01-31",
        "W1",
    )


def test_distributed_funds_fields_are_skipped_before_the_references(tmp_path: Path) -> None:
    lines = replaced(REPORT, 4, "16,195,50000,S,10000,20000,20000,W1,C1,LOCKBOX 7/")
    lines = replaced(lines, 5, "16,475,12500,D,2,0,10000,1,2500,CHK7,,CHECK PAID 7/")
    rows = bai2.parse(write(tmp_path, lines)).table.to_pylist()
    assert [(r["record_id"], r["narration"]) for r in rows] == [
        ("W1", "LOCKBOX 7"),
        ("CHK7", "CHECK PAID 7"),
    ]


def test_currency_of_the_account_wins_over_the_group(tmp_path: Path) -> None:
    lines = replaced(REPORT, 1, "02,ACME,BANK,1,240131,,CAD,2/")
    lines = replaced(lines, 2, "03,111,EUR,010,100000,,,040,100000,,/")
    read = bai2.parse(write(tmp_path, lines))
    assert set(read.table.column("currency").to_pylist()) == {"EUR"}


def test_currency_of_the_group_applies_when_the_account_states_none(tmp_path: Path) -> None:
    lines = replaced(REPORT, 1, "02,ACME,BANK,1,240131,,CAD,2/")
    lines = replaced(lines, 2, "03,111,,010,100000,,,040,100000,,/")
    read = bai2.parse(write(tmp_path, lines))
    assert set(read.table.column("currency").to_pylist()) == {"CAD"}
    assert read.closing_balance is not None and read.closing_balance.currency == "CAD"


def test_amounts_imply_the_currencys_own_decimals(tmp_path: Path) -> None:
    # A yen account: 500 is 500 yen, not 5.00 (BAI2 amounts are in the currency's minor unit).
    lines = replaced(REPORT, 2, "03,111,JPY,010,100000,,,040,100000,,/")
    lines = replaced(lines, 3, "88,015,88000,,/")
    lines = replaced(lines, 4, "16,195,500,0,W1,,WIRE/")
    lines = replaced(lines, 6, "49,301000,5/")
    lines = replaced(lines, 7, "98,301000,1,7/")
    lines = replaced(lines, 8, "99,301000,1,9/")
    read = bai2.parse(write(tmp_path, lines))
    [wire, check] = read.table.to_pylist()
    assert (wire["amount_minor"], wire["currency"]) == (500, "JPY")
    assert (check["amount_minor"], check["currency"]) == (12500, "JPY")
    assert read.findings == []


def test_report_sent_as_one_stream_of_80_character_records(tmp_path: Path) -> None:
    header = "01,BANK,ACME,240201,0200,F1,80,,2/"
    stream = "".join(line.ljust(80) for line in [header, *REPORT[1:]])
    path = tmp_path / "stream.bai"
    path.write_bytes(stream.encode("ascii"))
    read = bai2.parse(path)
    assert read.table.column("amount_minor").to_pylist() == [50000, 12500]
    assert read.findings == []
    assert any("cut every 80 characters" in note for note in read.notes)


def test_end_of_file_mark_and_text_after_the_file_trailer_are_ignored(tmp_path: Path) -> None:
    read = bai2.parse(write(tmp_path, [*REPORT, "END OF REPORT", "\x1a"]))
    assert read.row_count == 2
    assert read.findings == []
    assert any("after the 99 file trailer was ignored" in note for note in read.notes)


def test_as_of_date_written_with_a_four_digit_year(tmp_path: Path) -> None:
    read = bai2.parse(write(tmp_path, replaced(REPORT, 1, "02,ACME,BANK,1,20240131,,USD,2/")))
    assert {str(day) for day in read.table.column("value_date").to_pylist()} == {"2024-01-31"}


def test_impossible_creation_date_is_only_noted(tmp_path: Path) -> None:
    read = bai2.parse(write(tmp_path, replaced(REPORT, 0, "01,BANK,ACME,240230,0200,F1,,,2/")))
    assert read.row_count == 2
    assert any("impossible creation date '240230'" in note for note in read.notes)


def test_empty_field_typed_before_the_type_code_is_skipped(tmp_path: Path) -> None:
    read = bai2.parse(write(tmp_path, replaced(REPORT, 4, "16,,195,50000,0,WIRE1,,WIRE/")))
    row = read.table.to_pylist()[0]
    assert (row["amount_minor"], row["direction"], row["record_id"]) == (50000, "CR", "WIRE1")
    assert any("empty field before the type code" in note for note in read.notes)


# A cheque paid (475) of 500.00 out of the 1,000.00 USD opening ledger; the 49 total adds the
# summaries and the detail as written.
CHEQUE_PAID = [
    "01,BANK,ACME,240201,0200,F1,,,2/",
    "02,ACME,BANK,1,240131,,USD,2/",
    "03,111,USD,010,100000,,,015,50000,,/",
    "16,475,-50000,0,CHQ1001,,CHEQUE 1001/",
    "49,100000,3/",
    "98,100000,1,5/",
    "99,100000,1,7/",
]


def test_signed_detail_amount_is_read_by_its_type_code_with_a_note(tmp_path: Path) -> None:
    result = bai2.parse(write(tmp_path, CHEQUE_PAID))
    [row] = result.table.to_pylist()
    assert (row["amount_minor"], row["direction"]) == (50000, "DR")
    assert any("'-50000' carries a sign" in note for note in result.notes)


def test_signed_detail_amount_adds_up_as_written_in_the_trailers(tmp_path: Path) -> None:
    # 100000 + 50000 - 50000: the bank's own 49, 98 and 99 totals agree with the signed amount.
    result = bai2.parse(write(tmp_path, CHEQUE_PAID))
    assert result.findings == []


def test_signed_credit_amount_is_still_a_credit(tmp_path: Path) -> None:
    # An incoming wire (195) written "+50000": the plus sign changes nothing.
    [row] = bai2.parse(
        write(tmp_path, replaced(WIRE_500, 3, "16,195,+50000,0,WIRE1,,INCOMING WIRE/"))
    ).table.to_pylist()
    assert (row["amount_minor"], row["direction"]) == (50000, "CR")
