"""CAMT.053 statements read into canonical records: golden files, balances, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from format_golden import DATA, assert_matches_golden, golden_files

from hisaab.errors import FormatError
from hisaab.ingest.formats import STANDARD_FORMATS, camt053, sniff_standard

GOLDEN = DATA / "camt053"
GOLDEN_FILES = golden_files("camt053", "*.xml")


def statement(entries: str, *, closing: str = "1500.00", namespace: str = "001.08") -> str:
    """A one-statement CAMT.053 document: 1,000.00 INR opening, the given entries."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.{namespace}">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>M1</MsgId><CreDtTm>2024-01-31T23:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>S1</Id>
      <Acct><Id><Othr><Id>50100012345678</Id></Othr></Id><Ccy>INR</Ccy></Acct>
      <Bal>
        <Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="INR">1000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
        <Dt><Dt>2024-01-01</Dt></Dt>
      </Bal>
      <Bal>
        <Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="INR">{closing}</Amt><CdtDbtInd>CRDT</CdtDbtInd>
        <Dt><Dt>2024-01-31</Dt></Dt>
      </Bal>
{entries}
    </Stmt>
  </BkToCstmrStmt>
</Document>
"""


CREDIT_500 = """      <Ntry>
        <Amt Ccy="INR">500.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2024-01-15</Dt></BookgDt>
        <ValDt><Dt>2024-01-15</Dt></ValDt>
        <AcctSvcrRef>REF1</AcctSvcrRef>
      </Ntry>"""


def write(tmp_path: Path, text: str, name: str = "statement.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_golden_statement_reads_field_by_field(path: Path) -> None:
    assert_matches_golden(camt053.parse(path), path, "camt053")


def test_pending_entry_is_left_out_and_noted() -> None:
    result = camt053.parse(GOLDEN / "camt053_v02_hdfc.xml")
    assert "PENDING IMPS CREDIT" not in [row["narration"] for row in result.table.to_pylist()]
    assert any("1 entry not booked" in note for note in result.notes)


def test_missing_opening_balance_is_noted_not_guessed() -> None:
    result = camt053.parse(GOLDEN / "camt053_v08_missing_opening_cp1252.xml")
    assert result.opening_balance is None
    assert any("not checked" in note for note in result.notes)


def test_blank_closing_balance_is_ignored_and_noted(tmp_path: Path) -> None:
    path = write(tmp_path, statement(CREDIT_500, closing=""))
    result = camt053.parse(path)
    assert result.closing_balance is None
    assert any("line 13: blank CLBD balance ignored" in note for note in result.notes)


def test_one_credit_in_version_02_and_version_13_reads_the_same(tmp_path: Path) -> None:
    old = camt053.parse(write(tmp_path, statement(CREDIT_500, namespace="001.02"), "v02.xml"))
    new = camt053.parse(write(tmp_path, statement(CREDIT_500, namespace="001.13"), "v13.xml"))
    for result in (old, new):
        row = result.table.to_pylist()[0]
        assert (row["amount_minor"], row["direction"], row["record_id"]) == (50000, "CR", "REF1")


def test_blank_lines_before_the_xml_declaration_are_tolerated(tmp_path: Path) -> None:
    path = write(tmp_path, "\n\n" + statement(CREDIT_500))
    row = camt053.parse(path).table.to_pylist()[0]
    assert row["source_line"] == 20


def test_balances_that_do_not_add_up_are_a_finding_not_a_refusal(tmp_path: Path) -> None:
    path = write(tmp_path, statement(CREDIT_500, closing="1600.00"))
    read = camt053.parse(path)
    assert read.row_count == 1  # every entry is read
    [finding] = read.findings
    assert finding.category == "BALANCE_MISMATCH"
    assert finding.statement == "statement 'S1' (account 50100012345678)"
    assert (finding.line, finding.difference_minor, finding.currency) == (13, 10000, "INR")
    assert "difference 100.00 INR" in finding.message


def test_strict_refuses_balances_that_do_not_add_up_with_both_figures(tmp_path: Path) -> None:
    path = write(tmp_path, statement(CREDIT_500, closing="1600.00"))
    with pytest.raises(FormatError) as caught:
        camt053.parse(path, strict=True)
    error = caught.value
    assert error.file == str(path)
    assert error.line == 13
    assert "statement 'S1' (account 50100012345678)" in error.message
    assert "= 1,500.00 INR" in error.message
    assert "closing balance is 1,600.00 INR" in error.message
    assert "difference 100.00 INR" in error.message


def test_thirtieth_of_february_value_date_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, statement(CREDIT_500.replace("<ValDt><Dt>2024-01-15", "<ValDt><Dt>2024-02-30"))
    )
    with pytest.raises(FormatError) as caught:
        camt053.parse(path)
    assert caught.value.line == 22
    assert "'2024-02-30'" in caught.value.message


def test_entry_without_any_currency_is_refused(tmp_path: Path) -> None:
    text = statement(CREDIT_500.replace('<Amt Ccy="INR">500.00', "<Amt>500.00"))
    path = write(tmp_path, text.replace("<Ccy>INR</Ccy>", ""))
    with pytest.raises(FormatError, match="states no currency") as caught:
        camt053.parse(path)
    assert caught.value.line == 19


def test_truncated_file_is_refused_with_the_line_where_it_stops(tmp_path: Path) -> None:
    text = (GOLDEN / "camt053_v02_hdfc.xml").read_text(encoding="utf-8")
    path = write(tmp_path, "\n".join(text.splitlines()[:40]))
    with pytest.raises(FormatError, match="not well-formed XML") as caught:
        camt053.parse(path)
    assert caught.value.line == 40


def test_other_iso_20022_message_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn/>'
        "</Document>",
    )
    with pytest.raises(FormatError, match=r"pain\.001\.001\.03, not a CAMT\.053 statement"):
        camt053.parse(path)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "  \n")
    with pytest.raises(FormatError, match="the file is empty"):
        camt053.parse(path)


def test_garbage_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "garbage.xml"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(FormatError, match="not well-formed XML"):
        camt053.parse(path)


def test_sniff_recognises_camt053_and_not_mt940() -> None:
    assert camt053.sniff(statement(CREDIT_500).encode("utf-8"))
    assert not camt053.sniff(b":20:STMT1\n:25:ACC\n")


def test_camt053_is_registered_as_a_standard_format() -> None:
    assert STANDARD_FORMATS["camt053"].parse is camt053.parse
    assert STANDARD_FORMATS["camt053"].sniff is camt053.sniff


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_only_the_camt053_sniffer_claims_the_golden_file(path: Path) -> None:
    assert sniff_standard(path) == ["camt053"]
