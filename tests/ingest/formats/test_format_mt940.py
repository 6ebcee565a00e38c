"""MT940 statements read into canonical records: golden files, balances, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from format_golden import DATA, assert_matches_golden, golden_files

from hisaab.errors import FormatError
from hisaab.ingest.formats import STANDARD_FORMATS, mt940, sniff_standard
from hisaab.ingest.records import NormalizedFile

GOLDEN = DATA / "mt940"
GOLDEN_FILES = golden_files("mt940", "*.sta")


def write(tmp_path: Path, text: str, name: str = "statement.sta") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


ONE_CREDIT = (
    ":20:STMT1\n"
    ":25:50100012345678\n"
    ":28C:1/1\n"
    ":60F:C240101INR1000,00\n"
    ":61:2401150115C500,00NTRFNONREF//HDFC0001\n"
    ":86:NEFT CR-YESB0000001-ACME-YESBN24015123456\n"
    ":62F:C240131INR1500,00\n"
)


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_golden_statement_reads_field_by_field(path: Path) -> None:
    assert_matches_golden(mt940.parse(path), path, "mt940")


def test_crlf_golden_file_keeps_its_crlf_line_ends() -> None:
    # Guards the golden file itself: an editor or checkout that rewrites line ends would
    # quietly turn the CRLF case into an LF one.
    raw = (GOLDEN / "mt940_crlf_hdfc_envelope.sta").read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n") == 15


def entries(result: NormalizedFile) -> list[tuple[int, str, int, str]]:
    return [
        (row["amount_minor"], row["direction"], row["source_line"], row["narration"])
        for row in result.table.to_pylist()
    ]


@pytest.mark.parametrize("ending", [b"\n", b"\r"], ids=["lf", "cr"])
def test_other_line_ends_give_the_same_entries_as_crlf(tmp_path: Path, ending: bytes) -> None:
    golden = GOLDEN / "mt940_crlf_hdfc_envelope.sta"
    path = tmp_path / "statement.sta"
    path.write_bytes(golden.read_bytes().replace(b"\r\n", ending))
    assert entries(mt940.parse(path)) == entries(mt940.parse(golden))


def test_reversal_of_a_credit_takes_money_out(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        ":20:STMT1\n:25:ACC\n:60F:C240101INR1000,00\n"
        ":61:240105RC200,00NCHKCHQ000123\n:86:CHEQUE RETURNED UNPAID\n"
        ":62F:C240105INR800,00\n",
    )
    row = mt940.parse(path).table.to_pylist()[0]
    assert (row["amount_minor"], row["direction"]) == (20000, "DR")


def test_reversal_of_a_debit_puts_money_back(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        ":20:STMT1\n:25:ACC\n:60F:C240101INR1000,00\n"
        ":61:240105RD200,00NRTIRETURN-1\n:86:DIRECT DEBIT RETURNED\n"
        ":62F:C240105INR1200,00\n",
    )
    row = mt940.parse(path).table.to_pylist()[0]
    assert (row["amount_minor"], row["direction"]) == (20000, "CR")


def test_utf8_byte_order_mark_does_not_hide_the_first_statement(tmp_path: Path) -> None:
    path = tmp_path / "bom.sta"
    path.write_bytes(b"\xef\xbb\xbf" + ONE_CREDIT.encode("ascii"))
    result = mt940.parse(path)
    assert result.row_count == 1
    assert result.opening_balance is not None
    assert result.opening_balance.amount_minor == 100000


def test_balances_that_do_not_add_up_are_a_finding_not_a_refusal(tmp_path: Path) -> None:
    path = write(tmp_path, ONE_CREDIT.replace("C240131INR1500,00", "C240131INR1600,00"))
    read = mt940.parse(path)
    assert read.row_count == 1  # every entry is read
    [finding] = read.findings
    assert finding.category == "BALANCE_MISMATCH"
    assert finding.statement == "statement 'STMT1' (account 50100012345678)"
    assert (finding.line, finding.difference_minor, finding.currency) == (7, 10000, "INR")
    assert "difference 100.00 INR" in finding.message


def test_strict_refuses_balances_that_do_not_add_up_with_both_figures(tmp_path: Path) -> None:
    path = write(tmp_path, ONE_CREDIT.replace("C240131INR1500,00", "C240131INR1600,00"))
    with pytest.raises(FormatError) as caught:
        mt940.parse(path, strict=True)
    error = caught.value
    assert error.file == str(path)
    assert error.line == 7
    assert "statement 'STMT1' (account 50100012345678)" in error.message
    assert "= 1,500.00 INR" in error.message
    assert "closing balance is 1,600.00 INR" in error.message
    assert "difference 100.00 INR" in error.message


def test_thirtieth_of_february_value_date_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, ONE_CREDIT.replace(":61:2401150115C", ":61:2402300230C"))
    with pytest.raises(FormatError) as caught:
        mt940.parse(path)
    assert caught.value.line == 5
    assert "'240230'" in caught.value.message


def test_thirtieth_of_february_balance_date_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, ONE_CREDIT.replace(":62F:C240131", ":62F:C240230"))
    with pytest.raises(FormatError) as caught:
        mt940.parse(path)
    assert caught.value.line == 7
    assert "'240230'" in caught.value.message


def test_statement_that_states_no_currency_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, ":20:STMT1\n:25:ACC\n:61:240115C500,00NTRFNONREF\n:86:CREDIT\n")
    with pytest.raises(FormatError, match="states no currency"):
        mt940.parse(path)


def test_statement_line_without_type_code_is_refused_not_merged(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        ":20:STMT1\n:25:ACC\n:60F:C240101INR0,00\n"
        ":61:240115C500,00\n:61:240116C700,00NTRFNONREF\n:62F:C240131INR1200,00\n",
    )
    with pytest.raises(FormatError, match="no transaction type code") as caught:
        mt940.parse(path)
    assert caught.value.line == 4


def test_amount_finer_than_the_currency_allows_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, ONE_CREDIT.replace("C500,00NTRF", "C500,005NTRF"))
    with pytest.raises(FormatError, match="INR allows 2") as caught:
        mt940.parse(path)
    assert caught.value.line == 5


def test_malformed_field_is_reported_with_its_line_not_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, ONE_CREDIT.replace(":28C:1/1", ":28C:PAGE ONE"))
    with pytest.raises(FormatError, match="MT940 field cannot be read") as caught:
        mt940.parse(path)
    assert caught.value.line == 3
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "\r\n\r\n")
    with pytest.raises(FormatError, match="the file is empty"):
        mt940.parse(path)


def test_garbage_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sta"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(FormatError, match="no MT940 statement found"):
        mt940.parse(path)


def test_sniff_recognises_mt940_and_not_xml() -> None:
    assert mt940.sniff(ONE_CREDIT.encode("ascii"))
    assert not mt940.sniff(b'<?xml version="1.0"?><Document/>')


def test_mt940_is_registered_as_a_standard_format() -> None:
    assert STANDARD_FORMATS["mt940"].parse is mt940.parse
    assert STANDARD_FORMATS["mt940"].sniff is mt940.sniff


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_only_the_mt940_sniffer_claims_the_golden_file(path: Path) -> None:
    assert sniff_standard(path) == ["mt940"]
