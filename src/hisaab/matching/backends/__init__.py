"""SQL backends the engine runs on: a small execution interface, DuckDB first."""

from hisaab.matching.backends.base import Backend
from hisaab.matching.backends.duckdb import DuckDBBackend

__all__ = ["Backend", "DuckDBBackend"]
