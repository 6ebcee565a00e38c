"""CAMT.053 statements read into canonical records: golden files, balances, and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    text = statement(CREDIT_500).replace(' Ccy="INR"', "").replace("<Ccy>INR</Ccy>", "")
    path = write(tmp_path, text)
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


# --- what real banks send ----------------------------------------------------------------------


def balance(code: str, amount: str, indicator: str = "CRDT", *, ccy: str = "EUR") -> str:
    sign = f"<CdtDbtInd>{indicator}</CdtDbtInd>" if indicator else ""
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="{ccy}">{amount}</Amt>{sign}<Dt><Dt>2024-03-31</Dt></Dt></Bal>'
    )


def entry(
    amount: str,
    indicator: str = "CRDT",
    *,
    ccy: str = "EUR",
    status: str = "<Sts>BOOK</Sts>",
    ref: str = "E1",
    details: str = "",
    extra: str = "",
) -> str:
    return (
        f'<Ntry><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>{indicator}</CdtDbtInd>{extra}{status}'
        f"<BookgDt><Dt>2024-03-15</Dt></BookgDt><ValDt><Dt>2024-03-15</Dt></ValDt>"
        f"<AcctSvcrRef>{ref}</AcctSvcrRef>{details}</Ntry>"
    )


def stmt(*parts: str, ident: str = "S1", iban: str = "DE89370400440532013000") -> str:
    return (
        f"<Stmt><Id>{ident}</Id><Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        + "".join(parts)
        + "</Stmt>"
    )


def document(
    *statements: str,
    namespace: str | None = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08",
    message: str = "BkToCstmrStmt",
) -> str:
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document{xmlns}><{message}>'
        f"<GrpHdr><MsgId>M1</MsgId><CreDtTm>2024-03-31T20:00:00</CreDtTm></GrpHdr>"
        + "".join(statements)
        + f"</{message}></Document>\n"
    )


def payment(amount: str | None, e2e: str, text: str, payer: str, *, ccy: str = "EUR") -> str:
    """A transaction detail, with its amount in <AmtDtls><TxAmt> (.001.02 style)."""
    money = ""
    if amount is not None:
        currency = f' Ccy="{ccy}"' if ccy else ""
        money = f"<AmtDtls><TxAmt><Amt{currency}>{amount}</Amt></TxAmt></AmtDtls>"
    return (
        f"<TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs>{money}"
        f"<RltdPties><Dbtr><Nm>{payer}</Nm></Dbtr></RltdPties>"
        f"<RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls>"
    )


def batch(*payments: str) -> str:
    return (
        f"<NtryDtls><Btch><NbOfTxs>{len(payments)}</NbOfTxs></Btch>{''.join(payments)}</NtryDtls>"
    )


def rows_of(tmp_path: Path, text: str, name: str = "statement.xml") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = camt053.parse(write(tmp_path, text, name)).table.to_pylist()
    return rows


def signed(rows: list[dict[str, Any]]) -> int:
    return sum(r["amount_minor"] if r["direction"] == "CR" else -r["amount_minor"] for r in rows)


RENT_AND_FEES = batch(
    payment("1200.00", "RENT-0324", "Rent March flat 4", "Anna Schmidt"),
    payment("300.00", "FEES-0324", "Service charge March", "Ben Weber"),
)


def test_batch_with_amounts_is_one_record_per_payment_with_its_own_references(
    tmp_path: Path,
) -> None:
    text = document(
        stmt(
            balance("OPBD", "100.00"),
            balance("CLBD", "1600.00"),
            entry("1500.00", ref="BATCH-7", details=RENT_AND_FEES),
        )
    )
    read = camt053.parse(write(tmp_path, text))
    rent, fees = read.table.to_pylist()
    assert (rent["amount_minor"], fees["amount_minor"]) == (120000, 30000)
    assert (rent["record_id"], fees["record_id"]) == ("BATCH-7/1", "BATCH-7/2")
    assert (rent["utr"], fees["utr"]) == ("RENT-0324", "FEES-0324")
    assert rent["narration"] == "Rent March flat 4 Anna Schmidt"
    assert fees["narration"] == "Service charge March Ben Weber"
    assert read.findings == []


def test_batch_with_amounts_directly_in_the_details_is_split(tmp_path: Path) -> None:
    details = (
        "<NtryDtls>"
        '<TxDtls><Refs><EndToEndId>A</EndToEndId></Refs><Amt Ccy="EUR">20.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd></TxDtls>"
        '<TxDtls><Refs><EndToEndId>B</EndToEndId></Refs><Amt Ccy="EUR">5.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd></TxDtls>"
        "</NtryDtls>"
    )
    rows = rows_of(tmp_path, document(stmt(entry("25.00", details=details))))
    assert [(r["utr"], r["amount_minor"]) for r in rows] == [("A", 2000), ("B", 500)]


def test_batch_detail_amount_without_currency_takes_the_entrys(tmp_path: Path) -> None:
    details = batch(
        payment("60.00", "A", "Invoice 1", "Payer", ccy=""),
        payment("40.00", "B", "Invoice 2", "Payer", ccy=""),
    )
    rows = rows_of(tmp_path, document(stmt(entry("100.00", details=details))))
    assert [(r["amount_minor"], r["currency"]) for r in rows] == [(6000, "EUR"), (4000, "EUR")]


def test_batch_whose_details_carry_no_amounts_stays_one_record_with_a_note(
    tmp_path: Path,
) -> None:
    details = batch(payment(None, "A", "Invoice 1", "P"), payment(None, "B", "Invoice 2", "P"))
    read = camt053.parse(write(tmp_path, document(stmt(entry("100.00", details=details)))))
    [row] = read.table.to_pylist()
    assert row["amount_minor"] == 10000
    assert any("1 batch entry kept as one record" in note for note in read.notes)


def test_batch_whose_details_do_not_add_up_stays_one_record(tmp_path: Path) -> None:
    details = batch(payment("60.00", "A", "Invoice 1", "P"), payment("30.00", "B", "I2", "P"))
    read = camt053.parse(write(tmp_path, document(stmt(entry("100.00", details=details)))))
    assert [r["amount_minor"] for r in read.table.to_pylist()] == [10000]
    assert any("not adding up to the entry" in note for note in read.notes)


def test_single_detail_in_another_currency_keeps_the_booked_amount(tmp_path: Path) -> None:
    details = batch(payment("522.39", "SP-1", "Quote 1387", "Batelier", ccy="USD"))
    rows = rows_of(tmp_path, document(stmt(entry("579.21", "DBIT", details=details))))
    assert [(r["amount_minor"], r["currency"], r["utr"]) for r in rows] == [(57921, "EUR", "SP-1")]


@pytest.mark.parametrize("version", [f"{n:02d}" for n in range(2, 14)])
def test_every_version_from_02_to_13_reads_the_same_credit(tmp_path: Path, version: str) -> None:
    namespace = f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"
    status = "<Sts>BOOK</Sts>" if version < "08" else "<Sts><Cd>BOOK</Cd></Sts>"
    text = document(stmt(entry("42.50", status=status)), namespace=namespace)
    [row] = rows_of(tmp_path, text)
    assert (row["amount_minor"], row["direction"], row["record_id"]) == (4250, "CR", "E1")


def test_file_without_namespace_reads(tmp_path: Path) -> None:
    [row] = rows_of(tmp_path, document(stmt(entry("42.50")), namespace=None))
    assert row["amount_minor"] == 4250


def test_file_with_a_namespace_prefix_reads(tmp_path: Path) -> None:
    text = document(stmt(entry("42.50"))).replace("<", "<ns2:").replace("<ns2:/", "</ns2:")
    text = text.replace("<ns2:?xml", "<?xml").replace(" xmlns=", " xmlns:ns2=")
    [row] = rows_of(tmp_path, text)
    assert row["amount_minor"] == 4250


def test_statement_inside_a_business_message_envelope_reads(tmp_path: Path) -> None:
    inner = document(stmt(entry("42.50"))).split("\n", 1)[1]
    text = (
        '<?xml version="1.0"?><BizMsgEnvlp><AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:'
        'head.001.001.02"><MsgDefIdr>camt.053.001.08</MsgDefIdr></AppHdr>'
        + inner
        + "</BizMsgEnvlp>"
    )
    [row] = rows_of(tmp_path, text)
    assert row["amount_minor"] == 4250


def test_camt052_account_report_with_entries_reads_with_a_note(tmp_path: Path) -> None:
    text = document(
        stmt(balance("PRCD", "10.00"), balance("ITBD", "15.00"), entry("5.00")),
        namespace="urn:iso:std:iso:20022:tech:xsd:camt.052.001.08",
        message="BkToCstmrAcctRpt",
    ).replace("Stmt>", "Rpt>")
    read = camt053.parse(write(tmp_path, text))
    assert read.row_count == 1
    assert read.findings == []
    assert any("camt.052 account report" in note for note in read.notes)


def test_camt054_notification_with_entries_reads_with_a_note(tmp_path: Path) -> None:
    text = document(
        stmt(entry("5.00")),
        namespace="urn:iso:std:iso:20022:tech:xsd:camt.054.001.04",
        message="BkToCstmrDbtCdtNtfctn",
    ).replace("Stmt>", "Ntfctn>")
    read = camt053.parse(write(tmp_path, text))
    assert read.row_count == 1
    assert any("camt.054 debit/credit notification" in note for note in read.notes)


def test_camt052_report_with_balances_but_no_entries_reads_as_no_transactions(
    tmp_path: Path,
) -> None:
    # A 09:00 intraday report: the bank states the booked balance, nothing has moved yet.
    text = document(
        stmt(balance("OPBD", "15000.00"), balance("ITBD", "15000.00")),
        namespace="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02",
        message="BkToCstmrAcctRpt",
    ).replace("Stmt>", "Rpt>")
    read = camt053.parse(write(tmp_path, text))
    assert read.row_count == 0
    assert read.findings == []
    assert any("camt.052 message has no entries" in note for note in read.notes)


def test_entry_amount_with_a_decimal_comma_is_read_as_a_decimal(tmp_path: Path) -> None:
    # An export that writes the rent of 1.500,00 EUR with a comma, against the schema.
    [row] = rows_of(tmp_path, document(stmt(entry("1500,00", "DBIT"))))
    assert (row["amount_minor"], row["direction"]) == (150000, "DR")


def test_decimal_comma_amounts_are_noted_once_per_statement(tmp_path: Path) -> None:
    text = document(stmt(entry("1500,00", "DBIT"), entry("1.250,50", ref="E2")))
    read = camt053.parse(write(tmp_path, text))
    assert [row["amount_minor"] for row in read.table.to_pylist()] == [150000, 125050]
    [note] = [note for note in read.notes if "decimal comma" in note]
    assert "2 amounts written with a decimal comma (such as '1500,00'" in note


def test_balance_with_a_decimal_comma_is_checked_like_any_other(tmp_path: Path) -> None:
    text = document(stmt(balance("OPBD", "1000,00"), balance("CLBD", "2500,00"), entry("1500,00")))
    read = camt053.parse(write(tmp_path, text))
    assert read.closing_balance is not None
    assert read.closing_balance.amount_minor == 250000
    assert read.findings == []


def test_comma_with_more_digits_than_the_currency_has_is_not_a_decimal_comma(
    tmp_path: Path,
) -> None:
    # "1,500" in EUR cannot be 1.500 euros (three decimals): it is not read as a decimal comma.
    [row] = rows_of(tmp_path, document(stmt(entry("1,500"))))
    assert row["amount_minor"] == 150000


def test_previously_closed_balance_opens_the_statement(tmp_path: Path) -> None:
    text = document(stmt(balance("PRCD", "100.00"), balance("CLBD", "142.50"), entry("42.50")))
    read = camt053.parse(write(tmp_path, text))
    assert read.opening_balance is not None
    assert read.opening_balance.amount_minor == 10000
    assert read.findings == []


def test_interim_balances_open_and_close_a_page(tmp_path: Path) -> None:
    text = document(stmt(balance("ITBD", "100.00"), balance("ITBD", "142.50"), entry("42.50")))
    read = camt053.parse(write(tmp_path, text))
    assert read.opening_balance is not None and read.closing_balance is not None
    assert (read.opening_balance.amount_minor, read.closing_balance.amount_minor) == (10000, 14250)
    assert read.findings == []


def test_interim_closing_after_previously_closed_opening_that_does_not_add_up(
    tmp_path: Path,
) -> None:
    text = document(stmt(balance("PRCD", "100.00"), balance("ITBD", "150.00"), entry("42.50")))
    [finding] = camt053.parse(write(tmp_path, text)).findings
    assert (finding.category, finding.difference_minor) == ("BALANCE_MISMATCH", 750)


def test_available_and_information_balances_stay_out_of_the_identity(tmp_path: Path) -> None:
    text = document(
        stmt(
            balance("OPAV", "1.00"),
            balance("OPBD", "100.00"),
            balance("CLBD", "142.50"),
            balance("CLAV", "99.00"),
            balance("FWAV", "98.00"),
            balance("ITAV", "97.00"),
            balance("INFO", "96.00"),
            entry("42.50"),
        )
    )
    read = camt053.parse(write(tmp_path, text))
    assert read.findings == []
    assert read.closing_balance is not None and read.closing_balance.amount_minor == 14250


def test_only_available_balances_leave_the_statement_unchecked(tmp_path: Path) -> None:
    text = document(stmt(balance("OPAV", "100.00"), balance("CLAV", "1.00"), entry("42.50")))
    read = camt053.parse(write(tmp_path, text))
    assert read.findings == []
    assert any("were not checked" in note for note in read.notes)


def test_proprietary_balance_codes_are_read(tmp_path: Path) -> None:
    text = document(
        stmt(balance("OPBD", "100.00"), balance("CLBD", "142.50"), entry("42.50")).replace(
            "<Cd>CLBD</Cd>", "<Prtry>CLBD</Prtry>"
        )
    )
    read = camt053.parse(write(tmp_path, text))
    assert read.closing_balance is not None and read.closing_balance.amount_minor == 14250


def test_overdrawn_opening_balance_is_negative(tmp_path: Path) -> None:
    text = document(stmt(balance("OPBD", "50.00", "DBIT"), balance("CLBD", "0.00"), entry("50.00")))
    read = camt053.parse(write(tmp_path, text))
    assert read.opening_balance is not None and read.opening_balance.amount_minor == -5000
    assert read.findings == []


def test_zero_balance_marked_debit_is_zero(tmp_path: Path) -> None:
    text = document(
        stmt(balance("OPBD", "42.50"), balance("CLBD", "0.00", "DBIT"), entry("42.50", "DBIT"))
    )
    read = camt053.parse(write(tmp_path, text))
    assert read.closing_balance is not None and read.closing_balance.amount_minor == 0
    assert read.findings == []


def test_balance_without_indicator_is_read_as_a_credit_with_a_note(tmp_path: Path) -> None:
    text = document(
        stmt(balance("OPBD", "100.00", ""), balance("CLBD", "142.50", ""), entry("42.50"))
    )
    read = camt053.parse(write(tmp_path, text))
    assert read.findings == []
    assert any("2 balances without <CdtDbtInd> read as credit" in note for note in read.notes)


def test_statement_without_balances_is_read_unchecked(tmp_path: Path) -> None:
    read = camt053.parse(write(tmp_path, document(stmt(entry("42.50")))))
    assert (read.row_count, read.opening_balance, read.findings) == (1, None, [])
    assert any("were not checked" in note for note in read.notes)


def test_pending_and_information_entries_are_left_out_and_counted(tmp_path: Path) -> None:
    text = document(
        stmt(
            entry("10.00", ref="BOOKED"),
            entry("20.00", ref="P1", status="<Sts><Cd>PDNG</Cd></Sts>"),
            entry("30.00", ref="P2", status="<Sts>PDNG</Sts>"),
            entry("40.00", ref="I1", status="<Sts><Cd>INFO</Cd></Sts>"),
        ),
        namespace="urn:iso:std:iso:20022:tech:xsd:camt.053.001.12",
    )
    read = camt053.parse(write(tmp_path, text))
    assert [r["record_id"] for r in read.table.to_pylist()] == ["BOOKED"]
    assert any(
        "3 entries not booked (2 pending, 1 information only) left out" in note
        for note in read.notes
    )


def test_reversal_keeps_the_direction_it_is_booked_with(tmp_path: Path) -> None:
    text = document(
        stmt(
            balance("OPBD", "100.00"),
            balance("CLBD", "100.00"),
            entry("25.00", ref="PAY"),
            entry("25.00", "DBIT", ref="REV", extra="<RvslInd>true</RvslInd>"),
        )
    )
    read = camt053.parse(write(tmp_path, text))
    assert [r["direction"] for r in read.table.to_pylist()] == ["CR", "DR"]
    assert read.findings == []


@pytest.mark.parametrize(
    ("ccy", "amount", "minor"),
    [("JPY", "15000.000", 15000), ("BHD", "12.3450000", 12345), ("EUR", "7.5", 750)],
)
def test_amounts_with_more_decimals_than_the_currency_has_are_exact(
    tmp_path: Path, ccy: str, amount: str, minor: int
) -> None:
    [row] = rows_of(tmp_path, document(stmt(entry(amount, ccy=ccy))))
    assert (row["amount_minor"], row["currency"]) == (minor, ccy)


def test_yen_amount_with_sen_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"<Amt> '15000\.50'"):
        rows_of(tmp_path, document(stmt(entry("15000.50", ccy="JPY"))))


def test_several_statements_of_several_accounts_are_each_checked(tmp_path: Path) -> None:
    text = document(
        stmt(balance("OPBD", "100.00"), balance("CLBD", "110.00"), entry("10.00", ref="A")),
        stmt(
            balance("OPBD", "5.00"),
            balance("CLBD", "3.00"),
            entry("2.00", "DBIT", ref="B"),
            ident="S2",
            iban="DE02120300000000202051",
        ),
    )
    read = camt053.parse(write(tmp_path, text))
    assert [r["record_id"] for r in read.table.to_pylist()] == ["A", "B"]
    assert read.findings == []
    assert (read.opening_balance, read.closing_balance) == (None, None)
    assert any("2 statements of 2 accounts" in note for note in read.notes)


def test_statement_with_no_entries_reads_as_none(tmp_path: Path) -> None:
    text = document(stmt(balance("OPBD", "100.00"), balance("CLBD", "100.00")))
    read = camt053.parse(write(tmp_path, text))
    assert (read.row_count, read.findings) == (0, [])


def test_utf8_file_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    path = tmp_path / "bom.xml"
    path.write_bytes(b"\xef\xbb\xbf" + document(stmt(entry("42.50"))).encode("utf-8"))
    assert camt053.parse(path).row_count == 1


def test_iso_8859_1_file_keeps_its_umlauts(tmp_path: Path) -> None:
    text = document(stmt(entry("42.50", extra="<AddtlNtryInf>Überweisung Müller</AddtlNtryInf>")))
    path = tmp_path / "latin1.xml"
    path.write_bytes(text.replace("UTF-8", "ISO-8859-1").encode("latin-1"))
    [row] = camt053.parse(path).table.to_pylist()
    assert row["narration"] == "Überweisung Müller"


def test_whitespace_before_an_iso_8859_1_declaration_keeps_its_encoding(tmp_path: Path) -> None:
    text = document(stmt(entry("42.50", extra="<AddtlNtryInf>Gebühr</AddtlNtryInf>")))
    path = tmp_path / "late.xml"
    path.write_bytes(b"\r\n  " + text.replace("UTF-8", "ISO-8859-1").encode("latin-1"))
    read = camt053.parse(path)
    assert read.table.to_pylist()[0]["narration"] == "Gebühr"
    assert not any("Windows-1252" in note for note in read.notes)


def test_utf16_file_reads(tmp_path: Path) -> None:
    path = tmp_path / "utf16.xml"
    path.write_bytes(document(stmt(entry("42.50"))).replace("UTF-8", "UTF-16").encode("utf-16"))
    assert camt053.parse(path).row_count == 1


def test_entry_without_dates_takes_the_statement_date_with_a_note(tmp_path: Path) -> None:
    undated = '<Ntry><Amt Ccy="EUR">42.50</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry>'
    text = document(stmt(balance("OPBD", "100.00"), balance("CLBD", "142.50"), undated))
    read = camt053.parse(write(tmp_path, text))
    assert read.table.to_pylist()[0]["value_date"].isoformat() == "2024-03-31"
    assert any("1 entry without a value or booking date" in note for note in read.notes)


def test_balances_in_different_currencies_are_a_finding(tmp_path: Path) -> None:
    text = document(
        stmt(balance("OPBD", "100.00"), balance("CLBD", "142.50", ccy="SEK"), entry("42.50"))
    )
    read = camt053.parse(write(tmp_path, text))
    assert read.row_count == 1
    [finding] = read.findings
    assert finding.category == "BALANCE_MISMATCH"
    assert "opening balance is in EUR, its closing balance in SEK" in finding.message


def test_strict_refuses_balances_in_different_currencies(tmp_path: Path) -> None:
    text = document(
        stmt(balance("OPBD", "100.00"), balance("CLBD", "142.50", ccy="SEK"), entry("42.50"))
    )
    with pytest.raises(FormatError, match="closing balance in SEK"):
        camt053.parse(write(tmp_path, text), strict=True)


def test_external_entities_are_never_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    text = document(stmt(entry("42.50", extra="<AddtlNtryInf>&leak;</AddtlNtryInf>"))).replace(
        "?>\n", f'?>\n<!DOCTYPE Document [<!ENTITY leak SYSTEM "file://{secret}">]>\n', 1
    )
    read = camt053.parse(write(tmp_path, text))
    assert "TOP-SECRET" not in str(read.table.to_pylist())


def test_sniff_recognises_camt052_and_camt054() -> None:
    assert camt053.sniff(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.08">')
    assert camt053.sniff(b"<Document><BkToCstmrDbtCdtNtfctn>")


def test_entry_without_currency_takes_the_currency_of_the_statements_balances(
    tmp_path: Path,
) -> None:
    text = statement(CREDIT_500.replace('<Amt Ccy="INR">500.00', "<Amt>500.00"))
    [row] = rows_of(tmp_path, text.replace("<Ccy>INR</Ccy>", ""))
    assert (row["amount_minor"], row["currency"]) == (50000, "INR")


def test_booking_date_written_with_a_time_in_dt_counts_its_day(tmp_path: Path) -> None:
    text = statement(CREDIT_500.replace("<ValDt><Dt>2024-01-15", "<ValDt><Dt>2024-01-16T00:00:00"))
    [row] = rows_of(tmp_path, text)
    assert row["value_date"].isoformat() == "2024-01-16"


def test_booking_time_written_unusually_keeps_its_day(tmp_path: Path) -> None:
    text = statement(
        CREDIT_500.replace(
            "<BookgDt><Dt>2024-01-15</Dt>", "<BookgDt><DtTm>2024-01-15T11.17.11</DtTm>"
        )
    )
    [row] = rows_of(tmp_path, text)
    assert row["booked_at"] == "2024-01-15"


def test_impossible_booking_time_is_refused(tmp_path: Path) -> None:
    text = statement(
        CREDIT_500.replace(
            "<BookgDt><Dt>2024-01-15</Dt>", "<BookgDt><DtTm>2024-02-30T10:00:00</DtTm>"
        )
    )
    with pytest.raises(FormatError, match="impossible booking date '2024-02-30T10:00:00'"):
        rows_of(tmp_path, text)


def test_message_named_with_its_version_reads(tmp_path: Path) -> None:
    text = statement(CREDIT_500, namespace="001.01").replace("BkToCstmrStmt>", "BkToCstmrStmtV01>")
    assert rows_of(tmp_path, text)[0]["amount_minor"] == 50000


def test_documents_saved_one_after_another_are_all_read(tmp_path: Path) -> None:
    first = statement(CREDIT_500)
    second = statement(CREDIT_500.replace("REF1", "REF2"))
    read = camt053.parse(write(tmp_path, first + second))
    rows = read.table.to_pylist()
    assert [(r["record_id"], r["source_line"]) for r in rows] == [("REF1", 18), ("REF2", 45)]
    assert any("2 XML documents one after another" in note for note in read.notes)


def test_last_closing_balance_closes_the_statement(tmp_path: Path) -> None:
    text = document(
        stmt(
            balance("OPBD", "100.00"),
            balance("CLBD", "120.00"),
            balance("CLBD", "142.50"),
            entry("42.50"),
        )
    )
    read = camt053.parse(write(tmp_path, text))
    assert read.closing_balance is not None and read.closing_balance.amount_minor == 14250
    assert read.findings == []


def test_balance_printed_from_a_float_is_left_out_and_the_statement_unchecked(
    tmp_path: Path,
) -> None:
    text = document(
        stmt(balance("OPBD", "100.0000000000005"), balance("CLBD", "142.50"), entry("42.50"))
    )
    read = camt053.parse(write(tmp_path, text))
    assert (read.row_count, read.opening_balance, read.findings) == (1, None, [])
    assert any("OPBD balance ignored" in note for note in read.notes)


def test_strict_refuses_a_balance_printed_from_a_float(tmp_path: Path) -> None:
    text = document(
        stmt(balance("OPBD", "100.0000000000005"), balance("CLBD", "142.50"), entry("42.50"))
    )
    with pytest.raises(FormatError, match=r"100\.0000000000005"):
        camt053.parse(write(tmp_path, text), strict=True)
