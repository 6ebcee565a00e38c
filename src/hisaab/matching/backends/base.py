"""The execution interface the engine needs from a SQL backend (seven methods and a close)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import pyarrow as pa

OutputFormat = Literal["csv", "parquet"]


@dataclass(frozen=True)
class Sorted:
    """A query whose rows are wanted in the order of `order_by`: output column names, each
    optionally followed by DESC (NULLs last either way).

    A backend may sort the way it finds fastest; `sql` is the plain statement.
    """

    select: str
    order_by: tuple[str, ...]

    @property
    def sql(self) -> str:
        return f"SELECT * FROM ({self.select}) ORDER BY {', '.join(self.order_by)}"


Query = str | Sorted


def sql_of(query: Query) -> str:
    return query.sql if isinstance(query, Sorted) else query


class Backend(Protocol):
    name: str

    def register(self, name: str, table: pa.Table) -> None:
        """Expose an Arrow table as a relation called `name` (no copy where possible)."""

    def unregister(self, name: str) -> None:
        """Forget a registered Arrow table (its memory can be freed once nobody else holds it)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run a statement that returns nothing (DDL, INSERT, DELETE)."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query and return its rows (for small results only)."""

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run a query and return the whole result as an Arrow table."""

    def copy(self, query: Query, path: Path, fmt: OutputFormat) -> None:
        """Write a query's result to a CSV (with header) or Parquet file."""

    def copy_many(self, jobs: Sequence[tuple[Query, Path]], fmt: OutputFormat) -> None:
        """Write several queries' results at once, as `copy` does for one.

        The first query may read anything `copy` can; the others may run on connections of
        their own, so they read only permanent tables (no temporary tables, no variables).
        """

    def close(self) -> None: ...
