"""What every statement standard shares: decoding its bytes, its balance identity, its result.

Each format module reads its own structure; the rules a statement must obey whatever its
format live here once: text is UTF-8 (a byte-order mark wins); when it is not, the single-byte
code page it reads best in, with a note naming it: Windows-1252 for Western European and Indian
exports, ISO-8859-2, Windows-1250 or code page 852 for Polish, Czech and Hungarian ones,
Windows-1251 or code page 866 for Cyrillic. And a statement that states both balances should
satisfy opening + credits - debits = closing exactly.

A statement that breaks that identity (or a trailer whose control total disagrees with its
records) is still read, every entry of it: the difference is a `Finding` that a
reconciliation reports as an exception and `hisaab normalize` as a warning. Banks send such
files (snippets, intermediate pages, their own rounding); a reconciliation platform reports
what is wrong with them and refuses only what it cannot read. `strict=True` turns findings
back into refusals for those who want that.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from hisaab.errors import FormatError
from hisaab.ingest.findings import BALANCE_MISMATCH, Finding
from hisaab.ingest.records import (
    Balance,
    NormalizedFile,
    file_sha256,
    finalize,
    rows_to_table,
)
from hisaab.money import Money


class Report:
    """What one parse says about its file besides the records: notes and findings.

    `finding` records a finding, or raises it as a `FormatError` when the parse is strict.
    """

    def __init__(self, path: Path, *, strict: bool = False) -> None:
        self.path = path
        self.strict = strict
        self.notes: list[str] = []
        self.findings: list[Finding] = []

    def note(self, text: str) -> None:
        self.notes.append(text)

    def finding(
        self,
        category: str,
        message: str,
        *,
        line: int | None,
        statement: str | None = None,
        difference_minor: int | None = None,
        currency: str | None = None,
        as_of: date | None = None,
        expected: str | None = None,
    ) -> None:
        if self.strict:
            raise FormatError(message, file=self.path, line=line, expected=expected)
        self.findings.append(
            Finding(
                category=category,
                message=message,
                file=str(self.path),
                line=line,
                statement=statement,
                difference_minor=difference_minor,
                currency=currency,
                as_of=as_of,
            )
        )

    def check_balances(
        self,
        *,
        what: str,
        opening_minor: int,
        credits: int,
        debits: int,
        closing_minor: int,
        currency: str,
        line: int | None,
        as_of: date | None = None,
        expected: str = "opening + credits - debits = closing",
    ) -> None:
        """A BALANCE_MISMATCH finding (naming both figures and the difference) unless the
        balances add up."""
        computed = opening_minor + credits - debits
        if computed == closing_minor:
            return
        self.finding(
            BALANCE_MISMATCH,
            f"{what} does not add up: opening {Money(opening_minor, currency)} + credits "
            f"{Money(credits, currency)} - debits {Money(debits, currency)} = "
            f"{Money(computed, currency)}, but the closing balance is "
            f"{Money(closing_minor, currency)} (difference "
            f"{Money(closing_minor - computed, currency)})",
            line=line,
            statement=what,
            difference_minor=closing_minor - computed,
            currency=currency,
            as_of=as_of,
            expected=expected,
        )

    def unchecked(self, what: str) -> None:
        unchecked(self.path, what, self.notes)

    def result(
        self,
        rows: list[dict[str, Any]],
        name: str,
        *,
        opening: Balance | None,
        closing: Balance | None,
    ) -> NormalizedFile:
        nf = result(rows, self.path, name, opening=opening, closing=closing, notes=self.notes)
        nf.findings = self.findings
        return nf


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
    text, encoding = _single_byte_text(raw)
    notes.append(f"{path.name}: not UTF-8, read as {encoding}")
    return text


# Single-byte code pages that bank exports are written in when they are not UTF-8, in the
# order preferred when the text reads equally well in several: Windows-1252 first (Western
# European and Indian exports; OFX 1.x declares it as CHARSET:1252), then the Central European
# pages of Polish, Czech and Hungarian banks (ISO, Windows and DOS forms), then DOS Western.
_LATIN_CODE_PAGES = (
    ("cp1252", "Windows-1252"),
    ("iso8859_2", "ISO-8859-2"),
    ("cp1250", "Windows-1250"),
    ("cp852", "code page 852"),
    ("cp850", "code page 850"),
)
# Russian, Ukrainian and Bulgarian banks write Cyrillic in Windows-1251 or in DOS code page 866.
_CYRILLIC_CODE_PAGES = (("cp1251", "Windows-1251"), ("cp866", "code page 866"))
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_WORD = re.compile(r"[^\W\d_]+")
# How much of a text's non-ASCII letters must form wholly Cyrillic words for it to be read as
# Cyrillic, and how many such letters at least: Western text read in a Cyrillic code page
# gives Cyrillic letters inside Latin words ("Mьller"), never whole Cyrillic words.
_CYRILLIC_SHARE = 0.8
_CYRILLIC_LEAST = 3


def _single_byte_text(raw: bytes) -> tuple[str, str]:
    """Text that is not UTF-8, in the code page it reads best in, and that code page's name.

    Cyrillic when the non-ASCII bytes make whole Cyrillic words in Windows-1251 or code page
    866; otherwise the Latin code page whose reading has the fewest characters no text has:
    C1 control characters, box-drawing characters, or a symbol in the middle of a word
    ("OP£ATA" is ISO-8859-2 "OPŁATA" read as Windows-1252)."""
    cyrillic: list[tuple[float, str, str]] = []
    for codec, name in _CYRILLIC_CODE_PAGES:
        text = raw.decode(codec, errors="replace")
        share = _cyrillic_share(text)
        if share is not None and share >= _CYRILLIC_SHARE:
            cyrillic.append((share, text, name))
    if cyrillic:
        _, text, name = max(cyrillic, key=lambda found: found[0])
        return text, name
    best: tuple[int, str, str] | None = None
    for codec, name in _LATIN_CODE_PAGES:
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue  # a byte this code page leaves undefined
        oddities = _oddities(text)
        if best is None or oddities < best[0]:
            best = (oddities, text, name)
    if best is None:
        return raw.decode("latin-1"), "Latin-1"
    return best[1], best[2]


def _cyrillic_share(text: str) -> float | None:
    """The share of the non-ASCII characters that are letters of wholly Cyrillic words, or None
    when there are too few such letters to tell."""
    non_ascii = len(_NON_ASCII.findall(text))
    in_words = sum(
        len(word)
        for word in _WORD.findall(text)
        if all("\u0400" <= letter <= "\u04ff" for letter in word)
    )
    if in_words < _CYRILLIC_LEAST:
        return None
    return in_words / non_ascii


def _oddities(text: str) -> int:
    """Characters a bank's text does not contain: C1 controls, box drawing, and non-letters
    between two letters."""
    count = 0
    for match in _NON_ASCII.finditer(text):
        char = match.group()
        code = ord(char)
        if 0x80 <= code <= 0x9F or 0x2500 <= code <= 0x25FF:
            count += 1
        elif not char.isalpha():
            at = match.start()
            before = text[at - 1] if at else ""
            after = text[at + 1] if at + 1 < len(text) else ""
            count += before.isalpha() and after.isalpha()
    return count


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
