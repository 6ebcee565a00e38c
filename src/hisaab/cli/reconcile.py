"""`hisaab reconcile`: two files in, matches, exceptions and a summary out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hisaab.errors import NotYetImplemented


def reconcile_command(
    pg: Annotated[Path, typer.Option("--pg")],
    bank: Annotated[Path, typer.Option("--bank")],
    out: Annotated[Path, typer.Option("--out")],
) -> None:
    """Reconcile PG transactions against a bank statement."""
    raise NotYetImplemented("hisaab reconcile is not built yet")
