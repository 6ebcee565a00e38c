"""The DuckDB backend: writing several results at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from hisaab.matching.backends.base import Sorted
from hisaab.matching.backends.duckdb import DuckDBBackend


@pytest.fixture
def db() -> Iterator[DuckDBBackend]:
    backend = DuckDBBackend(threads=2)
    backend.execute(
        "CREATE TABLE credits AS SELECT * FROM (VALUES (1, 'b1', 85000), (2, 'b2', 5500))"
        " AS t(line, record_id, amount_minor)"
    )
    yield backend
    backend.close()


def test_copy_many_writes_every_result(db: DuckDBBackend, tmp_path: Path) -> None:
    db.copy_many(
        [
            ("SELECT * FROM credits ORDER BY line", tmp_path / "all.csv"),
            ("SELECT record_id FROM credits WHERE amount_minor > 10000", tmp_path / "big.csv"),
        ],
        "csv",
    )
    assert (tmp_path / "all.csv").read_text().splitlines() == [
        "line,record_id,amount_minor",
        "1,b1,85000",
        "2,b2,5500",
    ]
    assert (tmp_path / "big.csv").read_text().splitlines() == ["record_id", "b1"]


def test_copy_many_raises_what_a_second_query_raised(db: DuckDBBackend, tmp_path: Path) -> None:
    with pytest.raises(duckdb.CatalogException, match="debits"):
        db.copy_many(
            [
                ("SELECT * FROM credits", tmp_path / "credits.csv"),
                ("SELECT * FROM debits", tmp_path / "debits.csv"),
            ],
            "csv",
        )
    # The connection is still usable afterwards.
    assert db.rows("SELECT count(*) FROM credits") == [(2,)]


def test_sorted_csv_is_what_copy_writes(db: DuckDBBackend, tmp_path: Path) -> None:
    # Every kind of value the results hold, and the text COPY has to quote: empty strings,
    # commas, quotes, line breaks, JSON; NULLs of every type.
    db.execute(
        """
        CREATE TABLE odd AS
        SELECT * FROM (VALUES
            (3, 'plain', -1.5::DECIMAL(9, 4), DATE '2024-01-15', true, to_json({'a': 'x,"y"'})),
            (1, '', 0.7742::DECIMAL(9, 4), NULL, false, to_json([1, 2])),
            (2, 'a,b', NULL, DATE '2024-02-29', NULL, NULL),
            (NULL, 'say "hi"', 12::DECIMAL(9, 4), DATE '1999-12-31', true, to_json('')),
            (5, E'two\\nlines', 1::DECIMAL(9, 4), NULL, NULL, NULL),
            (4, E'cr\\rhere', NULL, NULL, NULL, NULL),
            (6, NULL, NULL, NULL, NULL, NULL),
            (7, ' spaced ', NULL, NULL, NULL, NULL),
            (8, 'naïve ₹', NULL, NULL, NULL, NULL)
        ) AS t(n, label, amount, day, flag, doc)
        """
    )
    select = "SELECT n, label, amount, day, flag, doc, n * 2 AS twice FROM odd"
    for order in (("n",), ("n DESC",), ("label", "n"), ("day DESC", "n")):
        query = Sorted(select, order)
        db.copy(query, tmp_path / "fast.csv", "csv")
        db.copy(query.sql, tmp_path / "copy.csv", "csv")
        assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "copy.csv").read_bytes()


def test_sorted_csv_orders_ties_by_their_text(db: DuckDBBackend, tmp_path: Path) -> None:
    db.execute(
        "CREATE TABLE tied AS SELECT * FROM (VALUES (1, 'b'), (1, 'a'), (0, 'c')) AS t(k, v)"
    )
    for _ in range(3):
        db.copy(Sorted("SELECT k, v FROM tied", ("k",)), tmp_path / "tied.csv", "csv")
        assert (tmp_path / "tied.csv").read_text().splitlines() == ["k,v", "0,c", "1,a", "1,b"]


def test_sorted_csv_falls_back_to_copy_for_other_types(db: DuckDBBackend, tmp_path: Path) -> None:
    query = Sorted("SELECT line, [line, line] AS pair, 0.5::DOUBLE AS half FROM credits", ("line",))
    db.copy(query, tmp_path / "fast.csv", "csv")
    db.copy(query.sql, tmp_path / "copy.csv", "csv")
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "copy.csv").read_bytes()
    assert (tmp_path / "fast.csv").read_text().splitlines()[1] == '1,"[1, 1]",0.5'
