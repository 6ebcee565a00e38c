"""DuckDB backend: an in-process connection with bounded memory and threads."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from hisaab.matching.backends.base import OutputFormat, Query, Sorted, sql_of


def memory_for(input_bytes: int) -> str:
    """A memory limit for inputs of this size: 4x their Arrow size, 1 GiB to 60% of RAM.

    Below the limit DuckDB works in memory; above it, it spills to disk and slows down (10M +
    10M rows took 40 s at 1 GiB and 27 s at 7 GiB on the 2-core benchmark machine).
    """
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        ram = 4 << 30
    limit = min(max(4 * input_bytes, 1 << 30), int(ram * 0.6))
    return f"{limit >> 20}MB"


class DuckDBBackend:
    name = "duckdb"

    def __init__(self, *, memory_limit: str | None = None, threads: int | None = None) -> None:
        memory_limit = os.environ.get("HISAAB_ENGINE_MEMORY") or memory_limit or "1GB"
        # Spill files go to a private temporary directory, never the caller's working directory.
        self.spill_dir = tempfile.mkdtemp(prefix="hisaab-duckdb-")
        self.con = duckdb.connect(
            config={"memory_limit": memory_limit, "temp_directory": self.spill_dir}
        )
        self.con.execute(f"SET threads = {int(threads or os.cpu_count() or 2)}")
        self.con.execute("SET preserve_insertion_order = false")

    def register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql, list(params))

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        return self.con.sql(sql, params=list(params) or None).to_arrow_table()

    def copy(self, query: Query, path: Path, fmt: OutputFormat) -> None:
        _copy(self.con, query, path, fmt)

    def copy_many(self, jobs: Sequence[tuple[Query, Path]], fmt: OutputFormat) -> None:
        # A sort or a writer's flush leaves a core idle; a second query on its own connection
        # (same database) fills it: the smaller results are written while the largest is.
        errors: list[BaseException] = []
        threads = []
        for query, path in jobs[1:]:
            cursor = self.con.cursor()
            thread = threading.Thread(target=_copy_closing, args=(cursor, query, path, fmt, errors))
            thread.start()
            threads.append(thread)
        try:
            for query, path in jobs[:1]:
                _copy(self.con, query, path, fmt)
        finally:
            for thread in threads:
                thread.join()
        if errors:
            raise errors[0]

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.spill_dir, ignore_errors=True)


def _copy(con: duckdb.DuckDBPyConnection, query: Query, path: Path, fmt: OutputFormat) -> None:
    if fmt == "csv" and isinstance(query, Sorted) and _write_csv_sorted(con, query, path):
        return
    options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet"
    target = str(path).replace("'", "''")
    con.execute(f"COPY ({sql_of(query)}) TO '{target}' ({options})")


# Types whose text never needs quotes in a CSV file; VARCHAR (and JSON) is quoted as needed.
_PLAIN_TYPES = frozenset(
    {"bigint", "integer", "smallint", "tinyint", "hugeint", "ubigint", "uinteger", "usmallint"}
    | {"utinyint", "uhugeint", "decimal", "date", "boolean"}
)
_SLICE = 1 << 16


def _needs_quotes(text: str) -> bool:
    return text == "" or any(c in text for c in ',"\n\r')


def _write_csv_sorted(con: duckdb.DuckDBPyConnection, query: Sorted, path: Path) -> bool:
    """Write a sorted result as COPY ... (FORMAT csv, HEADER) would, byte for byte, faster.

    Each row's line is built in SQL (in parallel, with COPY's quoting: a value is quoted when
    it is empty or holds a comma, quote or line break, and quotes inside are doubled; NULL is
    nothing), the lines are sorted in Arrow by the keys alone and written as they are. COPY
    instead sorts every column of every row and then formats them, on one thread. Returns
    False, having written nothing, for a result with other types or an odd header.
    """
    relation = con.sql(query.select)
    names, kinds = relation.columns, [t.id for t in relation.types]
    if any(k not in _PLAIN_TYPES and k != "varchar" for k in kinds) or any(
        _needs_quotes(n) or '"' in n for n in names
    ):
        return False
    keys = []
    for item in query.order_by:
        name, _, direction = item.partition(" ")
        if name not in names or direction.strip().upper() not in ("", "ASC", "DESC"):
            return False
        keys.append((name, "descending" if direction.strip().upper() == "DESC" else "ascending"))
    fields = []
    for name, kind in zip(names, kinds, strict=True):
        value = f'CAST("{name}" AS VARCHAR)'
        if kind == "varchar":
            special = " OR ".join(
                f"contains({value}, {c})" for c in ("','", "'\"'", "chr(10)", "chr(13)")
            )
            value = (
                f"CASE WHEN {value} = '' OR {special}"
                f" THEN '\"' || replace({value}, '\"', '\"\"') || '\"' ELSE {value} END"
            )
        fields.append(value)
    line = "concat(" + ", ',', ".join(fields) + ", chr(10))"
    key_columns = ", ".join(f'"{name}" AS __k{i}' for i, (name, _) in enumerate(keys))
    table = con.sql(
        f"SELECT {key_columns}, {line} AS __line FROM ({query.select})"
    ).to_arrow_table()
    # Ties (equal keys) are ordered by the line itself, so the file is the same on every run.
    order = [(f"__k{i}", how, "at_end") for i, (_, how) in enumerate(keys)]
    indices = pc.sort_indices(table, sort_keys=[*order, ("__line", "ascending", "at_end")])
    lines = table.column("__line")
    del table
    lines = lines.combine_chunks() if lines.num_chunks != 1 else lines.chunk(0)
    with path.open("wb") as out:
        out.write((",".join(names) + "\n").encode())
        for start in range(0, len(indices), _SLICE):
            part = lines.take(indices.slice(start, _SLICE))
            offsets = memoryview(part.buffers()[1]).cast(
                "q" if pa.types.is_large_string(part.type) else "i"
            )
            first, last = offsets[part.offset], offsets[part.offset + len(part)]
            out.write(memoryview(part.buffers()[2])[first:last])
    return True


def _copy_closing(
    con: duckdb.DuckDBPyConnection,
    query: Query,
    path: Path,
    fmt: OutputFormat,
    errors: list[BaseException],
) -> None:
    try:
        _copy(con, query, path, fmt)
    except BaseException as exc:  # raised again by copy_many, in the caller's thread
        errors.append(exc)
    finally:
        con.close()
