"""`normalize()` dispatches to detection, templates, the canonical reader and the standards."""

from __future__ import annotations

from pathlib import Path

import pytest

from hisaab.errors import FormatError, TemplateError
from hisaab.ingest import canonical, formats
from hisaab.ingest import normalize as normalize_module
from hisaab.ingest.formats import StandardFormat
from hisaab.ingest.normalize import list_templates, load_template, normalize
from hisaab.ingest.records import NormalizedFile, empty_table

TEMPLATES_DATA = Path(__file__).parent.parent / "data" / "templates"
HDFC = TEMPLATES_DATA / "hdfc" / "simulator_preamble_trailer.csv"


def fake_result(path: Path, template: str) -> NormalizedFile:
    return NormalizedFile(empty_table(), str(path), "0" * 64, template)


def test_detected_hdfc_statement_is_read_with_the_hdfc_template() -> None:
    result = normalize(HDFC)
    assert result.template == "hdfc"
    assert result.row_count == 7
    assert result.source_file == str(HDFC)
    assert len(result.file_sha256) == 64


def test_named_template_is_used_without_detection() -> None:
    result = normalize(TEMPLATES_DATA / "icici" / "pipe_iso_dates.txt", template="icici")
    assert result.template == "icici"
    assert result.table.column("amount_minor").to_pylist() == [2_500_000, 11_000_000]


def test_source_override_reaches_every_record() -> None:
    result = normalize(HDFC, template="hdfc", source="bank-hdfc")
    assert set(result.table.column("source").to_pylist()) == {"bank-hdfc"}


def test_canonical_goes_to_the_canonical_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Path, str | None]] = []

    def read_canonical(path: Path, *, source: str | None = None) -> NormalizedFile:
        calls.append((path, source))
        return fake_result(path, "canonical")

    monkeypatch.setattr(canonical, "read_canonical", read_canonical)
    path = tmp_path / "records.csv"
    path.write_text("record_id,amount_minor,currency,value_date\n", encoding="utf-8")
    assert normalize(path, template="canonical", source="pg").template == "canonical"
    assert normalize(path).template == "canonical"  # detected from the header
    assert calls == [(path, "pg"), (path, None)]


def test_statement_standard_is_looked_up_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Path, str]] = []

    def parse(path: Path, *, source: str = "bank", strict: bool = False) -> NormalizedFile:
        calls.append((path, source))
        return fake_result(path, "fakestd")

    fake = StandardFormat("fakestd", "a test format", lambda head: head.startswith(b"FAKE1"), parse)
    monkeypatch.setitem(formats.STANDARD_FORMATS, "fakestd", fake)
    path = tmp_path / "statement.sta"
    path.write_bytes(b"FAKE1\n")
    assert normalize(path, template="fakestd", source="bank-yes").template == "fakestd"
    assert normalize(path).template == "fakestd"
    assert calls == [(path, "bank-yes"), (path, "bank")]


def test_template_given_as_a_yaml_path(tmp_path: Path) -> None:
    template = tmp_path / "acme.yaml"
    template.write_text(
        "name: acme\ndescription: ACME Bank\ncolumns:\n  value_date: Txn Date\n"
        "  narration: Particulars\n  amount: Amount\ndates:\n  formats: ['%Y%m%d']\n"
        "amounts:\n  style: signed\ncurrency: USD\ndelimiter: ';'\n",
        encoding="utf-8",
    )
    statement = tmp_path / "acme.csv"
    statement.write_text(
        "Txn Date;Particulars;Amount\n20240115;WIRE IN ACME;1,250.00\n20240116;FEE;-5.00\n",
        encoding="utf-8",
    )
    result = normalize(statement, template=str(template))
    assert result.template == "acme"
    rows = result.table.to_pylist()
    assert [(r["amount_minor"], r["direction"], r["currency"]) for r in rows] == [
        (125_000, "CR", "USD"),
        (500, "DR", "USD"),
    ]


COOP_TEMPLATE = """\
name: coop-bank
description: Co-op Bank statement export (semicolons, decimal commas, Dr/Cr marker)
delimiter: ";"
columns:
  booked_at: Booking Date
  value_date: [Value Date, Booking Date]
  narration: Text
  amount: Amount
  marker: Dr/Cr
  balance: Balance
optional_columns: [balance]
dates:
  formats: ["%d.%m.%Y"]
amounts:
  style: marker
  decimal_separator: ","
currency: INR
extract:
  utr:
    - builtin: utr
    - pattern: '\\bREF ([A-Z]{4}[A-Z0-9]{12,18})\\b'
"""


def test_documented_coop_bank_example_reads_decimal_commas_and_markers(tmp_path: Path) -> None:
    template = tmp_path / "coop-bank.yaml"
    template.write_text(COOP_TEMPLATE, encoding="utf-8")
    statement = tmp_path / "coop.csv"
    statement.write_text(
        "Co-op Bank Ltd;Statement 01.01.2024 - 31.01.2024\nAccount;0012345678\n\n"
        "Booking Date;Value Date;Text;Reference;Amount;Dr/Cr;Balance\n"
        "15.01.2024;15.01.2024;UPI/P2M/412345678999/PRIYA NAIR/HDFC BANK/UPI;;850,00;CR;"
        "1.00.850,00\n"
        "16.01.2024;16.01.2024;SWEEP REF HDFCN52024011600000001;;1.00.000,00;DR;850,00\n",
        encoding="utf-8",
    )
    result = normalize(statement, template=str(template))
    rows = result.table.to_pylist()
    assert [(r["amount_minor"], r["direction"], r["utr"]) for r in rows] == [
        (85_000, "CR", "412345678999"),
        (10_000_000, "DR", "HDFCN52024011600000001"),  # found by the template's own regex
    ]
    assert [r["source_line"] for r in rows] == [5, 6]
    assert result.notes == []


def test_unknown_template_name_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="unknown template 'barclays'"):
        normalize(HDFC, template="barclays")


def test_missing_file_is_reported_before_anything_else(tmp_path: Path) -> None:
    with pytest.raises(FormatError) as caught:
        normalize(tmp_path / "missing.csv", template="hdfc")
    assert caught.value.describe() == (
        f"{tmp_path / 'missing.csv'}: no such file. Expected the path of a statement file."
    )


def test_directory_is_not_a_statement(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="is a directory"):
        normalize(tmp_path)


def test_template_registry_is_reexported_for_callers() -> None:
    assert normalize_module.list_templates is list_templates
    assert load_template("sbi").name == "sbi"
    assert "pg-generic" in [t.name for t in list_templates()]
