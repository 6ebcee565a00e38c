"""`hisaab normalize`: one input file to canonical records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hisaab.errors import NotYetImplemented


def normalize_command(
    input_file: Annotated[Path, typer.Argument(help="Statement or export to read.")],
    out: Annotated[Path, typer.Option("--out", help="FILE.csv or FILE.parquet to write.")],
    template: Annotated[str | None, typer.Option("--template", help="Template name.")] = None,
) -> None:
    """Write canonical records (with source_file and source_line provenance)."""
    raise NotYetImplemented("hisaab normalize is not built yet")
