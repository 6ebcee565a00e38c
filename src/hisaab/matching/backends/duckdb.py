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

from hisaab.matching.backends.base import OutputFormat


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

    def copy(self, sql: str, path: Path, fmt: OutputFormat) -> None:
        _copy(self.con, sql, path, fmt)

    def copy_many(self, jobs: Sequence[tuple[str, Path]], fmt: OutputFormat) -> None:
        # A sort or a writer's flush leaves a core idle; a second query on its own connection
        # (same database) fills it: the smaller results are written while the largest is.
        errors: list[BaseException] = []
        threads = []
        for sql, path in jobs[1:]:
            cursor = self.con.cursor()
            thread = threading.Thread(target=_copy_closing, args=(cursor, sql, path, fmt, errors))
            thread.start()
            threads.append(thread)
        try:
            for sql, path in jobs[:1]:
                _copy(self.con, sql, path, fmt)
        finally:
            for thread in threads:
                thread.join()
        if errors:
            raise errors[0]

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.spill_dir, ignore_errors=True)


def _copy(con: duckdb.DuckDBPyConnection, sql: str, path: Path, fmt: OutputFormat) -> None:
    options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet"
    target = str(path).replace("'", "''")
    con.execute(f"COPY ({sql}) TO '{target}' ({options})")


def _copy_closing(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    path: Path,
    fmt: OutputFormat,
    errors: list[BaseException],
) -> None:
    try:
        _copy(con, sql, path, fmt)
    except BaseException as exc:  # raised again by copy_many, in the caller's thread
        errors.append(exc)
    finally:
        con.close()
