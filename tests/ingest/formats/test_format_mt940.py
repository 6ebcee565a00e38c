"""MT940 statements read into canonical records: golden files, balances, and bad input."""

from __future__ import annotations

from datetime import date
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


def test_statement_that_states_no_currency_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, ":20:STMT1\n:25:ACC\n:61:240115C500,00NTRFNONREF\n:86:CREDIT\n")
    with pytest.raises(FormatError, match="states no currency"):
        mt940.parse(path)


def test_amount_finer_than_the_currency_allows_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, ONE_CREDIT.replace("C500,00NTRF", "C500,005NTRF"))
    with pytest.raises(FormatError, match="INR allows 2") as caught:
        mt940.parse(path)
    assert caught.value.line == 5


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


# What real banks send: each test below is one deviation, read as a bank would mean it.


def read(tmp_path: Path, text: str) -> NormalizedFile:
    return mt940.parse(write(tmp_path, text))


def amounts(result: NormalizedFile) -> list[tuple[int, str]]:
    return [(row["amount_minor"], row["direction"]) for row in result.table.to_pylist()]


def statement_of(*entries: str, opening: str = "C240101EUR1000,00", closing: str = "") -> str:
    text = ":20:STMT1\n:25:NL91ABNA0417164300\n:28C:1/1\n" + f":60F:{opening}\n"
    text += "".join(entries)
    return text + (f":62F:{closing}\n" if closing else "")


def test_thirtieth_of_february_value_date_is_the_last_day_of_february(tmp_path: Path) -> None:
    # A Sparkasse books the month's account fee on value date 30 February (30-day months).
    result = read(
        tmp_path,
        ":20:STARTUMSE\n:25:12345678/1020304050\n:60F:C160229EUR1200,00\n"
        ":61:1602300301DR6,00N024NONREF\n:86:805?00ENTGELTABSCHLUSS?20Pauschalen\n"
        ":62F:C160301EUR1194,00\n",
    )
    [row] = result.table.to_pylist()
    assert row["value_date"].isoformat() == "2016-02-29"
    assert row["booked_at"] == "2016-03-01"
    assert row["narration"] == "ENTGELTABSCHLUSS Pauschalen [value date 160230]"
    assert any("line 4: value date in :61: 160230" in note for note in result.notes)
    assert result.findings == []


def test_thirtieth_of_february_entry_date_keeps_what_was_written(tmp_path: Path) -> None:
    result = read(tmp_path, statement_of(":61:2402280230C10,00NINTNONREF\n:86:ZINSEN\n"))
    [row] = result.table.to_pylist()
    assert row["booked_at"] == "2024-02-29"
    assert row["narration"] == "ZINSEN [entry date 0230]"


def test_thirtieth_of_february_balance_date_is_the_last_day_of_february(tmp_path: Path) -> None:
    result = read(tmp_path, ONE_CREDIT.replace(":62F:C240131", ":62F:C240230"))
    assert result.closing_balance is not None
    assert result.closing_balance.as_of == date(2024, 2, 29)
    assert any("line 7: balance date in :62F: 240230" in note for note in result.notes)


def test_thirty_first_of_november_balance_date_is_the_thirtieth(tmp_path: Path) -> None:
    result = read(tmp_path, statement_of(closing="C021131EUR1000,00", opening="C021101EUR1000,00"))
    assert result.closing_balance is not None
    assert result.closing_balance.as_of == date(2002, 11, 30)


def test_month_thirteen_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, ONE_CREDIT.replace(":61:2401150115C", ":61:2413150115C"))
    with pytest.raises(FormatError, match="'241315' cannot be read") as caught:
        mt940.parse(path)
    assert caught.value.line == 5
    assert "month 01-12" in (caught.value.expected or "")


def test_entry_date_in_january_after_a_december_value_date_is_next_year(tmp_path: Path) -> None:
    result = read(tmp_path, statement_of(":61:2312310102C250,00NTRFNONREF\n"))
    assert result.table.to_pylist()[0]["booked_at"] == "2024-01-02"


def test_entry_date_in_december_before_a_january_value_date_is_last_year(tmp_path: Path) -> None:
    # Moneyou books year-end interest with value date 1 January and entry date 31 December.
    result = read(tmp_path, statement_of(":61:2401021231C6,44NMSC0987654321\n"))
    assert result.table.to_pylist()[0]["booked_at"] == "2023-12-31"


def test_statement_lines_without_type_code_are_separate_entries(tmp_path: Path) -> None:
    # Zenith Bank writes neither a type code nor a customer reference: ":61:...DN43000,00//ref".
    result = read(
        tmp_path,
        statement_of(
            ":61:2401150115CN500,00//19239782213\n:86:SALARY FUND\n",
            ":61:2401160116DN200,00//19239810200\n:86:WAGES JANUARY\n",
            opening="C240101NGN0,00",
            closing="C240131NGN300,00",
        ),
    )
    rows = result.table.to_pylist()
    assert amounts(result) == [(50000, "CR"), (20000, "DR")]
    assert [row["utr"] for row in rows] == ["19239782213", "19239810200"]
    assert [row["narration"] for row in rows] == ["SALARY FUND", "WAGES JANUARY"]
    assert result.findings == []


def test_statement_line_with_no_reference_at_all(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        statement_of(
            ":61:240115C500,00\n", ":61:240116C700,00NTRFNONREF\n", closing="C240131EUR2200,00"
        ),
    )
    assert amounts(result) == [(50000, "CR"), (70000, "CR")]
    assert result.findings == []


def test_type_code_without_its_n_still_gives_the_customer_reference(tmp_path: Path) -> None:
    result = read(tmp_path, statement_of(":61:240115D75,00TRFINV-2024-17\n"))
    row = result.table.to_pylist()[0]
    assert (row["amount_minor"], row["direction"], row["utr"]) == (7500, "DR", "INV-2024-17")


def test_nonref_without_type_code_is_no_reference(tmp_path: Path) -> None:
    # Penta writes ":61:2009020902D20,00NONREF": NONREF is the reference, not type code NONR.
    result = read(tmp_path, statement_of(":61:2009020902D20,00NONREF\n"))
    row = result.table.to_pylist()[0]
    assert (row["amount_minor"], row["direction"], row["utr"]) == (2000, "DR", None)


def test_funds_code_letter_after_the_mark_is_not_a_reversal(tmp_path: Path) -> None:
    # CR and DR are credit and debit with funds code R (the third letter of EUR); RCR is the
    # reversal of a credit with that funds code.
    result = read(
        tmp_path,
        statement_of(
            ":61:0709040904CR300,NTRFNONREF\n",
            ":61:0709040904DR100,NTRFNONREF\n",
            ":61:0709040904RCR50,NRTINONREF\n",
        ),
    )
    assert amounts(result) == [(30000, "CR"), (10000, "DR"), (5000, "DR")]


def test_lowercase_marks_are_read(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        statement_of(
            ":61:240115c500,00NTRFNONREF\n",
            ":61:240116d200,00NTRFNONREF\n",
            opening="c240101EUR0,00",
            closing="c240131EUR300,00",
        ),
    )
    assert amounts(result) == [(50000, "CR"), (20000, "DR")]
    assert result.findings == []


def test_amount_without_whole_units_or_with_thousands_dots(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        statement_of(
            ":61:240115C,5NTRFNONREF\n",
            ":61:240116C1.000,00NTRFNONREF\n",
            ":61:240117C500NTRFNONREF\n",
            opening="C240101EUR1.000,",
            closing="C240131EUR2.500,50",
        ),
    )
    assert amounts(result) == [(50, "CR"), (100000, "CR"), (50000, "CR")]
    assert result.findings == []


def test_amount_wrapped_onto_the_next_line(tmp_path: Path) -> None:
    result = read(tmp_path, statement_of(":61:1811261126CR\n30,00N062NONREF\n"))
    assert amounts(result) == [(3000, "CR")]


def test_supplementary_details_on_the_second_line_lead_the_narration(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        statement_of(
            ":61:2408010801D10,00NCOMNONREF//TB-CA-TB001ZQ0\nBNPP Fees - 202408\n"
            ":86:INVOICE 07/2024\n"
        ),
    )
    row = result.table.to_pylist()[0]
    assert row["narration"] == "BNPP Fees - 202408 INVOICE 07/2024"
    assert row["utr"] == "TB-CA-TB001ZQ0"


def test_several_information_lines_for_one_entry_are_joined(tmp_path: Path) -> None:
    # Rabobank and Danske Bank repeat :86: for each line of the description.
    result = read(
        tmp_path,
        statement_of(":61:240115D44,95N060NONREF\n:86:BETALINGSKENM. 123456789\n:86:FACTUUR 987\n"),
    )
    assert result.table.to_pylist()[0]["narration"] == "BETALINGSKENM. 123456789 FACTUUR 987"


def test_structured_information_with_one_subfield_a_line(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        statement_of(
            ":61:2202280228CR1,00N229NONREF//FT22059PGV08\n"
            ":86:229\n?00BONIFICATION\n?20INVOICE 4711\n?32ACME SARL\n"
        ),
    )
    assert result.table.to_pylist()[0]["narration"] == "BONIFICATION ACME SARL INVOICE 4711"


def test_bank_header_lines_between_messages_are_skipped(tmp_path: Path) -> None:
    # ABN AMRO wraps each message in "ABNANL2A", "940", "ABNANL2A" ... "-".
    message = (
        "ABNANL2A\n940\nABNANL2A\n:20:ABN AMRO BANK NV\n:25:517852257\n:28:19321/1\n"
        ":60F:C110522EUR100,00\n:61:1105240524D9,N192NONREF\n:86:GIRO 428428 KPN\n"
        ":62F:C110524EUR91,00\n-\n"
    )
    result = read(tmp_path, message + message.replace("19321/1", "19322/1"))
    assert amounts(result) == [(900, "DR"), (900, "DR")]
    assert [row["narration"] for row in result.table.to_pylist()] == ["GIRO 428428 KPN"] * 2
    assert result.findings == []


def test_ing_header_and_trailer_lines_are_skipped(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        "0000 01INGBNL2AXXXX00001\n0000 01INGBNL2AXXXX00001\n940 00\n"
        + statement_of(":61:100723C105,20NTRFNONREF//31101100047720\n/TRCD/00100/\n")
        + ":62F:C100723EUR1105,20\n:86:D000000C000001D0,00C105,20\n-XXX\n",
    )
    assert amounts(result) == [(10520, "CR")]
    assert result.findings == []


def test_swift_envelope_with_control_characters_is_skipped(tmp_path: Path) -> None:
    body = statement_of(":61:2401150115C500,00NTRFNONREF\n", closing="C240131EUR1500,00")
    text = (
        "\x01{1:F01POFICHBEAXXX0000000000}{2:I940XXXXXXXXXXXXN}{4:\n"
        + body
        + "-}\x03\x01{1:F01POFICHBEAXXX0000000000}{2:I940XXXXXXXXXXXXN}{4:"
        + body.replace("STMT1", "STMT2")
        + "-}{5:{MAC:00000000}{CHK:000000000000}}\n\x03"
    )
    result = read(tmp_path, text)
    assert amounts(result) == [(50000, "CR"), (50000, "CR")]
    assert result.findings == []


def test_first_tag_on_the_envelope_line(tmp_path: Path) -> None:
    result = read(tmp_path, "{1:F01HDFCINBBAXXX0000000000}{2:I940HDFCINBBXXXXN}{4:" + ONE_CREDIT)
    assert amounts(result) == [(50000, "CR")]


def test_dollar_separators_between_statements(tmp_path: Path) -> None:
    result = read(tmp_path, ONE_CREDIT + "$\n" + ONE_CREDIT.replace("STMT1", "STMT2") + "$\n")
    assert result.row_count == 2
    assert result.findings == []


def test_blank_lines_trailing_spaces_and_no_final_line_end(tmp_path: Path) -> None:
    text = "\n\n" + ONE_CREDIT.replace("\n", "   \n\n").rstrip()
    result = read(tmp_path, text)
    assert amounts(result) == [(50000, "CR")]
    assert result.findings == []


def test_tag_broken_after_its_colon(tmp_path: Path) -> None:
    result = read(tmp_path, ONE_CREDIT.replace(":86:NEFT", ":\n86:NEFT"))
    assert result.table.to_pylist()[0]["utr"] == "YESBN24015123456"


def test_account_with_a_currency_suffix_names_the_currency(tmp_path: Path) -> None:
    for account in ("NL12ABNA0123456789EUR", "123456789/EUR", "NL10BUNQ2290325473 EUR"):
        text = f":20:STMT1\n:25:{account}\n:61:240115C500,00NTRFNONREF\n"
        result = read(tmp_path, text)
        assert result.table.to_pylist()[0]["currency"] == "EUR", account


def test_statement_without_reference_starts_at_its_account(tmp_path: Path) -> None:
    result = read(tmp_path, ONE_CREDIT + ONE_CREDIT.replace(":20:STMT1\n", ""))
    assert result.row_count == 2
    assert result.findings == []
    assert any("without a :20: reference starts at :25:" in note for note in result.notes)


def test_credit_opening_balance_of_minus_zero_is_zero(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        statement_of(
            ":61:240115C500,00NTRFNONREF\n", opening="C240101EUR-0,00", closing="C240131EUR500,00"
        ),
    )
    assert result.opening_balance is not None
    assert result.opening_balance.amount_minor == 0
    assert result.findings == []


def test_blank_closing_balance_leaves_the_statement_unchecked(tmp_path: Path) -> None:
    result = read(tmp_path, statement_of(":61:240115C500,00NTRFNONREF\n") + ":62F:\n")
    assert result.row_count == 1
    assert result.closing_balance is None
    assert result.findings == []
    assert any("blank :62F: balance ignored" in note for note in result.notes)


def test_snippet_without_closing_balance_is_read_and_unchecked(tmp_path: Path) -> None:
    result = read(tmp_path, statement_of(":61:240115C500,00NTRFNONREF\n:86:SNIPPET\n"))
    assert result.row_count == 1
    assert result.findings == []
    assert any("were not checked" in note for note in result.notes)


def test_pages_are_checked_one_by_one(tmp_path: Path) -> None:
    # Page 1 closes with :62M:, page 2 opens with :60M:; only page 2 is short by 0.20 CHF.
    page_1 = (
        ":20:PF-1\n:25:123456789\n:28C:999/1\n:60F:C131130CHF0,\n"
        ":61:1312091209C79,7FMSC01916//NONREF\n:61:1312091209C149,5FMSC01916//NONREF\n"
        ":62M:C140407CHF229,2\n-\n"
    )
    page_2 = (
        ":20:PF-2\n:25:123456789\n:28C:999/2\n:60M:C140407CHF229,2\n"
        ":61:1312161216D79,9FMSC01916//NONREF\n:61:1312181218C10,1FMSC01651//NONREF\n"
        ":62F:C140407CHF159,6\n-\n"
    )
    result = read(tmp_path, page_1 + page_2)
    assert result.row_count == 4
    [finding] = result.findings
    assert finding.statement == "statement 'PF-2' (account 123456789)"
    assert (finding.line, finding.difference_minor, finding.currency) == (15, 20, "CHF")


def test_one_of_several_statements_not_adding_up_is_one_finding(tmp_path: Path) -> None:
    good = ONE_CREDIT
    bad = ONE_CREDIT.replace("STMT1", "STMT2").replace("C240131INR1500,00", "C240131INR1400,00")
    result = read(tmp_path, good + bad + good.replace("STMT1", "STMT3"))
    assert result.row_count == 3
    [finding] = result.findings
    assert finding.statement == "statement 'STMT2' (account 50100012345678)"
    assert finding.difference_minor == -10000


def test_forward_and_available_balances_are_not_checked(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        ONE_CREDIT + ":64:C240131INR1500,00\n:65:C240201INR9999,00\n:65:C240202INR0,00\n",
    )
    assert result.row_count == 1
    assert result.findings == []


def test_non_swift_fields_are_skipped(tmp_path: Path) -> None:
    # Sberbank Hungary puts its own :NS: fields before the balance and after each entry.
    result = read(
        tmp_path,
        ":20:STARTUMS\n:25:1966315302010001\n:NS:22JOHN DOE\n23John Doe\n"
        ":60F:C171011HUF627311,30\n:61:1710111011DF2402,00S   X\n:NS:01526715\n15ERGO\n"
        ":61:1710111011DF3460,00S   X\n:NS:01136508\n:62F:C171011HUF621449,30\n",
    )
    assert amounts(result) == [(240200, "DR"), (346000, "DR")]
    assert result.findings == []


def test_statement_in_deutsche_mark(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        ":20:131110\n:25:45050050/76198810\n:60F:C131016DEM84349,74\n"
        ":61:131017D6800,NCHK16703074\n:62F:C131017DEM77549,74\n",
    )
    assert amounts(result) == [(680000, "DR")]
    assert result.table.to_pylist()[0]["currency"] == "DEM"


def test_unreadable_statement_line_names_its_line_and_layout(tmp_path: Path) -> None:
    path = write(tmp_path, ONE_CREDIT.replace(":61:2401150115C500,00", ":61:JAN15 CREDIT 500"))
    with pytest.raises(FormatError, match="statement line 'JAN15 CREDIT 500") as caught:
        mt940.parse(path)
    assert caught.value.file == str(path)
    assert caught.value.line == 5
    assert "YYMMDD value date" in (caught.value.expected or "")


def test_sniff_recognises_a_statement_without_reference() -> None:
    assert mt940.sniff(b"ABNANL2A\r\n940\r\n:25:517852257\r\n:28:19321/1\r\n:60F:C110522EUR0,\r\n")


def test_balance_without_its_currency_is_in_the_statement_currency(tmp_path: Path) -> None:
    # ":62M:C020315105000,00": date, then the amount straight away.
    result = read(
        tmp_path,
        ":20:STARTUMS\n:25:1222333444\n:60F:C020315DEM0,00\n"
        ":61:0203170320CM5000,00S05168790452\n:62M:C0203155000,00\n",
    )
    assert result.closing_balance is not None
    assert (result.closing_balance.amount_minor, result.closing_balance.currency) == (500000, "DEM")
    assert result.findings == []


def test_wrapped_information_line_that_looks_like_a_tag_continues_it(tmp_path: Path) -> None:
    # A time of day wrapped after "13": the next line starts ":12:11", which is no MT940 tag.
    result = read(
        tmp_path,
        statement_of(":61:2401150115D6,00N024NONREF\n:86:805?00ENTGELT?602017-01-01T13\n:12:11\n"),
    )
    assert result.table.to_pylist()[0]["narration"] == "ENTGELT 2017-01-01T13:12:11"


def test_dash_line_inside_wrapped_information_continues_it(tmp_path: Path) -> None:
    # ING wraps a mandate reference "MND-EV01" so that the "-" stands on a line of its own.
    result = read(
        tmp_path,
        statement_of(
            ":61:1402200220D1,14NDDTEREF//00000000001009\n"
            ":86:/EREF/EV123//MARF/MND\n-\nEV01//REMI/USTD//INSURANCE FEB/\n"
            ":61:1402200220C32,00NTRF9001123412341234//00000000001011\n"
            ":86:/REMI/USTD//INVOICE 77/\n",
            closing="C140220EUR1030,86",
        ),
    )
    assert amounts(result) == [(114, "DR"), (3200, "CR")]
    assert result.table.to_pylist()[0]["narration"] == (
        "/EREF/EV123//MARF/MND - EV01//REMI/USTD//INSURANCE FEB/"
    )
    assert result.findings == []


def test_dash_line_before_the_next_message_still_ends_the_statement(tmp_path: Path) -> None:
    # Statement information (:86: after the closing balance), "-", then the bank's header lines.
    message = (
        ":20:STMT1\n:25:517852257\n:60F:C110522EUR100,00\n:61:1105240524D9,N192NONREF\n"
        ":86:GIRO 428428 KPN\n:62F:C110524EUR91,00\n:86:SALDO\n-\nABNANL2A\n940\nABNANL2A\n"
    )
    result = read(tmp_path, message + message.replace("STMT1", "STMT2"))
    assert amounts(result) == [(900, "DR"), (900, "DR")]
    assert [row["narration"] for row in result.table.to_pylist()] == ["GIRO 428428 KPN"] * 2
    assert result.findings == []


def test_mt942_interim_report_takes_its_currency_from_the_floor_limit(tmp_path: Path) -> None:
    # An intraday MT942 has no :60F:/:62F:; its floor limit :34F:PLN0, names the currency.
    result = read(
        tmp_path,
        ":20:TECHMIX\n:25:PL89106000760000321000006053\n:28C:00001/001\n:34F:PLN0,\n"
        ":13D:0506100744+0200\n:61:0506100610D93,17FMSCNONREF//6127001795151001\n"
        ":86:Przelew podatek PIT\n:90D:1PLN93,17\n",
    )
    [row] = result.table.to_pylist()
    assert (row["amount_minor"], row["direction"], row["currency"]) == (9317, "DR", "PLN")
    assert any("not state both an opening and a closing balance" in n for n in result.notes)


def test_mt942_debit_summary_names_the_currency_when_there_is_no_floor_limit(
    tmp_path: Path,
) -> None:
    result = read(
        tmp_path,
        ":20:INTRADAY1\n:25:PL89106000760000321000006053\n:28C:7/1\n"
        ":61:0506100610D250,00NTRFNONREF\n:86:Czynsz czerwiec\n:90D:1PLN250,00\n",
    )
    assert [row["currency"] for row in result.table.to_pylist()] == ["PLN"]


def test_bank_specific_field_of_an_entry_is_kept_in_its_narration(tmp_path: Path) -> None:
    # A Polish bank's :NS: field carries the payer's address and the invoice number.
    result = read(
        tmp_path,
        statement_of(
            ":61:170131DN25,00FCHGNONREF\n:NS:01My Street 17\n02City and Region\n"
            "03Invoice Nr. 12345\n:86:>20Account fee January\n",
            opening="C170124PLN2996,53",
            closing="C170131PLN2971,53",
        ),
    )
    [row] = result.table.to_pylist()
    assert row["narration"] == (
        ">20Account fee January 01My Street 17 02City and Region 03Invoice Nr. 12345"
    )


def test_bank_specific_field_outside_an_entry_is_left_out(tmp_path: Path) -> None:
    result = read(
        tmp_path,
        ":20:STARTUMS\n:25:1966315302010001\n:NS:22JOHN DOE\n:60F:C171011HUF627311,30\n"
        ":61:1710111011DF2402,00S   X\n:86:CARD PAYMENT\n:62F:C171011HUF624909,30\n",
    )
    assert [row["narration"] for row in result.table.to_pylist()] == ["CARD PAYMENT"]


RUSSIAN_PAYMENT = (
    ":20:1\n:25:40702810900000012345\n:60F:C240101RUB100000,00\n"
    ":61:2401050105D1500,00NTRFNONREF\n:86:Оплата по счету 15 от 01.01.2024, НДС не облагается\n"
    ":62F:C240105RUB98500,00\n"
)


def test_windows_1251_cyrillic_is_read_and_noted(tmp_path: Path) -> None:
    path = tmp_path / "statement.sta"
    path.write_bytes(RUSSIAN_PAYMENT.encode("cp1251"))
    result = mt940.parse(path)
    assert [row["narration"] for row in result.table.to_pylist()] == [
        "Оплата по счету 15 от 01.01.2024, НДС не облагается"
    ]
    assert any("read as Windows-1251" in note for note in result.notes)


def test_code_page_866_cyrillic_is_read_and_noted(tmp_path: Path) -> None:
    path = tmp_path / "statement.sta"
    path.write_bytes(RUSSIAN_PAYMENT.encode("cp866"))
    result = mt940.parse(path)
    assert [row["narration"] for row in result.table.to_pylist()] == [
        "Оплата по счету 15 от 01.01.2024, НДС не облагается"
    ]
    assert any("read as code page 866" in note for note in result.notes)


def test_iso_8859_2_polish_letters_are_read(tmp_path: Path) -> None:
    # mBank's exports: "OPŁATA ZA PRZELEW" in ISO-8859-2, which Windows-1252 reads "OP£ATA".
    path = tmp_path / "statement.sta"
    text = statement_of(
        ":61:0710231023DN2,50NCHGNONREF//BR07296102000003\n"
        ":86:839 OPŁATA ZA PRZEKAZ; ŚWINOUJŚCIE; ZAKŁAD WYTWÓRCZY\n",
        opening="C071023PLN100,00",
    )
    path.write_bytes(text.encode("iso8859_2"))
    result = mt940.parse(path)
    [row] = result.table.to_pylist()
    assert row["narration"] == "839 OPŁATA ZA PRZEKAZ; ŚWINOUJŚCIE; ZAKŁAD WYTWÓRCZY"
    assert any("read as ISO-8859-2" in note for note in result.notes)


def test_code_page_852_hungarian_letters_are_read(tmp_path: Path) -> None:
    path = tmp_path / "statement.sta"
    text = statement_of(
        ":61:1710111011D2402,00NTRFNONREF\n:86:Átutalás jóváírása, ügyfél Győr\n",
        opening="C171011HUF627311,30",
    )
    path.write_bytes(text.encode("cp852"))
    [row] = mt940.parse(path).table.to_pylist()
    assert row["narration"] == "Átutalás jóváírása, ügyfél Győr"


def test_western_letters_are_still_read_as_windows_1252(tmp_path: Path) -> None:
    path = tmp_path / "statement.sta"
    text = statement_of(":61:2401150115D9,00NTRFNONREF\n:86:Überweisung Müller Gläubiger\n")
    path.write_bytes(text.encode("cp1252"))
    result = mt940.parse(path)
    assert [row["narration"] for row in result.table.to_pylist()] == [
        "Überweisung Müller Gläubiger"
    ]
    assert any("read as Windows-1252" in note for note in result.notes)
