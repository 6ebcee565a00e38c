"""OFX bank, credit-card and investment statements (1.x SGML, 2.x XML) into canonical records.

Which reader does what, and why:

* An OFX 2.x file that is well-formed XML is read with lxml (entities never resolved, no
  network), which gives each element its line.
* Everything else is read by a small lenient reader here: OFX 1.x SGML, and "OFX 2" files
  whose body is SGML or not well-formed XML (an OFX 2 header over an SGML body, an unescaped
  "&" in a name, an aggregate never closed). ofxtools' `TreeBuilder` refuses such files
  (mismatched or missing end tags, text after an end tag, an element still open at the end),
  and a bank's file should not be turned away for one of them. The reader keeps SGML's rules
  for OFX: an element followed by text is a leaf that ends at the next tag (an end tag after
  it is accepted, not required); an element that ofxtools' models know as an aggregate
  (STMTTRN, CURRENCY, LEDGERBAL, ...; `ofxtools.models`) stays open until its end tag, the
  end tag of an element around it, or its own next start tag (so a missing </STMTTRN> or
  </BANKTRANLIST> costs nothing); an empty element that is not an aggregate (<MEMO>,
  <MEMO></MEMO>, <MEMO/>) is an empty leaf; an end tag with nothing open to close is
  ignored. A file that ends inside a transaction or a transaction list is refused as
  truncated; one that only misses the end tags after its last statement is read, with a note.
* ofxtools' date-time reader (`ofxtools.Types.DateTime`, which knows offsets such as
  `[-5:EST]`, `[0:GMT]`, `[+5:30:IST]`) and its entity unescaping (`ofxtools.Types.String`)
  are used too. Its model layer (`OFXTree.convert`) is not: it enforces US field widths (a
  9-digit BANKID, a 32-character NAME) that Indian and Kenyan bank exports do not keep, and
  it would turn a whole statement away for one long payee name.

Statements read: bank (STMTRS), credit card (CCSTMTRS) and the cash transactions of an
investment statement (INVSTMTRS: the STMTTRN in each INVBANKTRAN); securities trades (BUYMF,
SELLSTOCK, INCOME, ...) are not cash entries of the account and are left out, with a note.
A file may hold several statements (several STMTTRNRS, or several STMTRS in one).

Per record: TRNAMT's sign gives the direction (a written "-0.00" is a debit of zero; a blank
or missing amount is read as 0, with a note); a decimal comma ("-12,50") and a leading "+"
are accepted. The currency is the transaction's <CURRENCY><CURSYM> when it has one (its
amounts are in that currency), else the statement's CURDEF (an <ORIGCURRENCY> only says
which currency the bank converted from). DTAVAIL (the value date, when the bank gives it)
else DTPOSTED gives `value_date`; DTPOSTED gives `booked_at` (UTC when it has a time, the
date the bank wrote when it has none or when its time zone cannot be read). FITID is the
`record_id` (one is derived from the record's content when the bank gives none, with a
note), never the UTR: the UTR is a rail reference found in NAME/MEMO, else REFNUM. OFX states
only a closing LEDGERBAL, so there is no opening balance and nothing to check it against;
the last statement's LEDGERBAL is the file's closing balance.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from lxml import etree

from hisaab.errors import AmountError, CurrencyError, FormatError
from hisaab.ingest.formats import StandardFormat, register, statement
from hisaab.ingest.narration import extract_utr
from hisaab.ingest.records import Balance, NormalizedFile
from hisaab.money import Direction, normalize_currency, parse_amount

NAME = "ofx"

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_OFX_START = re.compile(r"<OFX\b[^<>]*>", re.IGNORECASE)
_XML_HEADER = re.compile(r"<\?(xml|OFX)\b", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(r"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2")
_LATE_DECLARATION = re.compile(r"^(\s+)(<\?xml[^>]*\?>)")
_TOKEN = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<!\[CDATA\[(?P<cdata>.*?)(?:\]\]>|\Z)"
    r"|<[?!][^<>]*>"
    r"|<(?P<end>/)?\s*(?P<tag>[A-Za-z][\w.:-]*)[^<>]*?(?P<empty>/)?\s*>"
    r"|(?P<text>[^<]+|<)",
    re.DOTALL,
)
_BLANK_AMOUNT = re.compile(r"[\s+\-.,]*")
_STATEMENT_TAGS = ("STMTRS", "CCSTMTRS", "INVSTMTRS")
_TRANSACTION_LISTS = ("BANKTRANLIST", "INVTRANLIST")
_BALANCES = ("LEDGERBAL", "AVAILBAL", "INVBAL")


@dataclass(frozen=True)
class _Models:
    """What this reader takes from ofxtools: its element names, date-time and text readers."""

    aggregates: frozenset[str]
    leaves: frozenset[str]
    datetime: Any
    text: Any


@functools.cache
def _models() -> _Models:
    """ofxtools, loaded on the first OFX file: importing its models takes about 0.2 s, which
    every other command (a canonical reconcile among them) would otherwise pay at start-up."""
    from ofxtools import Types
    from ofxtools.models.base import Aggregate  # importing it loads every OFX model

    aggregates, leaves = _model_names(Aggregate, Types.Element)
    return _Models(aggregates, leaves, Types.DateTime(), Types.String())


def _model_names(root: type, element: type) -> tuple[frozenset[str], frozenset[str]]:
    """Aggregate and leaf element names, as ofxtools' models of the OFX specification know them."""
    classes: set[type] = set()
    pending: list[type] = [root]
    while pending:
        subclass: type
        for subclass in pending.pop().__subclasses__():
            if subclass not in classes:
                classes.add(subclass)
                pending.append(subclass)
    aggregates = {cls.__name__ for cls in classes if cls.__module__.startswith("ofxtools.")}
    elements = {
        name.upper()
        for cls in classes
        for name, spec in vars(cls).items()
        if isinstance(spec, element)
    }
    return frozenset(aggregates), frozenset(elements - aggregates)


@dataclass(eq=False)
class _Node:
    """An element of either reader's tree: its tag, its text (leaves), children and line."""

    tag: str
    line: int | None
    text: str | None = None
    children: list[_Node] = field(default_factory=list)

    def find(self, tag: str) -> _Node | None:
        for child in self.children:
            if child.tag == tag:
                return child
        return None

    def iter(self, tag: str | None = None) -> Iterator[_Node]:
        if tag is None or self.tag == tag:
            yield self
        for child in self.children:
            yield from child.iter(tag)


def _value(node: _Node | None, *path: str) -> str | None:
    for name in path:
        if node is None:
            return None
        node = node.find(name)
    if node is None or node.text is None:
        return None
    text = " ".join(node.text.split())
    return text or None


def sniff(head: bytes) -> bool:
    """An OFX file starts with an OFXHEADER:100 block, an <?OFX ...?> declaration or <OFX>."""
    upper = head.upper()
    return b"OFXHEADER" in upper or b"<OFX>" in upper


def parse(path: Path, *, source: str = "bank", strict: bool = False) -> NormalizedFile:
    """Read an OFX file: one record per cash <STMTTRN>, the last statement's LEDGERBAL as
    closing.

    OFX states no opening balance, so there is no balance identity to find broken; `strict`
    is accepted for the common signature."""
    path = Path(path)
    report = statement.Report(path, strict=strict)
    text = statement.decode(path.read_bytes(), path, report.notes, expected="an OFX statement")
    start = _OFX_START.search(text)
    if start is None:
        raise FormatError(
            "no <OFX> element found",
            file=path,
            expected="an OFX header followed by <OFX>...</OFX>",
        )
    lines = _Lines(text)
    root: _Node | None = None
    if _XML_HEADER.search(text, 0, start.start()):
        root = _read_xml(text, path, report)
    if root is None:
        root = _read_sgml(text, start.start(), lines, path, report)
    statements = [node for node in root.iter() if node.tag in _STATEMENT_TAGS]
    if not statements:
        raise FormatError(
            "no bank, credit-card or investment statement found",
            file=path,
            line=lines.line_of(start.start()),
            expected="a <STMTRS>, <CCSTMTRS> or <INVSTMTRS> aggregate",
        )
    reader = _StatementReader(path, source, report)
    rows: list[dict[str, Any]] = []
    closing: Balance | None = None
    for stmt in statements:
        rows.extend(reader.read(stmt))
        closing = reader.ledger_balance(stmt)
    if reader.derived_ids:
        report.note(
            f"{path.name}: {reader.derived_ids} transaction(s) without a FITID got an id"
            " derived from their content"
        )
    return report.result(rows, NAME, opening=None, closing=closing)


class _Lines:
    """Line numbers of offsets in the text."""

    def __init__(self, text: str) -> None:
        self.starts = [match.end() for match in _LINE_BREAK.finditer(text)]

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) + 1


def _read_xml(text: str, path: Path, report: statement.Report) -> _Node | None:
    """OFX 2.x read by lxml; None (with a note) when it is not well-formed XML."""
    late = _LATE_DECLARATION.match(text)
    if late:
        # Blank lines before <?xml ...?> make it illegal: blank it out, keeping the lines.
        text = text[: late.start(2)] + " " * len(late.group(2)) + text[late.end(2) :]
    data = _DECLARED_ENCODING.sub(r'\1"UTF-8"', text, count=1).encode("utf-8")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        element = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        report.note(
            f"{path.name}: not well-formed XML (line {exc.lineno}: {exc.msg}); read as OFX"
            " SGML instead"
        )
        return None
    return _from_lxml(element)


def _from_lxml(element: Any) -> _Node:
    line: object = element.sourceline
    node = _Node(str(element.tag).upper(), line if isinstance(line, int) and line > 0 else None)
    for child in element:
        if isinstance(child.tag, str):
            node.children.append(_from_lxml(child))
    if not node.children:
        node.text = element.text
    return node


def _read_sgml(
    text: str, body_start: int, lines: _Lines, path: Path, report: statement.Report
) -> _Node:
    """OFX read by SGML's rules, leniently (see the module docstring)."""
    root = _Node("#document", None)
    stack = [root]
    waiting: _Node | None = None  # the element whose start tag came last: leaf or aggregate?
    closings = _Closings(text)
    for token in _TOKEN.finditer(text, body_start):
        tag = token.group("tag")
        if tag is None:
            cdata, words = token.group("cdata"), token.group("text")
            value = cdata is not None or bool(words and words.strip())
            # Text belongs to the leaf just opened; stray text inside an aggregate is dropped.
            if waiting is not None and value and waiting.tag not in _models().aggregates:
                waiting.text = cdata if cdata is not None else _unescape(str(words))
                stack.pop()
                waiting = None
            continue
        tag = tag.upper()
        if token.group("end"):
            waiting = None
            for depth in range(len(stack) - 1, 0, -1):
                if stack[depth].tag == tag:
                    del stack[depth:]
                    break
            continue
        if waiting is not None and not closings.is_aggregate(waiting.tag, token.start()):
            stack.pop()  # an empty leaf: <MEMO> followed by the next tag
        waiting = None
        if tag in _models().aggregates:
            # A second <STMTTRN> closes the first when its </STMTTRN> never came.
            for depth in range(len(stack) - 1, 0, -1):
                if stack[depth].tag == tag:
                    del stack[depth:]
                    break
        node = _Node(tag, lines.line_of(token.start()))
        stack[-1].children.append(node)
        if not token.group("empty"):
            stack.append(node)
            waiting = node
    if waiting is not None and not closings.is_aggregate(waiting.tag, len(text)):
        stack.pop()
    _check_end(stack[1:], lines.line_of(len(text.rstrip())), path, report)
    return root


def _unescape(text: str) -> str:
    if "&" not in text:
        return text
    converted: object = _models().text.convert(text)
    return converted if isinstance(converted, str) else text


class _Closings:
    """Tells an aggregate from an empty leaf for tags ofxtools does not know: an element is an
    aggregate when its end tag comes before its next start tag."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.cache: dict[str, tuple[list[int], list[int]]] = {}

    def is_aggregate(self, tag: str, offset: int) -> bool:
        if tag in _models().aggregates:
            return True
        if tag in _models().leaves:
            return False
        if tag not in self.cache:
            pattern = re.compile(rf"<(/?)\s*{re.escape(tag)}\s*>", re.IGNORECASE)
            starts: list[int] = []
            ends: list[int] = []
            for match in pattern.finditer(self.text):
                (ends if match.group(1) else starts).append(match.start())
            self.cache[tag] = (starts, ends)
        starts, ends = self.cache[tag]
        next_end = bisect.bisect_left(ends, offset)
        if next_end == len(ends):
            return False
        next_start = bisect.bisect_left(starts, offset)
        return next_start == len(starts) or ends[next_end] < starts[next_start]


def _check_end(still_open: list[_Node], line: int, path: Path, report: statement.Report) -> None:
    """Elements still open at the end: a cut transaction list is refused, missing end tags
    after the last statement are only noted."""
    if not still_open:
        return
    for node in reversed(still_open):
        cut_list = node.tag in _TRANSACTION_LISTS and not any(
            child.tag in _BALANCES for child in node.children
        )
        if node.tag in ("STMTTRN", "INVBANKTRAN") or cut_list:
            raise FormatError(
                f"the file stops before </OFX>, inside the <{node.tag}> of line {node.line}:"
                " it looks truncated",
                file=path,
                line=line,
                expected="an OFX document that ends with </OFX>",
            )
    names = ", ".join(f"</{node.tag}>" for node in reversed(still_open))
    report.note(f"{path.name}: the file ends without {names}; read as if they were there")


def _currency(text: str, path: Path, line: int | None) -> str:
    try:
        return normalize_currency(text)
    except CurrencyError as exc:
        raise FormatError(exc.message, file=path, line=line, expected=exc.expected) from exc


def _amount(text: str, currency: str, what: str, path: Path, line: int | None) -> int:
    # OFX allows a decimal comma ("-250,50") where the bank's locale writes one.
    comma, point = text.rfind(","), text.rfind(".")
    separator = "," if comma > point else "."
    try:
        return parse_amount(text, currency, decimal_separator=separator)
    except AmountError as exc:
        raise FormatError(
            f"{what} {text!r}: {exc.message}",
            file=path,
            line=line,
            expected="an amount such as -250.50",
        ) from exc


def _date(text: str, what: str, path: Path, line: int | None) -> tuple[date, str | None]:
    """The calendar date the bank wrote, and an ISO timestamp in UTC when the time can be read
    (None when only the date can)."""
    try:
        if not text[:8].isdigit():
            raise ValueError(text)
        day = date(int(text[0:4]), int(text[4:6]), int(text[6:8]))
    except ValueError as exc:
        raise FormatError(
            f"impossible {what} {text!r}",
            file=path,
            line=line,
            expected="a real date written YYYYMMDD, optionally with HHMMSS[.XXX][offset:TZ]",
        ) from exc
    if len(text) == 8:
        return day, day.isoformat()
    try:
        moment: object = _models().datetime.convert(re.sub(r"\s+", "", text))
    except (ValueError, TypeError):
        return day, None
    return day, moment.isoformat() if isinstance(moment, date) else None


class _StatementReader:
    def __init__(self, path: Path, source: str, report: statement.Report) -> None:
        self.path = path
        self.source = source
        self.report = report
        self.derived_ids = 0

    def read(self, stmt: _Node) -> list[dict[str, Any]]:
        default = _value(stmt, "CURDEF")
        currency = _currency(default, self.path, stmt.line) if default else None
        if stmt.tag == "INVSTMTRS":
            transactions = self._cash_transactions(stmt)
        else:
            transactions = list(stmt.iter("STMTTRN"))
        return [self._row(node, currency, stmt) for node in transactions]

    def _cash_transactions(self, stmt: _Node) -> list[_Node]:
        transactions: list[_Node] = []
        trades: set[str] = set()
        left_out = 0
        for tranlist in stmt.iter("INVTRANLIST"):
            for child in tranlist.children:
                if child.tag == "INVBANKTRAN":
                    transactions.extend(child.iter("STMTTRN"))
                elif child.tag not in ("DTSTART", "DTEND"):
                    trades.add(child.tag)
                    left_out += 1
        if left_out:
            self.report.note(
                f"{self.path.name} line {stmt.line}: {left_out} securities transaction(s)"
                f" ({', '.join(sorted(trades))}) are not cash entries and were left out;"
                f" {len(transactions)} cash transaction(s) (INVBANKTRAN) were read"
            )
        return transactions

    def _row(self, node: _Node, default: str | None, stmt: _Node) -> dict[str, Any]:
        path, line = self.path, node.line
        currency_text = _value(node, "CURRENCY", "CURSYM")
        if currency_text is None and default is None:
            currency_text = _value(node, "ORIGCURRENCY", "CURSYM")
        if currency_text is not None:
            currency = _currency(currency_text, path, line)
        elif default is not None:
            currency = default
        else:
            raise FormatError(
                "statement states no currency",
                file=path,
                line=stmt.line,
                expected="a <CURDEF> such as INR in each statement",
            )
        amount_text = _value(node, "TRNAMT")
        if amount_text is None or _BLANK_AMOUNT.fullmatch(amount_text):
            self.report.note(
                f"{path.name} line {line}: a transaction with no amount"
                f" ({amount_text or 'blank'}) was read as 0"
            )
            signed = 0
        else:
            signed = _amount(amount_text, currency, "TRNAMT", path, line)
        is_debit = signed < 0 or (signed == 0 and (amount_text or "").startswith("-"))
        direction: Direction = "DR" if is_debit else "CR"
        posted_text = _value(node, "DTPOSTED") or _value(node, "DTUSER")
        if posted_text is None:
            raise FormatError(
                "transaction has no posting date",
                file=path,
                line=line,
                expected="a <DTPOSTED> in each <STMTTRN>",
            )
        posted, booked_at = _date(posted_text, "DTPOSTED", path, line)
        if booked_at is None:
            self.report.note(
                f"{path.name} line {line}: the time of DTPOSTED {posted_text!r} cannot be"
                " read; its date was used"
            )
            booked_at = posted.isoformat()
        available_text = _value(node, "DTAVAIL")
        value_date = _date(available_text, "DTAVAIL", path, line)[0] if available_text else posted
        narration = _narration(node)
        fitid = _value(node, "FITID")
        if fitid is None:
            self.derived_ids += 1
        return {
            "record_id": fitid,
            "source": self.source,
            "amount_minor": abs(signed),
            "currency": currency,
            "direction": direction,
            "value_date": value_date,
            "booked_at": booked_at,
            "utr": extract_utr(narration) or _value(node, "REFNUM"),
            "narration": narration,
            "source_file": str(path),
            "source_line": line,
        }

    def ledger_balance(self, stmt: _Node) -> Balance | None:
        ledger = next(stmt.iter("LEDGERBAL"), None)
        if ledger is None:
            return None
        line = ledger.line
        amount_text = _value(ledger, "BALAMT")
        default = _value(stmt, "CURDEF")
        if amount_text is None or default is None:
            what = "an amount" if amount_text is None else "a currency (CURDEF)"
            self.report.note(f"{self.path.name} line {line}: LEDGERBAL without {what} ignored")
            return None
        currency = _currency(default, self.path, stmt.line)
        as_of_text = _value(ledger, "DTASOF")
        as_of = _date(as_of_text, "DTASOF", self.path, line)[0] if as_of_text else None
        return Balance(_amount(amount_text, currency, "BALAMT", self.path, line), currency, as_of)


def _narration(node: _Node) -> str | None:
    parts: list[str] = []
    for piece in (_value(node, "NAME"), _value(node, "PAYEE", "NAME"), _value(node, "MEMO")):
        if piece and piece not in parts:
            parts.append(piece)
    return " ".join(parts) or None


register(
    StandardFormat(
        name=NAME,
        description="OFX bank/credit-card/investment statement (1.x SGML and 2.x XML)",
        sniff=sniff,
        parse=parse,
    )
)
