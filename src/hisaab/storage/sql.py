"""SQL building blocks shared by the repositories that run at callback rate.

`one_of(column, values, session)` is `column IN (values)`. On PostgreSQL it is rendered as
`column = ANY(:array)`, one array parameter: the statement text is then the same for any
number of values, so psycopg parses it once and PostgreSQL prepares it once, where an IN
list is new text for every length (parsed by psycopg and planned by PostgreSQL each time;
py-spy put that at a tenth of a worker's time reconciling batches of callbacks).
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
        array = bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == any_(array)
    return column.in_(list(values))
