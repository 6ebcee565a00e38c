"""Loading many rows in the caller's transaction: COPY on PostgreSQL, executemany on SQLite.

On PostgreSQL with COPY through the session's own psycopg connection (Arrow writes the CSV in
C, PostgreSQL parses it); on SQLite with `executemany` of plain tuples in batches. Neither
adds ORM objects row by row. Used for a job's results and payments and for ledger lines.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Table
from sqlalchemy.orm import Session

from hisaab.storage.sql import on_postgres

LOAD_BATCH_ROWS = 50_000


def bulk_load(
    session: Session, target: Table, table: pa.Table, constants: Mapping[str, Any]
) -> int:
    if table.num_rows == 0:
        return 0
    if on_postgres(session):
        _copy_postgresql(session, target, table, constants)
    else:
        _executemany_sqlite(session, target, table, constants)
    return int(table.num_rows)


def _copy_postgresql(
    session: Session, target: Table, table: pa.Table, constants: Mapping[str, Any]
) -> None:
    """COPY ... FROM STDIN (FORMAT csv) on the session's connection: same transaction.

    Arrow quotes every string and leaves nulls bare, which is exactly how PostgreSQL's CSV
    format tells an empty string from NULL. Constants (job id, status, timestamps) become
    columns of the CSV, so PostgreSQL applies its own types to them.
    """
    n = table.num_rows
    for name, value in constants.items():
        text = value.isoformat() if isinstance(value, dt.datetime) else value
        table = table.append_column(name, pa.repeat(pa.scalar(text), n))
    # The table and column names come from our models, never from data.
    statement = f"COPY {target.name} ({', '.join(table.column_names)}) FROM STDIN (FORMAT csv)"
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    driver = session.connection().connection.driver_connection
    assert driver is not None  # a live connection of the session's transaction
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for batch in table.to_batches(max_chunksize=LOAD_BATCH_ROWS):
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, options)
            copy.write(buffer.getbuffer())


def _executemany_sqlite(
    session: Session, target: Table, table: pa.Table, constants: Mapping[str, Any]
) -> None:
    """One `executemany` of plain tuples per batch, in the values SQLAlchemy would bind.

    Constants go through their column type's own bind processor (timestamps become
    SQLAlchemy's SQLite text format); Arrow casts the columns the way SQLite stores them
    (decimals as REAL, dates as ISO text). About three times the speed of a Core
    `insert()` with dictionaries, which processes every value of every row in Python.
    """
    dialect = session.get_bind().dialect
    tail = []
    for name, value in constants.items():
        process = target.c[name].type.bind_processor(dialect)
        tail.append(process(value) if process is not None else value)
    for i, column in enumerate(table.schema):
        if pa.types.is_decimal(column.type):
            table = table.set_column(i, column.name, table.column(i).cast(pa.float64()))
        elif pa.types.is_date(column.type):
            table = table.set_column(i, column.name, table.column(i).cast(pa.string()))
    names = [*table.column_names, *constants]
    statement = (
        f"INSERT INTO {target.name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
    )
    connection = session.connection()
    for batch in table.to_batches(max_chunksize=LOAD_BATCH_ROWS):
        columns = [column.to_pylist() for column in batch.columns]
        connection.exec_driver_sql(statement, [(*row, *tail) for row in zip(*columns, strict=True)])
