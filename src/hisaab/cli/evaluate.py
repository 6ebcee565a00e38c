"""`hisaab evaluate`: precision, recall and F1 of a reconciliation against the truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hisaab.errors import NotYetImplemented


def evaluate_command(
    truth: Annotated[Path, typer.Option("--truth")],
    results: Annotated[Path, typer.Option("--results")],
) -> None:
    """Compare reconcile output with truth.csv."""
    raise NotYetImplemented("hisaab evaluate is not built yet")
