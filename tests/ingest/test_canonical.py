"""Canonical files: the fast path, provenance, and a clear error for each bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hisaab.errors import FormatError
from hisaab.ingest.canonical import read_canonical

HEADER = "record_id,amount_minor,currency,value_date,utr,direction"


def write(tmp_path: Path, text: str, name: str = "pg.csv", newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def test_reads_a_minimal_canonical_file_with_provenance(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\npay_1,105300,INR,2024-01-15,012345678901,CR\n")
    records = read_canonical(path, source="pg").table.to_pylist()
    assert records[0] | {"fingerprint": None} == {
        "record_id": "pay_1",
        "source": "pg",
        "amount_minor": 105_300,
        "currency": "INR",
        "direction": "CR",
        "value_date": dt.date(2024, 1, 15),
        "booked_at": None,
        "utr": "012345678901",
        "merchant_ref": None,
        "settlement_id": None,
        "fee_minor": None,
        "tax_minor": None,
        "narration": None,
        "source_file": str(path),
        "source_line": 2,
        "fingerprint": None,
        "merchant_id": None,
        "settlement_utr": None,
    }


def test_utr_keeps_its_leading_zero(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\npay_1,100,INR,2024-01-15,012345678901,\n")
    assert read_canonical(path).table.column("utr").to_pylist() == ["012345678901"]


def test_signed_amount_without_direction_gives_the_direction(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\nr1,-5000,INR,2024-01-15,,\nr2,5000,INR,2024-01-15,,\n")
    table = read_canonical(path).table
    assert table.column("amount_minor").to_pylist() == [5000, 5000]
    assert table.column("direction").to_pylist() == ["DR", "CR"]


@pytest.mark.parametrize(
    "text",
    [
        # No direction column, or no direction on some lines: the sign gives it.
        "record_id,amount_minor,currency,value_date,utr\nr1,-5000,INR,2024-01-15,u1\n",
        f"{HEADER}\nr1,5000,INR,2024-01-15,u1,\nr2,-7,INR,2024-01-15,,\n",
        # Every value quoted, empty ones as "", a booked_at date-time, Windows line ends.
        "record_id,amount_minor,currency,direction,value_date,booked_at,utr,fee_minor\r\n"
        '"r1","5000","INR","","2024-01-15","2024-01-15 10:37:11","",""\r\n'
        '"r2","700","INR","CR","2024-01-16","","u2","3"\r\n',
    ],
)
def test_plain_files_take_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    def careful(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("read on the careful path")

    monkeypatch.setattr("hisaab.ingest.canonical._convert", careful)
    table = read_canonical(write(tmp_path, text)).table
    assert table.column("direction").to_pylist()[0] in ("CR", "DR")
    assert table.column("amount_minor").to_pylist()[0] == 5000


def test_lenient_values_are_accepted_on_the_careful_path(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\nr1, +5000 ,inr,2024-01-15,,dr\n")
    row = read_canonical(path).table.to_pylist()[0]
    assert (row["amount_minor"], row["currency"], row["direction"]) == (5000, "INR", "DR")


def test_bom_and_crlf_are_read(tmp_path: Path) -> None:
    path = tmp_path / "bank.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{HEADER}\r\nb1,100,INR,2024-01-15,,CR\r\n".encode())
    table = read_canonical(path).table
    assert table.column("record_id").to_pylist() == ["b1"]
    assert table.column("direction").to_pylist() == ["CR"]


def test_normalized_file_keeps_the_original_statement_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "record_id,amount_minor,currency,value_date,source_file,source_line\n"
        "b1,100,INR,2024-01-15,hdfc_jan.csv,23\n",
    )
    row = read_canonical(path).table.to_pylist()[0]
    assert (row["source_file"], row["source_line"]) == ("hdfc_jan.csv", 23)


def test_identical_rows_get_different_fingerprints_and_reimport_the_same(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "record_id,amount_minor,currency,value_date\nr1,100,INR,2024-01-15\n"
        "r1,100,INR,2024-01-15\n",
    )
    first = read_canonical(path).table.column("fingerprint").to_pylist()
    again = read_canonical(path).table.column("fingerprint").to_pylist()
    assert first[0] != first[1]
    assert first == again


def test_parquet_input(tmp_path: Path) -> None:
    path = tmp_path / "pg.parquet"
    pq.write_table(
        pa.table(
            {
                "record_id": ["p1"],
                "amount_minor": [250],
                "currency": ["KES"],
                "value_date": ["2024-01-15"],
            }
        ),
        path,
    )
    row = read_canonical(path).table.to_pylist()[0]
    assert (row["amount_minor"], row["currency"], row["source_line"]) == (250, "KES", 1)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("r1,10.50,INR,2024-01-15,,", "line 2, column 'amount_minor': value '10.50'"),
        ("r1,abc,INR,2024-01-15,,", "line 2, column 'amount_minor'"),
        ("r1,100,XXX,2024-01-15,,", "column 'currency': value 'XXX'"),
        ("r1,100,INR,2024-02-30,,", "column 'value_date': value '2024-02-30'"),
        ("r1,100,INR,15/01/2024,,", "Expected a date as YYYY-MM-DD"),
        ("r1,100,INR,2024-01-15,,SIDEWAYS", "column 'direction'"),
        ("r1,-100,INR,2024-01-15,,CR", "non-negative amount_minor"),
        (",100,INR,2024-01-15,,", "column 'record_id': value is missing"),
        ("r1,100,INR,2024-01-15,,,extra", "row has 7 fields but the header has 6"),
    ],
)
def test_bad_values_are_named_by_line_and_column(tmp_path: Path, body: str, fragment: str) -> None:
    path = write(tmp_path, f"{HEADER}\nr0,1,INR,2024-01-15,,\n{body}\n".replace("line 2", "x"))
    with pytest.raises(FormatError) as info:
        read_canonical(path)
    assert fragment.replace("line 2", "line 3") in info.value.describe()


def test_missing_required_columns_are_listed(tmp_path: Path) -> None:
    path = write(tmp_path, "record_id,amount_minor,value_date\nr1,1,2024-01-15\n")
    with pytest.raises(FormatError, match="missing required column"):
        read_canonical(path)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"", "file is empty"), (b"\x00\x01\x02garbage", "binary data"), (b"\xff\xfe\x00x", "binary")],
)
def test_unreadable_files(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=fragment):
        read_canonical(path)


def test_invalid_utf8_in_the_body_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(
        f"{HEADER}\nr1,1,INR,2024-01-15,,\nr2,1,INR,2024-01-15,\xff\xfe,\n".encode("latin-1")
    )
    with pytest.raises(FormatError) as info:
        read_canonical(path)
    assert "line 3" in info.value.describe()


def test_huge_field_is_refused_clearly(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\nr1,1,INR,2024-01-15,{'9' * (6 << 20)},\n")
    with pytest.raises(FormatError) as info:
        read_canonical(path)
    assert "line 2, column 'utr': a field of 6,291,456 bytes" in info.value.describe()


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="file not found"):
        read_canonical(tmp_path / "nope.csv")
    with pytest.raises(FormatError, match="is a directory"):
        read_canonical(tmp_path)
