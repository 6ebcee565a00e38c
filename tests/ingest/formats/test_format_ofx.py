"""OFX statements (1.x SGML, 2.x XML) read into canonical records: golden files and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from format_golden import DATA, assert_matches_golden, golden_files

from hisaab.errors import FormatError
from hisaab.ingest.formats import STANDARD_FORMATS, ofx, sniff_standard

GOLDEN = DATA / "ofx"
GOLDEN_FILES = golden_files("ofx", "*.ofx")


SGML_HEADER = (
    "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\n"
    "CHARSET:1252\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
)


def sgml_statement(transactions: str, *, currency: str = "<CURDEF>INR\n") -> str:
    """An OFX 1.x bank statement (leaf elements unclosed, as the SGML standard allows)."""
    return (
        SGML_HEADER + "<OFX>\n<BANKMSGSRSV1>\n<STMTTRNRS>\n<TRNUID>1\n<STMTRS>\n"
        f"{currency}<BANKACCTFROM>\n<BANKID>HDFC0000001\n<ACCTID>50100012345678\n"
        "<ACCTTYPE>CHECKING\n</BANKACCTFROM>\n<BANKTRANLIST>\n"
        f"{transactions}</BANKTRANLIST>\n<LEDGERBAL>\n<BALAMT>1500.00\n<DTASOF>20240131\n"
        "</LEDGERBAL>\n</STMTRS>\n</STMTTRNRS>\n</BANKMSGSRSV1>\n</OFX>\n"
    )


CREDIT_500 = (
    "<STMTTRN>\n<TRNTYPE>CREDIT\n<DTPOSTED>20240115\n<TRNAMT>500.00\n<FITID>F1\n"
    "<NAME>NEFT CR-YESB0000001-ACME-YESBN24015123456\n</STMTTRN>\n"
)


def write(tmp_path: Path, text: str, name: str = "statement.ofx") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_golden_statement_reads_field_by_field(path: Path) -> None:
    assert_matches_golden(ofx.parse(path), path, "ofx")


def test_fitid_is_the_record_id_and_the_utr_comes_from_the_narration(tmp_path: Path) -> None:
    row = ofx.parse(write(tmp_path, sgml_statement(CREDIT_500))).table.to_pylist()[0]
    assert row["record_id"] == "F1"
    assert row["utr"] == "YESBN24015123456"


def test_ledger_balance_is_the_closing_balance_and_there_is_no_opening(tmp_path: Path) -> None:
    result = ofx.parse(write(tmp_path, sgml_statement(CREDIT_500)))
    assert result.opening_balance is None
    assert result.closing_balance is not None
    assert (result.closing_balance.amount_minor, result.closing_balance.currency) == (
        150000,
        "INR",
    )


def test_utf8_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.ofx"
    path.write_bytes(b"\xef\xbb\xbf" + sgml_statement(CREDIT_500).encode("ascii"))
    row = ofx.parse(path).table.to_pylist()[0]
    assert (row["amount_minor"], row["source_line"]) == (50000, 23)


def test_ofx_2_with_blank_lines_before_the_declaration_is_read(tmp_path: Path) -> None:
    text = "\n\n" + (GOLDEN / "ofx2_xml_bank_and_card.ofx").read_text(encoding="utf-8")
    rows = ofx.parse(write(tmp_path, text)).table.to_pylist()
    assert [row["source_line"] for row in rows] == [27, 35, 63]


def test_thirtieth_of_february_posting_date_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, sgml_statement(CREDIT_500.replace("20240115", "20240230")))
    with pytest.raises(FormatError) as caught:
        ofx.parse(path)
    assert caught.value.line == 23
    assert "'20240230'" in caught.value.message


def test_statement_without_currency_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, sgml_statement(CREDIT_500, currency=""))
    with pytest.raises(FormatError, match="statement states no currency") as caught:
        ofx.parse(path)
    assert caught.value.line == 15


def test_unreadable_amount_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, sgml_statement(CREDIT_500.replace("500.00", "FIVE HUNDRED")))
    with pytest.raises(FormatError, match="TRNAMT 'FIVE HUNDRED'") as caught:
        ofx.parse(path)
    assert caught.value.line == 23


def test_truncated_sgml_file_is_refused(tmp_path: Path) -> None:
    text = sgml_statement(CREDIT_500)
    path = write(tmp_path, text[: text.index("</BANKTRANLIST>")])
    with pytest.raises(FormatError, match="stops before </OFX>"):
        ofx.parse(path)


def test_truncated_xml_file_is_refused_with_the_line_where_it_stops(tmp_path: Path) -> None:
    lines = (GOLDEN / "ofx2_xml_bank_and_card.ofx").read_text(encoding="utf-8").splitlines()
    path = write(tmp_path, "\n".join(lines[:30]))
    with pytest.raises(FormatError, match="not well-formed OFX 2 XML") as caught:
        ofx.parse(path)
    assert caught.value.line == 30


def test_file_without_a_bank_statement_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, SGML_HEADER + "<OFX>\n<SIGNONMSGSRSV1>\n</SIGNONMSGSRSV1>\n</OFX>\n")
    with pytest.raises(FormatError, match="no bank or credit-card statement found"):
        ofx.parse(path)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "\r\n")
    with pytest.raises(FormatError, match="the file is empty"):
        ofx.parse(path)


def test_garbage_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "garbage.ofx"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(FormatError, match="no <OFX> element found"):
        ofx.parse(path)


def test_sniff_recognises_both_ofx_versions_and_not_camt() -> None:
    assert ofx.sniff(SGML_HEADER.encode("ascii"))
    assert ofx.sniff((GOLDEN / "ofx2_xml_bank_and_card.ofx").read_bytes()[:200])
    assert not ofx.sniff(b'<?xml version="1.0"?><Document><BkToCstmrStmt/></Document>')


def test_ofx_is_registered_as_a_standard_format() -> None:
    assert STANDARD_FORMATS["ofx"].parse is ofx.parse
    assert STANDARD_FORMATS["ofx"].sniff is ofx.sniff


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: p.stem)
def test_only_the_ofx_sniffer_claims_the_golden_file(path: Path) -> None:
    assert sniff_standard(path) == ["ofx"]
