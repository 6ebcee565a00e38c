"""Templates load from YAML, and a broken template says which file and which key is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from hisaab.errors import TemplateError
from hisaab.ingest.template import (
    BUILTIN_DIR,
    builtin_names,
    list_templates,
    load_template,
    normalize_header,
    parse_template,
    split_occurrence,
)

MINIMAL = """\
name: acme-bank
description: ACME Bank CSV export
columns:
  value_date: Txn Date
  narration: Particulars
  debit: Debit
  credit: Credit
dates:
  formats: ["%d/%m/%Y"]
amounts:
  style: debit_credit
currency: INR
"""


def write_template(tmp_path: Path, text: str, name: str = "acme.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_built_in_templates_are_the_documented_set() -> None:
    assert builtin_names() == [
        "axis",
        "canonical",
        "hdfc",
        "icici",
        "kotak",
        "mpesa-org",
        "pg-generic",
        "sbi",
    ]


def test_every_built_in_template_validates_and_names_its_file() -> None:
    for template in list_templates():
        assert template.origin == BUILTIN_DIR / f"{template.name}.yaml"
        assert template.description


def test_built_in_sources() -> None:
    sources = {t.name: t.source for t in list_templates()}
    assert sources["hdfc"] == sources["sbi"] == sources["kotak"] == "bank"
    assert sources["pg-generic"] == "pg"
    assert sources["mpesa-org"] == "mpesa"


def test_canonical_template_is_marked_for_the_canonical_reader() -> None:
    template = load_template("canonical")
    assert template.reader == "canonical"
    assert template.signature() == ("record_id", "amount_minor", "currency", "value_date")


def test_hdfc_template_maps_value_date_with_fallback_to_booking_date() -> None:
    hdfc = load_template("hdfc")
    assert hdfc.columns.value_date is not None
    assert hdfc.columns.value_date.names == ("Value Dt", "Value Date", "Date")
    assert hdfc.amounts is not None and hdfc.amounts.style == "debit_credit"
    assert hdfc.currency == "INR"
    assert hdfc.fallback_encodings == ("cp1252",)


def test_bank_templates_get_default_utr_settlement_and_merchant_extractors() -> None:
    extractors = load_template("hdfc").extractors()
    assert extractors["utr"][0].builtin == "utr"
    assert extractors["settlement_id"][0].pattern == r"\b(setl_[A-Za-z0-9]{6,24})\b"
    assert extractors["merchant_id"][0].pattern == r"\bMID[-: ]?([A-Z0-9]{4,20})\b"


def test_non_bank_templates_get_only_their_own_extractors() -> None:
    assert set(load_template("mpesa-org").extractors()) == {"merchant_ref"}
    assert load_template("pg-generic").extractors() == {}


def test_template_can_switch_a_bank_default_off(tmp_path: Path) -> None:
    path = write_template(tmp_path, MINIMAL + "extract:\n  merchant_id: []\n")
    assert set(load_template(path).extractors()) == {"utr", "settlement_id"}


def test_a_template_file_of_your_own_loads_by_path(tmp_path: Path) -> None:
    template = load_template(write_template(tmp_path, MINIMAL))
    assert template.name == "acme-bank"
    assert template.source == "bank"
    assert template.delimiter == "auto"
    assert template.signature() == ("Txn Date", "Particulars", "Debit", "Credit")


def test_tab_delimiter_is_spelled_tab(tmp_path: Path) -> None:
    template = load_template(write_template(tmp_path, MINIMAL + "delimiter: tab\n"))
    assert template.delimiter == "\t"


def test_occurrence_suffix_picks_a_repeated_header() -> None:
    assert split_occurrence("Dr / Cr#2") == ("Dr / Cr", 2)
    assert split_occurrence("Dr / Cr") == ("Dr / Cr", 1)


def test_header_names_compare_without_case_spacing_or_punctuation() -> None:
    assert normalize_header("Withdrawal Amount (INR )") == normalize_header(
        "Withdrawal Amount(INR)"
    )
    assert normalize_header("        Txn Date") == normalize_header("TXN DATE") == "txndate"
    assert normalize_header("\ufeffDate") == "date"


def test_unknown_template_name_lists_the_built_ins() -> None:
    with pytest.raises(TemplateError) as caught:
        load_template("hdfcc")
    assert caught.value.describe() == (
        "unknown template 'hdfcc'. Expected a built-in template name (axis, canonical, hdfc, "
        "icici, kotak, mpesa-org, pg-generic, sbi) or the path of a template .yaml file."
    )


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        (("currency: INR", "currency: RUPEES"), "currency", "'RUPEES' is not an ISO-4217"),
        (("style: debit_credit", "style: both"), "amounts.style", "Input should be"),
        (("  narration: Particulars", "  naration: Particulars"), "columns.naration", "Extra"),
        (('formats: ["%d/%m/%Y"]', "formats: [dd/mm/yyyy]"), "dates.formats", "strptime"),
        (("name: acme-bank", "name: ACME Bank"), "name", "String should match pattern"),
    ],
    ids=["currency", "style", "typo-key", "date-pattern", "name"],
)
def test_invalid_key_is_named_with_the_template_file(
    tmp_path: Path, change: tuple[str, str], key: str, message: str
) -> None:
    path = write_template(tmp_path, MINIMAL.replace(*change))
    with pytest.raises(TemplateError) as caught:
        load_template(path)
    assert caught.value.file == str(path)
    assert f"key {key!r}" in caught.value.message
    assert message in caught.value.message


def test_style_without_its_columns_names_the_missing_key(tmp_path: Path) -> None:
    path = write_template(tmp_path, MINIMAL.replace("  credit: Credit\n", ""))
    with pytest.raises(TemplateError, match=r"columns\.credit: required when amounts\.style is"):
        load_template(path)


def test_bad_regex_names_the_extractor_key(tmp_path: Path) -> None:
    path = write_template(tmp_path, MINIMAL + "extract:\n  utr:\n    - pattern: 'UTR(\\d+'\n")
    with pytest.raises(TemplateError) as caught:
        load_template(path)
    assert "key 'extract.utr.0.pattern'" in caught.value.message
    assert "not a valid regular expression" in caught.value.message


def test_regex_without_a_group_is_rejected(tmp_path: Path) -> None:
    path = write_template(tmp_path, MINIMAL + "extract:\n  utr:\n    - pattern: 'UTR\\d+'\n")
    with pytest.raises(TemplateError, match="needs a capturing group"):
        load_template(path)


def test_extractor_reading_an_unmapped_column_is_rejected(tmp_path: Path) -> None:
    text = MINIMAL + "extract:\n  utr:\n    - builtin: utr\n      from: reference\n"
    with pytest.raises(TemplateError, match=r"extract.utr.0.from: column role 'reference'"):
        load_template(write_template(tmp_path, text))


def test_value_date_cannot_be_optional(tmp_path: Path) -> None:
    path = write_template(tmp_path, MINIMAL + "optional_columns: [value_date]\n")
    with pytest.raises(TemplateError, match="optional_columns: value_date cannot be optional"):
        load_template(path)


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    path = write_template(tmp_path, MINIMAL + "columns: [unclosed\n")
    with pytest.raises(TemplateError) as caught:
        load_template(path)
    assert caught.value.file == str(path)
    assert caught.value.line is not None
    assert "not valid YAML" in caught.value.message


def test_yaml_that_is_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="must be a YAML mapping"):
        parse_template("- just\n- a list\n", tmp_path / "list.yaml")


def test_path_that_is_not_yaml_is_an_unknown_template(tmp_path: Path) -> None:
    path = tmp_path / "template.txt"
    path.write_text(MINIMAL, encoding="utf-8")
    with pytest.raises(TemplateError, match="unknown template"):
        load_template(str(path))
