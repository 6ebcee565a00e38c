"""`hisaab evaluate`: precision, recall and F1 of a reconciliation against the truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from hisaab.errors import InputError

if TYPE_CHECKING:
    from hisaab.sandbox.evaluate import Evaluation, LabelScore


def evaluate_command(
    truth: Annotated[Path, typer.Option("--truth", help="truth.csv written by `simulate`.")],
    results: Annotated[
        Path, typer.Option("--results", help="--out directory of `hisaab reconcile`.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report only.")] = False,
) -> None:
    """Compare reconcile output (matches.csv, exceptions.csv) with truth.csv.

    Prints precision, recall and F1 and writes RESULTS/evaluation.json. Exits 0 whatever the
    scores: it is a measurement.
    """
    # Imported here, not at the top: `hisaab --help` and other commands stay fast.
    from hisaab.outputs import atomic_file
    from hisaab.sandbox.evaluate import evaluate

    report = evaluate(truth, results)
    document = report.to_json()
    text = json.dumps(document, indent=2) + "\n"
    target = results / "evaluation.json"
    try:
        with atomic_file(target) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}", file=target) from exc
    if as_json:
        typer.echo(text, nl=False)
        return
    _print(report, target)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _print(report: Evaluation, target: Path) -> None:
    console = Console(highlight=False, soft_wrap=True)
    table = Table(title=f"Reconciliation vs truth ({report.truth_records} truth records)")
    for name in ("label", "support", "predicted", "correct", "precision", "recall", "F1"):
        table.add_column(name, justify="left" if name == "label" else "right")
    scores: list[LabelScore] = [report.matched, *report.categories.values()]
    for score in scores:
        name = "MATCHED (auto)" if score is report.matched else score.label
        table.add_row(
            name,
            str(score.support),
            str(score.predicted),
            str(score.correct),
            _fmt(score.precision),
            _fmt(score.recall),
            _fmt(score.f1),
        )
    console.print(table)
    console.print(
        f"micro F1 {report.micro_f1:.4f}   macro F1 {report.macro_f1:.4f} "
        f"(over {', '.join(report.macro_labels) or 'nothing'})",
        markup=False,
    )
    console.print(
        f"missing {report.missing}   absent from truth {report.absent_from_truth}   "
        f"conflicts {report.conflicts}",
        markup=False,
    )
    for error in report.errors():
        console.print(f"error in the reconcile output: {error}", style="bold red", markup=False)
    console.print(f"Wrote {target}", markup=False)
