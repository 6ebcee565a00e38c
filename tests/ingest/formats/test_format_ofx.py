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
    with pytest.raises(FormatError, match=r"stops before </OFX>, inside the <STMTTRN>") as caught:
        ofx.parse(path)
    assert caught.value.line == 30


def test_file_without_a_bank_statement_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, SGML_HEADER + "<OFX>\n<SIGNONMSGSRSV1>\n</SIGNONMSGSRSV1>\n</OFX>\n")
    with pytest.raises(FormatError, match="no bank, credit-card or investment statement found"):
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


def rows_of(tmp_path: Path, text: str, **kwargs: str) -> list[dict[str, object]]:
    return ofx.parse(write(tmp_path, text, **kwargs)).table.to_pylist()


def trn(amount: str, fitid: str = "F1", extra: str = "", posted: str = "20240115") -> str:
    """An SGML <STMTTRN> whose leaf elements are not closed."""
    return (
        f"<STMTTRN>\n<TRNTYPE>OTHER\n<DTPOSTED>{posted}\n<TRNAMT>{amount}\n"
        f"<FITID>{fitid}\n{extra}</STMTTRN>\n"
    )


def test_transactions_whose_end_tags_never_come_are_still_apart(tmp_path: Path) -> None:
    two = trn("-10.00", "F1").replace("</STMTTRN>\n", "") + trn("-20.00", "F2")
    rows = rows_of(tmp_path, sgml_statement(two))
    assert [(r["record_id"], r["amount_minor"]) for r in rows] == [("F1", 1000), ("F2", 2000)]


def test_empty_memo_does_not_swallow_the_elements_after_it(tmp_path: Path) -> None:
    text = (
        "<STMTTRN>\n<TRNTYPE>DEBIT\n<MEMO>\n<DTPOSTED>20240115\n<TRNAMT>-12.50\n<FITID>F1\n"
        "<CHECKNUM></CHECKNUM>\n<NAME>ZOMATO\n</STMTTRN>\n"
    )
    [row] = rows_of(tmp_path, sgml_statement(text))
    assert (row["amount_minor"], row["direction"], row["narration"]) == (1250, "DR", "ZOMATO")


def test_credit_card_statement_is_read(tmp_path: Path) -> None:
    card = sgml_statement(trn("-42.99")).replace("<STMTRS>", "<CCSTMTRS>")
    card = card.replace("</STMTRS>", "</CCSTMTRS>").replace("BANKMSGSRSV1", "CREDITCARDMSGSRSV1")
    [row] = rows_of(tmp_path, card)
    assert (row["amount_minor"], row["direction"]) == (4299, "DR")


INVESTMENT = (
    SGML_HEADER + "<OFX><INVSTMTMSGSRSV1><INVSTMTTRNRS><TRNUID>1<INVSTMTRS>"
    "<DTASOF>20240131<CURDEF>USD<INVACCTFROM><BROKERID>broker.example<ACCTID>X1</INVACCTFROM>"
    "<INVTRANLIST><DTSTART>20240101<DTEND>20240131"
    "<BUYSTOCK><INVBUY><INVTRAN><FITID>T1<DTTRADE>20240105</INVTRAN>"
    "<SECID><UNIQUEID>037833100<UNIQUEIDTYPE>CUSIP</SECID><UNITS>10<UNITPRICE>185.00"
    "<TOTAL>-1850.00<SUBACCTSEC>CASH<SUBACCTFUND>CASH</INVBUY><BUYTYPE>BUY</BUYSTOCK>"
    "<INVBANKTRAN><STMTTRN><TRNTYPE>DEP<DTPOSTED>20240102<TRNAMT>2000.00<FITID>C1"
    "<NAME>ACH DEPOSIT</STMTTRN><SUBACCTFUND>CASH</INVBANKTRAN>"
    "</INVTRANLIST></INVSTMTRS></INVSTMTTRNRS></INVSTMTMSGSRSV1></OFX>\n"
)


def test_investment_statement_gives_its_cash_transactions_not_its_trades(tmp_path: Path) -> None:
    read = ofx.parse(write(tmp_path, INVESTMENT))
    rows = read.table.to_pylist()
    assert [(r["record_id"], r["amount_minor"], r["direction"]) for r in rows] == [
        ("C1", 200000, "CR")
    ]
    assert any("1 securities transaction(s) (BUYSTOCK)" in note for note in read.notes)


def test_several_accounts_in_one_file_are_all_read(tmp_path: Path) -> None:
    first = sgml_statement(trn("-10.00", "A1"))
    second = sgml_statement(trn("25.00", "B1")).replace("<BALAMT>1500.00", "<BALAMT>99.00")
    body = first[first.index("<STMTTRNRS>") : first.index("</BANKMSGSRSV1>")]
    text = second.replace("<STMTTRNRS>", body + "<STMTTRNRS>", 1)
    read = ofx.parse(write(tmp_path, text))
    assert read.table.column("record_id").to_pylist() == ["A1", "B1"]
    assert read.closing_balance is not None and read.closing_balance.amount_minor == 9900


def test_ofx_2_header_over_an_sgml_body_is_read_with_a_note(tmp_path: Path) -> None:
    header = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" '
        'NEWFILEUID="NONE"?>\n'
    )
    text = header + sgml_statement(CREDIT_500).removeprefix(SGML_HEADER)
    read = ofx.parse(write(tmp_path, text))
    assert read.table.column("amount_minor").to_pylist() == [50000]
    assert any("not well-formed XML" in note for note in read.notes)


def test_unescaped_ampersand_in_a_name_is_kept(tmp_path: Path) -> None:
    [row] = rows_of(tmp_path, sgml_statement(trn("-5.00", extra="<NAME>MARKS & SPENCER\n")))
    assert row["narration"] == "MARKS & SPENCER"


def test_escaped_ampersand_in_sgml_is_unescaped(tmp_path: Path) -> None:
    [row] = rows_of(tmp_path, sgml_statement(trn("-5.00", extra="<NAME>AT&amp;T\n")))
    assert row["narration"] == "AT&T"


def test_missing_end_tags_after_the_last_statement_are_noted(tmp_path: Path) -> None:
    text = sgml_statement(CREDIT_500)
    read = ofx.parse(write(tmp_path, text[: text.index("</STMTRS>")]))
    assert read.table.column("amount_minor").to_pylist() == [50000]
    assert any("ends without </STMTRS>" in note for note in read.notes)


def test_header_with_odd_spacing_and_blank_lines(tmp_path: Path) -> None:
    header = "\r\n\r\nOFXHEADER: 100\r\nDATA:OFXSGML\r\n\r\nVERSION:102\r\nCHARSET:1252\r\n\r\n"
    text = sgml_statement(CREDIT_500).replace(SGML_HEADER, header)
    assert ofx.sniff(text.encode("ascii"))
    assert [r["amount_minor"] for r in rows_of(tmp_path, text)] == [50000]


def test_decimal_comma_amount(tmp_path: Path) -> None:
    [row] = rows_of(tmp_path, sgml_statement(trn("-12,50")))
    assert (row["amount_minor"], row["direction"]) == (1250, "DR")


def test_leading_plus_is_a_credit(tmp_path: Path) -> None:
    [row] = rows_of(tmp_path, sgml_statement(trn("+1500.00")))
    assert (row["amount_minor"], row["direction"]) == (150000, "CR")


def test_negative_zero_is_a_debit_of_nothing(tmp_path: Path) -> None:
    [row] = rows_of(tmp_path, sgml_statement(trn("-0")))
    assert (row["amount_minor"], row["direction"]) == (0, "DR")


def test_blank_amount_is_zero_with_a_note(tmp_path: Path) -> None:
    read = ofx.parse(write(tmp_path, sgml_statement(trn("   .  "))))
    assert read.table.column("amount_minor").to_pylist() == [0]
    assert any("no amount" in note and "read as 0" in note for note in read.notes)


def test_posted_time_with_a_time_zone_is_kept_in_utc(tmp_path: Path) -> None:
    # 9 p.m. in New York on the 15th is 2 a.m. UTC on the 16th; the value date stays the 15th.
    [row] = rows_of(tmp_path, sgml_statement(trn("-1.00", posted="20240115210000.000[-5:EST]")))
    assert (row["booked_at"], str(row["value_date"])) == ("2024-01-16T02:00:00+00:00", "2024-01-15")


def test_posted_time_in_gmt(tmp_path: Path) -> None:
    [row] = rows_of(tmp_path, sgml_statement(trn("-1.00", posted="20240115120000[0:GMT]")))
    assert row["booked_at"] == "2024-01-15T12:00:00+00:00"


def test_posted_date_without_a_time(tmp_path: Path) -> None:
    [row] = rows_of(tmp_path, sgml_statement(trn("-1.00", posted="20240115")))
    assert (row["booked_at"], str(row["value_date"])) == ("2024-01-15", "2024-01-15")


def test_unreadable_time_zone_keeps_the_date_with_a_note(tmp_path: Path) -> None:
    read = ofx.parse(write(tmp_path, sgml_statement(trn("-1.00", posted="20240115120000[EST]"))))
    assert read.table.column("booked_at").to_pylist() == ["2024-01-15"]
    assert any("cannot be read; its date was used" in note for note in read.notes)


def test_missing_fitid_gets_a_derived_id_and_a_note(tmp_path: Path) -> None:
    text = sgml_statement(trn("-1.00").replace("<FITID>F1\n", ""))
    read = ofx.parse(write(tmp_path, text))
    [row] = read.table.to_pylist()
    assert row["record_id"] == row["fingerprint"][:20]
    assert any("without a FITID" in note for note in read.notes)


def test_currency_per_transaction_overrides_the_statement(tmp_path: Path) -> None:
    extra = "<CURRENCY>\n<CURRATE>83.10\n<CURSYM>USD\n</CURRENCY>\n"
    [row] = rows_of(tmp_path, sgml_statement(trn("-42.99", extra=extra)))
    assert (row["amount_minor"], row["currency"]) == (4299, "USD")


def test_original_currency_keeps_the_statement_currency(tmp_path: Path) -> None:
    # ORIGCURRENCY says the bank converted from USD: the amount is already in rupees.
    extra = "<ORIGCURRENCY>\n<CURRATE>83.10\n<CURSYM>USD\n</ORIGCURRENCY>\n"
    [row] = rows_of(tmp_path, sgml_statement(trn("-3572.47", extra=extra)))
    assert (row["amount_minor"], row["currency"]) == (357247, "INR")


def test_windows_1252_bytes_are_read(tmp_path: Path) -> None:
    path = tmp_path / "cp1252.ofx"
    path.write_bytes(sgml_statement(trn("-9.00", extra="<NAME>CAFÉ MÜLLER\n")).encode("cp1252"))
    read = ofx.parse(path)
    assert read.table.column("narration").to_pylist() == ["CAFÉ MÜLLER"]
    assert any("read as Windows-1252" in note for note in read.notes)


def test_utf8_text_is_read(tmp_path: Path) -> None:
    [row] = rows_of(tmp_path, sgml_statement(trn("-9.00", extra="<NAME>CAFÉ ₹ MÜLLER\n")))
    assert row["narration"] == "CAFÉ ₹ MÜLLER"


def test_file_cut_right_after_a_transaction_start_is_refused(tmp_path: Path) -> None:
    text = sgml_statement(CREDIT_500)
    path = write(tmp_path, text[: text.index("<STMTTRN>") + len("<STMTTRN>")])
    with pytest.raises(FormatError, match=r"inside the <STMTTRN> of line 23"):
        ofx.parse(path)


def test_blank_before_the_time_zone_is_ignored(tmp_path: Path) -> None:
    [row] = rows_of(tmp_path, sgml_statement(trn("-1.00", posted="20240115120000.000 [-5:EST]")))
    assert row["booked_at"] == "2024-01-15T17:00:00+00:00"


def test_lowercase_tags_are_read(tmp_path: Path) -> None:
    text = sgml_statement(trn("-7.25", extra="<NAME>TEA STALL\n"))
    body = text.index("<OFX>")
    [row] = rows_of(tmp_path, text[:body] + text[body:].lower())
    assert (row["amount_minor"], row["narration"]) == (725, "tea stall")


def test_amount_with_more_decimals_than_the_currency_reads_when_they_are_zeros(
    tmp_path: Path,
) -> None:
    # A broker's export writes every amount with four decimals: -25.5000 INR is -25.50.
    [row] = rows_of(tmp_path, sgml_statement(trn("-25.5000")))
    assert (row["amount_minor"], row["direction"]) == (2550, "DR")


def test_yen_amount_written_with_a_decimal_zero_is_whole_yen(tmp_path: Path) -> None:
    # A Japanese transfer of 1,200 yen written "1200.0" (yen have no minor unit).
    [row] = rows_of(tmp_path, sgml_statement(trn("1200.0"), currency="<CURDEF>JPY\n"))
    assert (row["amount_minor"], row["currency"], row["direction"]) == (1200, "JPY", "CR")


def test_amount_finer_than_the_currency_with_nonzero_digits_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"TRNAMT '-995\.4190396554627'"):
        rows_of(tmp_path, sgml_statement(trn("-995.4190396554627")))
