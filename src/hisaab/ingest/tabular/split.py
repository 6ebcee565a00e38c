"""Splitting decoded text into csv records, each with the physical line it starts on."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from hisaab.errors import FormatError

DELIMITERS: tuple[str, ...] = (",", "|", ";", "\t")
MAX_FIELD_CHARS = 1 << 20  # 1 MiB: longer fields mean a broken quote or the wrong file


def _raise_field_limit() -> None:
    # csv's limit is process-wide; raising it to 1 MiB (never lowering it) is harmless to
    # other readers and lets real multi-line narrations through.
    if csv.field_size_limit() < MAX_FIELD_CHARS:
        csv.field_size_limit(MAX_FIELD_CHARS)


def iter_records(text: str, delimiter: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(physical line the record starts on, cells) for every csv record of `text`.

    Blank lines come through as empty lists so that line numbers stay physical; a quoted field
    spanning several lines counts all of them.
    """
    _raise_field_limit()
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)
    consumed = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = str(exc)
            if "field larger than field limit" in reason:
                reason = f"a field is longer than {MAX_FIELD_CHARS:,} characters (1 MiB)"
            raise FormatError(
                f"cannot split the line into fields: {reason}",
                file=path,
                line=consumed + 1,
                expected="fields under 1 MiB with balanced quotes",
            ) from None
        yield consumed + 1, row
        consumed = reader.line_num
