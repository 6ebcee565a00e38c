"""`hisaab normalize`: one input file to canonical records."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from hisaab.ingest.records import NormalizedFile


_OUT_SUFFIXES = (".csv", ".parquet")


def normalize_command(
    input_file: Annotated[Path, typer.Argument(help="Statement or export to read.")],
    out: Annotated[Path, typer.Option("--out", help="FILE.csv or FILE.parquet to write.")],
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            help="Template name (see `hisaab templates list`), a template YAML file, "
            "`canonical`, or a standard format (mt940, camt053, ofx, bai2). "
            "Detected from the file when left out.",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Source label for every record (pg, bank, mpesa, ...)."),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Refuse a statement whose balances or control totals do not add up "
            "(by default every entry is read and the difference is a warning).",
        ),
    ] = False,
) -> None:
    """Write canonical records (with source_file and source_line provenance).

    A statement whose balances do not add up is read whole: each difference is printed as a
    warning line naming the statement (on standard error), unless --strict refuses it.
    """
    suffix = out.suffix.lower()
    if suffix not in _OUT_SUFFIXES:
        raise typer.BadParameter(f"{str(out)!r} must end in .csv or .parquet", param_hint="'--out'")
    if source is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", source):
        raise typer.BadParameter(
            f"{source!r} is not a source label (lower-case letters, digits, - and _)",
            param_hint="'--source'",
        )
    # Imported here, not at the top: `hisaab --help` and other commands stay fast.
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from hisaab.ingest.normalize import normalize
    from hisaab.outputs import atomic_file

    result = normalize(input_file, template=template, source=source, strict=strict)
    with atomic_file(out) as tmp:
        if suffix == ".csv":
            pa_csv.write_csv(result.table, tmp)
        else:
            pq.write_table(result.table, tmp)
    typer.echo(summary_line(result, out))
    for finding in result.findings:
        typer.echo(f"warning: {finding.category}: {finding.describe()}", err=True)


def summary_line(result: NormalizedFile, out: Path) -> str:
    """`1,204 records from hdfc.csv (template hdfc, sha256 3f2a9c1b0d4e) -> out.csv; notes: ...`"""
    n = result.row_count
    text = (
        f"{n:,} record{'s' if n != 1 else ''} from {result.source_file} "
        f"(template {result.template}, sha256 {result.file_sha256[:12]}) -> {out}"
    )
    if result.notes:
        text += "; notes: " + "; ".join(result.notes)
    return text
