"""`read_tabular`: one delimited file read with a template into a `NormalizedFile`."""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any

from hisaab.errors import TemplateError
from hisaab.ingest.records import NormalizedFile, file_sha256, finalize, rows_to_table
from hisaab.ingest.tabular.amounts import AmountReader
from hisaab.ingest.tabular.balances import check_balances
from hisaab.ingest.tabular.cells import RowCells
from hisaab.ingest.tabular.classify import RowClassifier, Tally
from hisaab.ingest.tabular.dates import DateReader
from hisaab.ingest.tabular.extract import ReferenceExtractor
from hisaab.ingest.tabular.files import read_text
from hisaab.ingest.tabular.header import locate_header
from hisaab.ingest.tabular.record import RecordReader
from hisaab.ingest.tabular.split import iter_records
from hisaab.ingest.template import Template

_NOTE_RANGES = 6


def read_tabular(path: Path, template: Template, *, source: str | None = None) -> NormalizedFile:
    """Read a delimited statement or export with `template` into canonical records."""
    path = Path(path)
    text, encoding = read_text(path, (template.encoding, *template.fallback_encodings))
    header = locate_header(text, template, path)
    if template.dates is None or template.amounts is None:
        raise TemplateError(
            f"template {template.name!r} has no `dates` or `amounts` section",
            file=template.origin,
        )
    cells = RowCells(template, header, path)
    dates = DateReader(template.dates)
    amounts = AmountReader(cells, template.amounts)
    classifier = RowClassifier(cells, amounts, dates, template.filter, header.filter_index)
    references = ReferenceExtractor(cells, template.extractors())
    reader = RecordReader(cells, dates, amounts, references, source or template.source)
    records: list[dict[str, Any]] = []
    rows = iter_records(text, header.delimiter, path)
    for _ in islice(rows, header.record_index + 1):
        pass
    for line, row in rows:
        if not any(cell.strip() for cell in row) or classifier.filtered_out(row):
            continue
        if classifier.is_transaction(row):
            classifier.check_transaction(line, row)
            records.append(reader.record(line, row))
        else:
            classifier.non_transaction(line, row)
    notes = _notes(classifier.tally, encoding, template)
    balance_notes, opening, closing = check_balances(reader.balances)
    notes.extend(balance_notes)
    if not records:
        notes.append("no transactions found after the header")
    table = finalize(rows_to_table(records))
    return NormalizedFile(
        table=table,
        source_file=str(path),
        file_sha256=file_sha256(path),
        template=template.name,
        opening_balance=opening,
        closing_balance=closing,
        notes=notes,
    )


def _ranges(lines: list[int]) -> str:
    spans: list[tuple[int, int]] = []
    for n in lines:
        if spans and n == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], n)
        else:
            spans.append((n, n))
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans[:_NOTE_RANGES])
    return text + (", ..." if len(spans) > _NOTE_RANGES else "")


def _notes(tally: Tally, encoding: str, template: Template) -> list[str]:
    notes: list[str] = []
    if encoding.replace("_", "-").lower() not in ("utf-8", "utf8"):
        notes.append(f"decoded as {encoding}")
    if tally.repeated_headers:
        notes.append(f"skipped repeated header rows at lines {_ranges(tally.repeated_headers)}")
    if tally.non_transaction_lines:
        n = len(tally.non_transaction_lines)
        notes.append(
            f"skipped {n} non-transaction line{'s' if n != 1 else ''} (summaries, totals, "
            f"balance lines) at lines {_ranges(tally.non_transaction_lines)}"
        )
    if tally.skipped_by_status:
        total = sum(tally.skipped_by_status.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(tally.skipped_by_status.items()))
        column = template.filter.column if template.filter else "status"
        notes.append(f"skipped {total} row{'s' if total != 1 else ''} by {column} ({detail})")
    return notes
