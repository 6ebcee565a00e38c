"""OFX bank and credit-card statements (1.x SGML and 2.x XML): <STMTTRN> into canonical records.

Which reader does what, and why:

* OFX 1.x is SGML whose leaf elements have no closing tags. `ofxtools` (its `TreeBuilder`)
  reads that into an element tree; its OFX date-time reader (`ofxtools.Types.DateTime`, which
  knows offsets like `[+5:30:IST]`) and its entity unescaping (`ofxtools.Types.String`) are
  used too. Its model layer (`OFXTree.convert`) is not: it enforces US field widths (a 9-digit
  BANKID, a 32-character NAME) that Indian and Kenyan bank exports do not keep, and it would
  turn a whole statement away for one long payee name. `ofxparse` was tried and set aside: it
  raises deprecation warnings from BeautifulSoup, depends on `six`, cuts payee names, and is
  not one of the project's dependencies.
* OFX 2.x is XML, so it is read with lxml, which gives each <STMTTRN> its line and refuses a
  truncated file. For SGML files the line of each <STMTTRN> is found in the text, and a file
  that stops before </OFX> is refused as truncated (ofxtools would silently close the
  elements left open).

Per record: TRNAMT's sign gives the direction (a written "-0.00" is a debit of zero); DTAVAIL
(the value date, when the bank gives it) else DTPOSTED gives `value_date`; DTPOSTED gives
`booked_at` (UTC when it has a time); FITID is the `record_id`, never the UTR: the UTR is a
rail reference found in NAME/MEMO, else REFNUM. OFX states only a closing LEDGERBAL, so there
is no opening balance and nothing to check it against.
"""

from __future__ import annotations

import bisect
import re
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path
from typing import Any

from lxml import etree
from ofxtools import Types
from ofxtools.Parser import TreeBuilder

from hisaab.errors import AmountError, CurrencyError, FormatError
from hisaab.ingest.formats import StandardFormat, register, statement
from hisaab.ingest.narration import extract_utr
from hisaab.ingest.records import (
    Balance,
    NormalizedFile,
)
from hisaab.money import Direction, normalize_currency, parse_amount

NAME = "ofx"

# An element of either tree: xml.etree (SGML path, from ofxtools) or lxml (XML path). Both
# offer .tag, .text, .find, .findall and .iter, which is all this module uses.
_Node = Any

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_OFX_START = re.compile(r"<OFX>", re.IGNORECASE)
_OFX_END = re.compile(r"</OFX>", re.IGNORECASE)
_XML_HEADER = re.compile(r"<\?(xml|OFX)\b", re.IGNORECASE)
# Aggregates whose lines records and errors name (found by their start tags in SGML).
_LOCATED_TAGS = ("STMTRS", "CCSTMTRS", "STMTTRN", "LEDGERBAL")
_DECLARED_ENCODING = re.compile(r"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2")
_LATE_DECLARATION = re.compile(r"^(\s+)(<\?xml[^>]*\?>)")
_POSITION = re.compile(r"position=\[(\d+):")
_STATEMENT_TAGS = ("STMTRS", "CCSTMTRS")
_OFX_DATETIME = Types.DateTime()
_OFX_TEXT = Types.String()


def sniff(head: bytes) -> bool:
    """An OFX file starts with an OFXHEADER:100 block, an <?OFX ...?> declaration or <OFX>."""
    upper = head.upper()
    return b"OFXHEADER" in upper or b"<OFX>" in upper


def parse(path: Path, *, source: str = "bank", strict: bool = False) -> NormalizedFile:
    """Read an OFX file: one record per <STMTTRN>, the last statement's LEDGERBAL as closing.

    OFX states no opening balance, so there is no balance identity to find broken; `strict`
    is accepted for the common signature."""
    path = Path(path)
    report = statement.Report(path, strict=strict)
    notes = report.notes
    text = _decode(path.read_bytes(), path, notes)
    start = _OFX_START.search(text)
    if start is None:
        raise FormatError(
            "no <OFX> element found",
            file=path,
            expected="an OFX header followed by <OFX>...</OFX>",
        )
    reader: _Reader
    if _XML_HEADER.search(text, 0, start.start()):
        reader = _XmlReader(text, path)
    else:
        reader = _SgmlReader(text, start.start(), path)
    statements = [node for node in reader.root.iter() if node.tag in _STATEMENT_TAGS]
    if not statements:
        raise FormatError(
            "no bank or credit-card statement found",
            file=path,
            line=reader.line_of(start.start()),
            expected="a <STMTRS> or <CCSTMTRS> aggregate (investment statements are not read)",
        )
    rows: list[dict[str, Any]] = []
    closing: Balance | None = None
    for stmt in statements:
        statement_rows, closing = _read_statement(stmt, reader, path, source, notes)
        rows.extend(statement_rows)
    return report.result(rows, NAME, opening=None, closing=closing)


def _decode(raw: bytes, path: Path, notes: list[str]) -> str:
    return statement.decode(raw, path, notes, expected="an OFX statement")


class _Reader:
    """A parsed tree plus what is needed to say where things are in the file."""

    root: _Node

    def __init__(self, text: str) -> None:
        self.text = text
        # Offsets where each line after the first starts: a line number is then a bisection.
        self.line_starts = [match.end() for match in _LINE_BREAK.finditer(text)]

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset) + 1

    def value(self, node: _Node | None, *path: str) -> str | None:
        for name in path:
            if node is None:
                return None
            node = node.find(name)
        if node is None or node.text is None:
            return None
        text = " ".join(self.unescape(node.text).split())
        return text or None

    def unescape(self, text: str) -> str:
        return text

    def line(self, node: _Node) -> int | None:
        raise NotImplementedError


class _XmlReader(_Reader):
    """OFX 2.x: real XML, read by lxml (entities never resolved, no network)."""

    def __init__(self, text: str, path: Path) -> None:
        super().__init__(text)
        late = _LATE_DECLARATION.match(text)
        if late:
            # Blank lines before <?xml ...?> make it illegal: blank it out, keeping the lines.
            text = text[: late.start(2)] + " " * len(late.group(2)) + text[late.end(2) :]
        data = _DECLARED_ENCODING.sub(r'\1"UTF-8"', text, count=1).encode("utf-8")
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            self.root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError as exc:
            raise FormatError(
                f"not well-formed OFX 2 XML: {exc.msg}",
                file=path,
                line=exc.lineno or None,
                expected="a complete OFX 2.x document ending in </OFX>",
            ) from exc

    def line(self, node: _Node) -> int | None:
        line: object = node.sourceline
        return line if isinstance(line, int) and line > 0 else None


class _SgmlReader(_Reader):
    """OFX 1.x: SGML without closing tags, read by ofxtools' TreeBuilder."""

    def __init__(self, text: str, body_start: int, path: Path) -> None:
        super().__init__(text)
        self.body_start = body_start
        if _OFX_END.search(text, body_start) is None:
            raise FormatError(
                "the file stops before </OFX>: it looks truncated",
                file=path,
                line=self.line_of(len(text)),
                expected="an OFX document that ends with </OFX>",
            )
        builder = TreeBuilder()
        try:
            builder.feed(text[body_start:])
            root = builder.close()
        except Exception as exc:
            message = str(exc.args[0]) if exc.args else str(exc)
            position = _POSITION.search(message)
            raise FormatError(
                f"OFX 1.x (SGML) cannot be read: {message.split(' - position=')[0][:200]}",
                file=path,
                line=self.line_of(body_start + int(position.group(1))) if position else None,
                expected="OFX 1.x tags such as <STMTTRN><TRNAMT>-250.00",
            ) from exc
        if not isinstance(root, ET.Element):
            raise FormatError(
                "no OFX elements found", file=path, expected="an <OFX> element with statements"
            )
        self.root = root
        # The tree has no positions: the n-th <STMTTRN> element is the n-th "<STMTTRN>" tag.
        self.lines: dict[int, int] = {}
        for tag in _LOCATED_TAGS:
            nodes = list(root.iter(tag))
            offsets = [m.start() for m in re.finditer(f"<{tag}>", text[body_start:])]
            if len(nodes) == len(offsets):
                for node, offset in zip(nodes, offsets, strict=True):
                    self.lines[id(node)] = self.line_of(body_start + offset)

    def unescape(self, text: str) -> str:
        converted: object = _OFX_TEXT.convert(text)
        return converted if isinstance(converted, str) else text

    def line(self, node: _Node) -> int | None:
        return self.lines.get(id(node))


def _currency(text: str, path: Path, line: int | None) -> str:
    try:
        return normalize_currency(text)
    except CurrencyError as exc:
        raise FormatError(exc.message, file=path, line=line, expected=exc.expected) from exc


def _amount(text: str, currency: str, what: str, path: Path, line: int | None) -> int:
    # OFX allows a decimal comma ("-250,50") where the bank's locale writes one.
    separator = "," if "," in text and "." not in text else "."
    try:
        return parse_amount(text, currency, decimal_separator=separator)
    except AmountError as exc:
        raise FormatError(
            f"{what} {text!r}: {exc.message}",
            file=path,
            line=line,
            expected="an amount such as -250.50",
        ) from exc


def _date(text: str, what: str, path: Path, line: int | None) -> tuple[date, str]:
    """The calendar date the bank wrote, and an ISO timestamp (UTC when a time is given)."""
    try:
        day = date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
        if len(text) == 8:
            return day, day.isoformat()
        moment: object = _OFX_DATETIME.convert(text)
        if not isinstance(moment, date):  # pragma: no cover - ofxtools returns a datetime
            raise ValueError(text)
        return day, moment.isoformat()
    except (ValueError, IndexError) as exc:
        raise FormatError(
            f"impossible {what} {text!r}",
            file=path,
            line=line,
            expected="a real date written YYYYMMDD, optionally with HHMMSS[.XXX][offset:TZ]",
        ) from exc


def _read_statement(
    statement: _Node, reader: _Reader, path: Path, source: str, notes: list[str]
) -> tuple[list[dict[str, Any]], Balance | None]:
    statement_line = reader.line(statement)
    currency_text = reader.value(statement, "CURDEF")
    if currency_text is None:
        raise FormatError(
            "statement states no currency",
            file=path,
            line=statement_line,
            expected="a <CURDEF> such as INR in each <STMTRS>",
        )
    default_currency = _currency(currency_text, path, statement_line)
    rows: list[dict[str, Any]] = []
    for node in statement.iter("STMTTRN"):
        line = reader.line(node)
        currency = default_currency
        other = reader.value(node, "CURRENCY", "CURSYM")
        if other is not None:
            currency = _currency(other, path, line)
        amount_text = reader.value(node, "TRNAMT")
        if amount_text is None:
            raise FormatError(
                "transaction has no amount",
                file=path,
                line=line,
                expected="a <TRNAMT> in each <STMTTRN>",
            )
        signed = _amount(amount_text, currency, "TRNAMT", path, line)
        is_debit = signed < 0 or (signed == 0 and amount_text.lstrip().startswith("-"))
        direction: Direction = "DR" if is_debit else "CR"
        posted_text = reader.value(node, "DTPOSTED")
        if posted_text is None:
            raise FormatError(
                "transaction has no posting date",
                file=path,
                line=line,
                expected="a <DTPOSTED> in each <STMTTRN>",
            )
        posted = _date(posted_text, "DTPOSTED", path, line)
        available_text = reader.value(node, "DTAVAIL")
        value_date = (
            _date(available_text, "DTAVAIL", path, line)[0] if available_text else posted[0]
        )
        narration = _narration(reader, node)
        rows.append(
            {
                "record_id": reader.value(node, "FITID"),
                "source": source,
                "amount_minor": abs(signed),
                "currency": currency,
                "direction": direction,
                "value_date": value_date,
                "booked_at": posted[1],
                "utr": extract_utr(narration) or reader.value(node, "REFNUM"),
                "narration": narration,
                "source_file": str(path),
                "source_line": line,
            }
        )
    return rows, _ledger_balance(statement, reader, default_currency, path, notes)


def _narration(reader: _Reader, node: _Node) -> str | None:
    parts: list[str] = []
    for piece in (
        reader.value(node, "NAME"),
        reader.value(node, "PAYEE", "NAME"),
        reader.value(node, "MEMO"),
    ):
        if piece and piece not in parts:
            parts.append(piece)
    return " ".join(parts) or None


def _ledger_balance(
    statement: _Node, reader: _Reader, currency: str, path: Path, notes: list[str]
) -> Balance | None:
    ledger = statement.find("LEDGERBAL")
    if ledger is None:
        return None
    line = reader.line(ledger)
    amount_text = reader.value(ledger, "BALAMT")
    if amount_text is None:
        notes.append(f"{path.name} line {line}: blank LEDGERBAL ignored")
        return None
    as_of_text = reader.value(ledger, "DTASOF")
    as_of = _date(as_of_text, "DTASOF", path, line)[0] if as_of_text else None
    return Balance(_amount(amount_text, currency, "BALAMT", path, line), currency, as_of)


register(
    StandardFormat(
        name=NAME,
        description="OFX bank/credit-card statement (1.x SGML and 2.x XML)",
        sniff=sniff,
        parse=parse,
    )
)
