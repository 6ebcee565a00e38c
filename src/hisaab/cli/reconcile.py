"""`hisaab reconcile`: two files in, matches, exceptions and a summary out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hisaab.errors import InputError
from hisaab.money import Money

if TYPE_CHECKING:
    from hisaab.matching.backends.base import OutputFormat


def reconcile_command(
    pg: Annotated[Path, typer.Option("--pg", help="PG transactions export.")],
    bank: Annotated[Path, typer.Option("--bank", help="Bank or wallet statement.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the results.")],
    pg_template: Annotated[
        str | None, typer.Option("--pg-template", help="Template of --pg (default: detect).")
    ] = None,
    bank_template: Annotated[
        str | None, typer.Option("--bank-template", help="Template of --bank (default: detect).")
    ] = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="Rules YAML (default: built-in).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    quiet: Annotated[bool, typer.Option("--quiet", help="Print nothing on success.")] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Refuse a statement whose balances or control totals do not add up "
            "(by default it is read whole and each difference is an exception).",
        ),
    ] = False,
) -> None:
    """Reconcile PG transactions against a bank statement.

    Writes matches, exceptions and summary.json into --out: all of them, or none on error.
    """
    if fmt not in ("csv", "parquet"):
        raise InputError(f"--format {fmt!r} is not supported", expected="csv or parquet")
    output_format: OutputFormat = "csv" if fmt == "csv" else "parquet"
    # Imported here, not at the top: `hisaab --help` and other commands stay fast.
    from hisaab.recon.batch import BatchRequest, run_batch

    request = BatchRequest(
        pg_path=pg,
        bank_path=bank,
        out_dir=out,
        pg_template=pg_template,
        bank_template=bank_template,
        rules_path=rules,
        fmt=output_format,
        strict=strict,
    )
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,
    ) as bar:
        task = bar.add_task("reading", total=None)

        def progress(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        summary = run_batch(request, progress=progress)
    if not quiet:
        Console().print(summary_table(summary))
        Console().print(f"Results in {out} ({summary['elapsed_seconds']} s)")


def summary_table(summary: dict[str, Any]) -> Table:
    """Matched by stage and exceptions by category, with counts and amounts per currency."""
    table = Table(title="Reconciliation summary", show_lines=False)
    table.add_column("what")
    table.add_column("records", justify="right")
    table.add_column("amount", justify="right")
    for side, per_currency in summary["totals"].items():
        for cur, t in per_currency.items():
            rate = t["match_rate_by_count"]
            table.add_row(
                f"{side} records ({cur}), auto-matched {rate:.2%}" if rate is not None else side,
                f"{t['matched_records']:,} / {t['records']:,}",
                str(Money(t["matched_amount_minor"], cur)),
            )
    for stage, by_status in summary["matched_by_stage"].items():
        for status, per_currency in by_status.items():
            for cur, s in per_currency.items():
                table.add_row(
                    f"matched: {stage} ({status}, {s['match_type']})",
                    f"{s['pg_records']:,} pg / {s['bank_records']:,} bank",
                    str(Money(s["bank_amount_minor"], cur)),
                )
    for category, sides in summary["exceptions_by_category"].items():
        for side, per_currency in sides.items():
            for cur, e in per_currency.items():
                table.add_row(
                    f"exception: {category} ({side})",
                    f"{e['records']:,}",
                    str(Money(e["amount_minor"], cur)),
                )
    for finding in summary.get("findings", []):
        difference = finding["difference_minor"]
        table.add_row(
            f"exception: {finding['category']} ({finding['side']}, {finding['statement']}, "
            f"line {finding['line']})",
            "statement",
            str(Money(difference, finding["currency"])) if difference is not None else "",
        )
    return table
