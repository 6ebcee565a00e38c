"""Reading canonical CSV/Parquet files (template `canonical`), vectorised for millions of rows."""

from __future__ import annotations

from pathlib import Path

from hisaab.errors import NotYetImplemented
from hisaab.ingest.records import NormalizedFile


def read_canonical(path: Path, *, source: str | None = None) -> NormalizedFile:
    """Read a canonical CSV or Parquet file; `source` overrides/fills the `source` column."""
    raise NotYetImplemented("reading canonical files is not built yet")
