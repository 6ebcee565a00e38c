"""BAI2 balance reports read into canonical records: golden files, balances, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from format_golden import DATA, assert_matches_golden, golden_files

from hisaab.errors import FormatError
from hisaab.ingest.formats import STANDARD_FORMATS, bai2, sniff_standard

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


def test_account_control_total_that_disagrees_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, replaced(WIRE_500, 4, "49,300001,3/"))
    with pytest.raises(FormatError, match="control totals do not agree"):
        bai2.parse(path)


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


def test_missing_account_trailer_is_reported_at_the_record_found_instead(tmp_path: Path) -> None:
    path = write(tmp_path, [line for line in WIRE_500 if not line.startswith("49,")])
    with pytest.raises(FormatError, match=r"Expected 49 \(account trailer\)") as caught:
        bai2.parse(path)
    assert caught.value.line == 5


def test_truncated_report_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, WIRE_500[:5])
    with pytest.raises(FormatError, match="stops before its 99 file trailer") as caught:
        bai2.parse(path)
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
