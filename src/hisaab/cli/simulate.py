"""`hisaab simulate`: realistic PG and bank data with injected faults and the truth."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table


def simulate_command(
    rows: Annotated[
        int, typer.Option("--rows", help="Number of PG transactions, failed ones included.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory to write into (created).")],
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 7,
    bank_format: Annotated[
        str, typer.Option("--bank-format", help="hdfc, icici, axis or canonical.")
    ] = "canonical",
    days: Annotated[
        int, typer.Option("--days", help="Business days of payments, from 2024-01-15.")
    ] = 3,
    merchants: Annotated[int, typer.Option("--merchants", help="Number of merchants.")] = 25,
) -> None:
    """Simulate PG transactions, bank statements and settlement batches, with the truth.

    Writes pg.csv, bank.csv, truth.csv and README.txt into --out (all or nothing).
    """
    # Imported here, not at the top: `hisaab --help` and other commands stay fast.
    from hisaab.sandbox.model import FAULT_KINDS, LABELS, SimulationConfig
    from hisaab.sandbox.simulate import simulate

    config = SimulationConfig(
        rows=rows,
        seed=seed,
        bank_format=bank_format.strip().lower(),
        days=days,
        merchants=merchants,
    )
    started = time.perf_counter()
    sim = simulate(config, out)
    elapsed = time.perf_counter() - started

    console = Console(highlight=False, soft_wrap=True)
    captured = sum(sim.pg.ok)
    console.print(
        f"Wrote {out}: pg.csv ({len(sim.pg)} transactions, {captured} captured), "
        f"bank.csv ({len(sim.bank)} lines, {config.bank_format}), truth.csv, README.txt "
        f"in {elapsed:.1f} s.",
        markup=False,
    )
    faults = Table(title="Injected faults", title_justify="left")
    faults.add_column("fault")
    faults.add_column("count", justify="right")
    for kind, count in sim.fault_counts.items():
        faults.add_row(FAULT_KINDS[kind], str(count))
    console.print(faults)
    truth = sim.truth_counts()
    console.print(
        "Truth records: " + ", ".join(f"{label} {truth[label]}" for label in LABELS),
        markup=False,
    )
