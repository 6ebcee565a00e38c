"""Auto-detection: which template or standard format reads a file, judged from its first bytes.

Standard formats (MT940, CAMT.053, OFX, BAI2) are recognised by their own sniffers; Parquet by
its magic bytes (canonical); delimited files by their header row: every built-in template has
a header signature, and the file's first rows (after any preamble) are compared against each.
Exactly one match wins; none or several is a `TemplateError` asking for --template.
"""

from __future__ import annotations

from pathlib import Path

from hisaab.errors import FormatError, TemplateError
from hisaab.ingest import formats
from hisaab.ingest.tabular import (
    DELIMITERS,
    check_input_file,
    iter_records,
    reject_binary,
    sniff_bom,
)
from hisaab.ingest.template import Template, list_templates, normalize_header

HEAD_BYTES = 1 << 20
HEAD_ROWS = 200
_PARQUET_MAGIC = b"PAR1"


def _head_rows(head: bytes, path: Path) -> list[frozenset[str]]:
    """Normalised header-cell sets of the first rows, split with every candidate delimiter."""
    bom = sniff_bom(head)
    if bom is not None and bom[0] != "utf-8":
        text = head[bom[1] :].decode(bom[0], errors="replace")
    else:
        head = head[bom[1] :] if bom is not None else head
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # a multi-byte character cut at the end of the head is fine; else try cp1252
            text = (
                head[: exc.start].decode("utf-8")
                if exc.start >= len(head) - 3
                else head.decode("cp1252", errors="replace")
            )
    rows: list[frozenset[str]] = []
    for delimiter in DELIMITERS:
        try:
            for index, (_, row) in enumerate(iter_records(text, delimiter, path)):
                if index >= HEAD_ROWS:
                    break
                cells = frozenset(n for c in row if (n := normalize_header(c)))
                if len(cells) >= 2:
                    rows.append(cells)
        except FormatError:
            continue  # a delimiter that cannot split the head is no match
    return rows


def matches(template: Template, rows: list[frozenset[str]]) -> bool:
    """Does one of `rows` contain every header name of the template's signature?"""
    signature = frozenset(normalize_header(n) for n in template.signature())
    return bool(signature) and any(signature <= row for row in rows)


def candidates(path: Path) -> list[str]:
    """Every template or standard format that claims the file (in a stable order)."""
    check_input_file(path)
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    if head.startswith(_PARQUET_MAGIC):
        return ["canonical"]
    found = list(formats.sniff_standard(path))
    reject_binary(head, path)
    rows = _head_rows(head, path)
    found.extend(t.name for t in list_templates() if matches(t, rows))
    return list(dict.fromkeys(found))


def detect(path: Path) -> str:
    """The one template or standard format name that reads `path`."""
    path = Path(path)
    found = candidates(path)
    if len(found) == 1:
        return found[0]
    known = sorted({t.name for t in list_templates()} | set(formats.STANDARD_FORMATS))
    if not found:
        raise TemplateError(
            "could not recognise the layout: no template's header signature matches the first "
            f"{HEAD_ROWS} rows and no standard format (MT940, CAMT.053, OFX, BAI2) claims it",
            file=path,
            expected=(
                "a known layout; pass --template NAME with one of "
                + ", ".join(known)
                + " or the path of your own template YAML (see `hisaab templates list`)"
            ),
        )
    raise TemplateError(
        "the layout matches several templates: " + ", ".join(found),
        file=path,
        expected="--template NAME naming the one to use",
    )
