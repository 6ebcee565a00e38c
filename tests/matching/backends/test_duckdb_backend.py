"""The DuckDB backend: writing several results at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

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
