"""What every statement standard shares: decoding its bytes, its balance identity, its result.

Each format module reads its own structure; the rules a statement must obey whatever its
format live here once: text is UTF-8 (a byte-order mark wins; Windows-1252 or Latin-1 when
not, with a note), and a statement that states both balances must satisfy
opening + credits - debits = closing exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hisaab.errors import FormatError
from hisaab.ingest.records import Balance, NormalizedFile, file_sha256, finalize, rows_to_table
from hisaab.money import Money


def decode(raw: bytes, path: Path, notes: list[str], *, expected: str) -> str:
    """The statement's text; `expected` says what a non-empty file of this format starts with."""
    if not raw.strip():
        raise FormatError("the file is empty", file=path, expected=expected)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Windows-1252 is what European and Indian bank exports use when not UTF-8 (OFX 1.x
    # declares it as CHARSET:1252); the five bytes it leaves undefined only decode as Latin-1.
    try:
        text = raw.decode("cp1252")
        encoding = "Windows-1252"
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
        encoding = "Latin-1"
    notes.append(f"{path.name}: not UTF-8, read as {encoding}")
    return text


def check_balances(
    *,
    what: str,
    opening_minor: int,
    credits: int,
    debits: int,
    closing_minor: int,
    currency: str,
    path: Path,
    line: int | None,
    expected: str = "opening + credits - debits = closing",
) -> None:
    """Raise, naming both figures and the difference, unless the balances add up."""
    computed = opening_minor + credits - debits
    if computed != closing_minor:
        raise FormatError(
            f"{what} does not add up: opening {Money(opening_minor, currency)} + credits "
            f"{Money(credits, currency)} - debits {Money(debits, currency)} = "
            f"{Money(computed, currency)}, but the closing balance is "
            f"{Money(closing_minor, currency)} (difference "
            f"{Money(closing_minor - computed, currency)})",
            file=path,
            line=line,
            expected=expected,
        )


def unchecked(path: Path, what: str, notes: list[str]) -> None:
    notes.append(
        f"{path.name}: {what} does not state both an opening and a closing balance,"
        " so they were not checked"
    )


def credits_and_debits(rows: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    credits = debits = 0
    for row in rows:
        if row["direction"] == "CR":
            credits += row["amount_minor"]
        else:
            debits += row["amount_minor"]
    return credits, debits


def result(
    rows: list[dict[str, Any]],
    path: Path,
    name: str,
    *,
    opening: Balance | None,
    closing: Balance | None,
    notes: list[str],
) -> NormalizedFile:
    return NormalizedFile(
        table=finalize(rows_to_table(rows)),
        source_file=str(path),
        file_sha256=file_sha256(path),
        template=name,
        opening_balance=opening,
        closing_balance=closing,
        notes=notes,
    )
