"""SQL building blocks shared by the repositories that run at callback rate.

`one_of(column, values, session)` is `column IN (values)`. On PostgreSQL it is rendered as
`column = ANY(:array)`, one array parameter: the statement text is then the same for any
number of values, so psycopg parses it once and PostgreSQL prepares it once, where an IN
list is new text for every length (parsed by psycopg and planned by PostgreSQL each time;
py-spy put that at a tenth of a worker's time reconciling batches of callbacks).
`one_of_param` is the same with a named parameter, for statements built once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Dialect, String, TypeDecorator, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session


def on_postgres(session: Session) -> bool:
    """Whether `session` works on PostgreSQL (else SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


def one_of(
    column: ColumnElement[Any], values: Sequence[Any], session: Session
) -> ColumnElement[bool]:
    """`column IN values`, as one array parameter on PostgreSQL."""
    if on_postgres(session):
        return column == any_(_array(column, None, list(values)))
    return column.in_(list(values))


def one_of_param(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """`column IN :name`, for statements built once per dialect and run many times: the list
    is passed at execution as parameter `name`. Building a statement costs more than running
    it on the callback path.

    PostgreSQL gets an array; SQLite one JSON text read by `json_each` (an expanding IN list
    is rendered anew at each execution, and was a tenth of the embedded API's time in py-spy;
    SQLite still searches the column's index for each value)."""
    if dialect == "postgresql":
        return column == any_(_array(column, name, None))
    listed = func.json_each(bindparam(name, type_=_JsonList())).table_valued("value")
    return column.in_(select(listed.c.value))


class _JsonList(TypeDecorator[Sequence[Any]]):
    """A list parameter sent as one JSON array text."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Sequence[Any] | None, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(list(value), separators=(",", ":"))


def _array(column: ColumnElement[Any], name: str | None, value: Any) -> Any:
    return bindparam(name, value, type_=postgresql.ARRAY(column.type))
