"""Reading canonical CSV/Parquet files (template `canonical`), vectorised for millions of rows.

The fast path reads with pyarrow's multi-threaded CSV reader straight into the canonical types
(strict: integers, ISO dates) and validates with vectorised compute functions. When anything is
off, the careful path reads every column as text and converts in DuckDB: it accepts lenient
values (signs, padding, lower-case codes) and otherwise names the physical line and column.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from hisaab.errors import FormatError
from hisaab.ingest.records import (
    CANONICAL_COLUMNS,
    CANONICAL_SCHEMA,
    REQUIRED_COLUMNS,
    NormalizedFile,
    conform,
    file_sha256,
    finalize,
)
from hisaab.money import CURRENCY_EXPONENTS

_CURRENCY_CODES = pa.array(sorted(CURRENCY_EXPONENTS))
_MAX_FIELD = 1 << 20  # 1 MiB: larger "fields" are corrupt files, not statements


def read_canonical(
    path: Path,
    *,
    source: str | None = None,
    fingerprints: bool = True,
    columns: Collection[str] | None = None,
) -> NormalizedFile:
    """Read a canonical CSV or Parquet file; `source` fills (or overrides) the `source` column.

    Records keep the provenance they carry (a file written by `hisaab normalize` keeps the
    original statement's file and line); records without it get this file and its line.
    `fingerprints=False` skips computing missing fingerprints (the matcher does not need them);
    `columns` limits the fast path to the canonical columns a caller uses (others are null).
    """
    path = Path(path)
    _check_readable(path)
    # hashlib releases the GIL, so the file is hashed while the readers parse it.
    digest = _Background(file_sha256, path)
    if path.suffix.lower() == ".parquet":
        table = _convert(_read_parquet(path), path, source, first_line=1)
    else:
        header = _csv_header(path)
        fast = _read_csv_fast(path, header, source, columns)
        table = fast if fast is not None else _convert(_read_csv(path, header), path, source, 2)
    if fingerprints:
        table = finalize(table)
    return NormalizedFile(
        table=table, source_file=str(path), file_sha256=digest.result(), template="canonical"
    )


class _Background:
    """A call running in a thread; `result()` waits for it and returns or raises what it did."""

    def __init__(self, fn: Callable[[Path], str], path: Path) -> None:
        self._value = ""
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, path), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[Path], str], path: Path) -> None:
        try:
            self._value = fn(path)
        except BaseException as exc:  # re-raised in the caller's thread by result()
            self._error = exc

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise FormatError("file not found", file=path)
    if path.is_dir():
        raise FormatError("is a directory, not a file", file=path)
    if path.stat().st_size == 0:
        raise FormatError("file is empty", file=path, expected="a header row and records")


_FAST_TYPES = {
    "amount_minor": pa.int64(),
    "fee_minor": pa.int64(),
    "tax_minor": pa.int64(),
    "source_line": pa.int64(),
    "value_date": pa.date32(),
}
_DIRECTIONS = pa.array(["CR", "DR"])


def _read_csv_fast(
    path: Path, header: list[str], source: str | None, wanted: Collection[str] | None
) -> pa.Table | None:
    """Strictly typed read; None when any value needs the careful path."""
    known = [
        c
        for c in header
        if c in CANONICAL_COLUMNS and (wanted is None or c in wanted or c in REQUIRED_COLUMNS)
    ]
    try:
        raw = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=4 << 20),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: _FAST_TYPES.get(c, pa.string()) for c in header},
                include_columns=known,
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    _check_field_sizes(raw, path, first_line=2)
    n = raw.num_rows
    amount = raw.column("amount_minor")
    currency = raw.column("currency")
    direction = raw.column("direction") if "direction" in known else pa.nulls(n, pa.string())
    ok = (
        raw.column("record_id").null_count == 0
        and amount.null_count == 0
        and raw.column("value_date").null_count == 0
        and currency.null_count == 0
        and pc.all(pc.is_in(currency, value_set=_CURRENCY_CODES)).as_py() is not False
        # A missing direction is fine (the amount's sign gives it); is_in fails a null input,
        # so only the given ones are looked up.
        and not pc.any(
            pc.and_(pc.is_valid(direction), pc.invert(pc.is_in(direction, value_set=_DIRECTIONS)))
        ).as_py()
        and not pc.any(pc.and_(pc.is_valid(direction), pc.less(amount, 0))).as_py()
    )
    if not ok:
        return None
    negative = pc.less(amount, 0)
    columns = {name: raw.column(name) for name in known}
    columns["amount_minor"] = pc.abs(amount)
    columns["direction"] = pc.if_else(
        pc.is_valid(direction), direction, pc.if_else(negative, "DR", "CR")
    )

    def wanted_column(name: str) -> bool:
        return wanted is None or name in wanted

    if source is not None and wanted_column("source"):
        columns["source"] = pa.repeat(pa.scalar(source, pa.string()), n)
    line = pc.add(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), n)), 1)
    if wanted_column("source_file"):
        columns["source_file"] = (
            pc.fill_null(raw.column("source_file"), str(path))
            if "source_file" in known
            else pa.repeat(pa.scalar(str(path), pa.string()), n)
        )
    columns["source_line"] = (
        pc.fill_null(raw.column("source_line"), line) if "source_line" in known else line
    )
    # The columns the file lacks share one null array per type: each fresh million-row array
    # costs tens of milliseconds of page faults, and callers drop most of them anyway.
    nulls: dict[pa.DataType, pa.Array] = {}
    for fld in CANONICAL_SCHEMA:
        if fld.name not in columns:
            if fld.type not in nulls:
                nulls[fld.type] = pa.nulls(n, fld.type)
            columns[fld.name] = nulls[fld.type]
    return conform(pa.table(columns))


def _check_field_sizes(raw: pa.Table, path: Path, *, first_line: int) -> None:
    """Refuse fields over 1 MiB: no statement has them; a corrupt or hostile file does."""
    for name in raw.column_names:
        column = raw.column(name)
        if not pa.types.is_string(column.type) or len(column) == 0:
            continue
        lengths = pc.binary_length(column)
        longest = pc.max(lengths).as_py()
        if longest is not None and longest > _MAX_FIELD:
            index = pc.index(pc.greater(lengths, _MAX_FIELD), True).as_py()
            raise FormatError(
                f"a field of {longest:,} bytes",
                file=path,
                line=first_line + index,
                column=name,
                expected="fields under 1 MiB",
            )


def _csv_header(path: Path) -> list[str]:
    with path.open("rb") as fh:
        head = fh.read(65536)
    if b"\x00" in head:
        raise FormatError("binary data, not a CSV file", file=path, line=1)
    first = head.split(b"\n", 1)[0].rstrip(b"\r").removeprefix(b"\xef\xbb\xbf")
    try:
        header = next(csv.reader([first.decode("utf-8")]))
    except (UnicodeDecodeError, StopIteration):
        raise FormatError(
            "the header row is not UTF-8 text", file=path, line=1, expected="a UTF-8 CSV header"
        ) from None
    header = [h.strip() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise FormatError(
            f"missing required column(s) {', '.join(missing)}; the header has {', '.join(header)}",
            file=path,
            line=1,
            expected=f"a canonical header with at least {', '.join(REQUIRED_COLUMNS)}",
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise FormatError(f"duplicate column(s) {', '.join(dupes)}", file=path, line=1)
    return header


def _read_csv(path: Path, header: list[str]) -> pa.Table:
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=4 << 20),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise _locate_csv_problem(path, header, str(exc)) from None


def _locate_csv_problem(path: Path, header: list[str], arrow_message: str) -> FormatError:
    """Slow path after the fast reader failed: find the first bad physical line."""
    csv.field_size_limit(_MAX_FIELD)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            for row in reader:
                if len(row) != len(header):
                    return FormatError(
                        f"row has {len(row)} fields but the header has {len(header)}",
                        file=path,
                        line=reader.line_num,
                        expected="one value per header column",
                    )
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        return FormatError(
            f"bytes that are not UTF-8 text at byte {exc.start}",
            file=path,
            line=line,
            expected="UTF-8 text",
        )
    except csv.Error as exc:
        return FormatError(f"unreadable CSV ({exc})", file=path, expected="fields under 1 MiB")
    return FormatError(f"unreadable CSV: {arrow_message.splitlines()[0]}", file=path)


def _read_parquet(path: Path) -> pa.Table:
    import pyarrow.parquet as pq  # here, not at the top: CSV-only runs start faster

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        raise FormatError(f"not a readable Parquet file ({exc})", file=path) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise FormatError(f"missing required column(s) {', '.join(missing)}", file=path)
    return pa.table({name: table.column(name).cast(pa.string()) for name in table.column_names})


def _convert(raw: pa.Table, path: Path, source: str | None, first_line: int) -> pa.Table:
    """Cast text columns to the canonical types in DuckDB; name the first bad value if any."""
    present = [c for c in CANONICAL_COLUMNS if c in raw.column_names]
    raw = raw.select(present)
    _check_field_sizes(raw, path, first_line=first_line)
    raw = raw.append_column("__line", pa.array(range(first_line, first_line + raw.num_rows)))
    currencies = pa.table({"code": pa.array(sorted(CURRENCY_EXPONENTS))})
    con = duckdb.connect()
    try:
        con.register("raw", raw)
        con.register("currencies", currencies)
        col = {c: (f"trim({c})" if c in present else "NULL") for c in CANONICAL_COLUMNS}

        def not_int(name: str) -> str:
            return f"NOT regexp_full_match({col[name]}, '[+-]?[0-9]{{1,18}}')"

        amount = f"TRY_CAST({col['amount_minor']} AS BIGINT)"
        direction = f"upper({col['direction']})"
        checks = {
            "record_id": f"{col['record_id']} IS NULL",
            "amount_minor": f"{col['amount_minor']} IS NULL OR {not_int('amount_minor')}",
            "currency": f"upper({col['currency']}) NOT IN (SELECT code FROM currencies)"
            f" OR {col['currency']} IS NULL",
            "value_date": f"TRY_STRPTIME({col['value_date']}, '%Y-%m-%d') IS NULL",
            "direction": f"{col['direction']} IS NOT NULL AND {direction} NOT IN"
            " ('CR','DR','C','D','CREDIT','DEBIT')",
            "signed_amount": f"{col['direction']} IS NOT NULL AND {amount} < 0",
            "fee_minor": f"{col['fee_minor']} IS NOT NULL AND {not_int('fee_minor')}",
            "tax_minor": f"{col['tax_minor']} IS NOT NULL AND {not_int('tax_minor')}",
            "source_line": f"{col['source_line']} IS NOT NULL AND {not_int('source_line')}",
        }
        flags = ", ".join(f"({cond}) AS {name}" for name, cond in checks.items())
        bad = " OR ".join(f"({c})" for c in checks.values())
        first_bad = con.sql(
            f"SELECT __line, {flags} FROM raw WHERE {bad} ORDER BY __line LIMIT 1"
        ).fetchall()
        if first_bad:
            line, *failed = first_bad[0]
            check = next(name for name, hit in zip(checks, failed, strict=True) if hit)
            column = "amount_minor" if check == "signed_amount" else check
            value = con.sql(f"SELECT {col[column]} FROM raw WHERE __line = {int(line)}").fetchall()
            raise _bad_value(path, int(line), check, value[0][0] if value else None)
        src = "?" if source is not None else (col["source"] if "source" in present else "NULL")
        params: list[Any] = [source] if source is not None else []
        sql = f"""
            SELECT {col["record_id"]} AS record_id,
                   {src} AS source,
                   abs({amount}) AS amount_minor,
                   upper({col["currency"]}) AS currency,
                   CASE WHEN {direction} IN ('DR','D','DEBIT') OR {amount} < 0 THEN 'DR'
                        ELSE 'CR' END AS direction,
                   CAST(STRPTIME({col["value_date"]}, '%Y-%m-%d') AS DATE) AS value_date,
                   {col["booked_at"]} AS booked_at,
                   {col["utr"]} AS utr,
                   {col["merchant_ref"]} AS merchant_ref,
                   {col["settlement_id"]} AS settlement_id,
                   CAST({col["fee_minor"]} AS BIGINT) AS fee_minor,
                   CAST({col["tax_minor"]} AS BIGINT) AS tax_minor,
                   {col["narration"]} AS narration,
                   coalesce({col["source_file"]}, ?) AS source_file,
                   coalesce(CAST({col["source_line"]} AS BIGINT), __line) AS source_line,
                   {col["fingerprint"]} AS fingerprint,
                   {col["merchant_id"]} AS merchant_id,
                   {col["settlement_utr"]} AS settlement_utr
            FROM raw
        """
        table = con.sql(sql, params=[*params, str(path)]).to_arrow_table()
    finally:
        con.close()
    return conform(table)


_EXPECTED = {
    "record_id": "a non-empty record id",
    "amount_minor": "an integer number of minor units such as 105300 (no decimal point)",
    "currency": "an ISO-4217 currency code such as INR",
    "value_date": "a date as YYYY-MM-DD",
    "direction": "CR or DR",
    "signed_amount": "a non-negative amount_minor when a direction is given"
    " (or a signed amount and no direction)",
    "fee_minor": "an integer number of minor units or nothing",
    "tax_minor": "an integer number of minor units or nothing",
    "source_line": "a line number or nothing",
}


def _bad_value(path: Path, line: int, check: str, value: object) -> FormatError:
    column = "amount_minor" if check == "signed_amount" else check
    what = f"value {value!r} is not valid" if value is not None else "value is missing"
    return FormatError(what, file=path, line=line, column=column, expected=_EXPECTED[check])
