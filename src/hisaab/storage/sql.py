"""SQL building blocks shared by the repositories that run at callback rate.

`one_of(column, values, session)` is `column IN (values)`. On PostgreSQL it is rendered as
`column = ANY(:array)`, one array parameter: the statement text is then the same for any
number of values, so psycopg parses it once and PostgreSQL prepares it once, where an IN
list is new text for every length (parsed by psycopg and planned by PostgreSQL each time;
py-spy put that at a tenth of a worker's time reconciling batches of callbacks).
`one_of_param` is the same with a named parameter, for statements built once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
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
    is passed at execution as parameter `name` (an array on PostgreSQL, an expanding list on
    SQLite). Building a statement costs more than running it on the callback path."""
    if dialect == "postgresql":
        return column == any_(_array(column, name, None))
    return column.in_(bindparam(name, expanding=True))


def _array(column: ColumnElement[Any], name: str | None, value: Any) -> Any:
    return bindparam(name, value, type_=postgresql.ARRAY(column.type))
