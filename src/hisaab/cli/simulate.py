"""`hisaab simulate`: realistic PG and bank data with injected faults and the truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hisaab.errors import NotYetImplemented


def simulate_command(
    rows: Annotated[int, typer.Option("--rows", help="Number of PG transactions.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write into.")],
    seed: Annotated[int, typer.Option("--seed")] = 7,
    bank_format: Annotated[str, typer.Option("--bank-format")] = "canonical",
) -> None:
    """Simulate PG transactions, bank statements and settlement batches."""
    raise NotYetImplemented("hisaab simulate is not built yet")
