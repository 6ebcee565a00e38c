"""Auto-detection picks the one template whose header signature the file carries."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hisaab.errors import FormatError, TemplateError
from hisaab.ingest import formats
from hisaab.ingest.detect import candidates, detect
from hisaab.ingest.formats import StandardFormat
from hisaab.ingest.records import CANONICAL_COLUMNS, NormalizedFile, empty_table

TEMPLATES_DATA = Path(__file__).parent.parent / "data" / "templates"
STATEMENTS = sorted(p for p in TEMPLATES_DATA.glob("*/*") if not p.name.endswith(".expected.csv"))


@pytest.mark.parametrize("statement", STATEMENTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_golden_statement_is_detected_as_its_own_template(statement: Path) -> None:
    assert detect(statement) == statement.parent.name


def test_header_after_a_long_preamble_is_found(tmp_path: Path) -> None:
    path = tmp_path / "axis.csv"
    preamble = "".join(f"Address line {i} :- 12 MG Road\n" for i in range(40))
    path.write_text(preamble + "Tran Date,CHQNO,PARTICULARS,DR,CR,BAL,SOL\n", encoding="utf-8")
    assert detect(path) == "axis"


def test_utf16_export_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "sbi.xls"
    header = "Txn Date\tValue Date\tDescription\tRef No./Cheque No.\tDebit\tCredit\tBalance\n"
    path.write_bytes(b"\xff\xfe" + header.encode("utf-16-le"))
    assert detect(path) == "sbi"


def test_unrecognised_layout_asks_for_a_template(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text("when,what,how much\n15/01/2024,coffee,120.00\n", encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        detect(path)
    text = caught.value.describe()
    assert text.startswith(f"{path}: could not recognise the layout")
    assert "pass --template NAME with one of" in text
    assert "hdfc" in text and "mpesa-org" in text and "pg-generic" in text


def test_header_matching_two_templates_is_ambiguous(tmp_path: Path) -> None:
    path = tmp_path / "merged.csv"
    path.write_text(
        "Date,Narration,Value Dt,Withdrawal Amt.,Deposit Amt.,"
        "Value Date,Transaction Date,Transaction Remarks\n",
        encoding="utf-8",
    )
    with pytest.raises(TemplateError) as caught:
        detect(path)
    assert caught.value.message == "the layout matches several templates: hdfc, icici"
    assert caught.value.expected == "--template NAME naming the one to use"


def test_canonical_csv_is_detected_by_its_header(tmp_path: Path) -> None:
    path = tmp_path / "records.csv"
    path.write_text(",".join(CANONICAL_COLUMNS) + "\n", encoding="utf-8")
    assert detect(path) == "canonical"


def test_parquet_is_detected_as_canonical(tmp_path: Path) -> None:
    path = tmp_path / "records.parquet"
    pq.write_table(empty_table(), path)
    assert detect(path) == "canonical"


def test_statement_standard_is_detected_by_its_sniffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def parse(path: Path, *, source: str = "bank") -> NormalizedFile:
        raise AssertionError("detection must not parse")

    fake = StandardFormat("fakestd", "a test format", lambda head: head.startswith(b"FAKE1"), parse)
    monkeypatch.setitem(formats.STANDARD_FORMATS, "fakestd", fake)
    path = tmp_path / "statement.sta"
    path.write_bytes(b"FAKE1\n:20:STATEMENT\n")
    assert candidates(path) == ["fakestd"]
    assert detect(path) == "fakestd"


def test_detecting_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="no such file"):
        detect(tmp_path / "nope.csv")


def test_detecting_binary_garbage_says_it_is_binary(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(b"%PDF-1.7\n\x00\x01\x02\xff\xfe binary")
    with pytest.raises(FormatError, match="binary file"):
        detect(path)
