"""Finding the header row of a statement and the column that serves each template role."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from hisaab.errors import FormatError
from hisaab.ingest.tabular.split import DELIMITERS, iter_records
from hisaab.ingest.template import Template, normalize_header, split_occurrence


@dataclass(frozen=True)
class HeaderMatch:
    """Where the table starts and which column holds each role."""

    delimiter: str
    record_index: int
    line: int
    cells: tuple[str, ...]
    columns: dict[str, tuple[int, ...]]
    filter_index: int | None


def resolve_columns(
    cells: Sequence[str], template: Template
) -> tuple[dict[str, tuple[int, ...]], int | None, list[str]]:
    """Role -> indices of the header cells that serve it (in preference order), the index of
    the filter column, and a description of every required column that is missing."""
    positions: dict[str, list[int]] = {}
    for i, cell in enumerate(cells):
        positions.setdefault(normalize_header(cell), []).append(i)

    def lookup(name: str) -> int | None:
        base, occurrence = split_occurrence(name)
        found = positions.get(normalize_header(base), [])
        return found[occurrence - 1] if len(found) >= occurrence else None

    required = set(template.required_roles())
    columns: dict[str, tuple[int, ...]] = {}
    missing: list[str] = []
    for role, ref in template.columns.mapped().items():
        found = [lookup(n) for n in ref.all_names]
        indices = tuple(dict.fromkeys(i for i in found if i is not None))
        columns[role] = indices
        if not indices and role in required:
            missing.append(" or ".join(repr(n) for n in ref.all_names))
    filter_index: int | None = None
    if template.filter is not None:
        filter_index = lookup(template.filter.column)
        if filter_index is None:
            missing.append(repr(template.filter.column))
    return columns, filter_index, missing


def locate_header(text: str, template: Template, path: Path) -> HeaderMatch:
    """The first row, within the template's search window, that has every required column."""
    delimiters = DELIMITERS if template.delimiter == "auto" else (template.delimiter,)
    best: tuple[int, int, list[str]] | None = None  # (columns found, line, missing)
    for delimiter in delimiters:
        try:
            records = islice(iter_records(text, delimiter, path), template.header.search_rows)
            for index, (line, row) in enumerate(records):
                cells = tuple(c.strip() for c in row)
                if sum(1 for c in cells if c) < 2:
                    continue
                columns, filter_index, missing = resolve_columns(cells, template)
                if not missing:
                    return HeaderMatch(delimiter, index, line, cells, columns, filter_index)
                found = sum(1 for idx in columns.values() if idx)
                if found and (best is None or found > best[0]):
                    best = (found, line, missing)
        except FormatError:
            continue  # this delimiter cannot even split the head; try the next one
    if best is not None:
        raise FormatError(
            f"the header row is missing required columns for template {template.name!r}: "
            + ", ".join(best[2]),
            file=path,
            line=best[1],
            expected="a header row naming every column the template maps (see "
            f"`hisaab templates show {template.name}`)",
        )
    raise FormatError(
        f"no header row for template {template.name!r} in the first "
        f"{template.header.search_rows} rows",
        file=path,
        expected="a header row with the columns " + ", ".join(template.signature()),
    )
