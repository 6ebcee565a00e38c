"""CAMT.053 (ISO 20022 bank-to-customer statement, XML): reads <Stmt>/<Ntry> into canonical records.

Read with lxml directly rather than `pycamt`. CAMT.053 is plain XML whose only difference
between versions .001.02 and .001.13 (for what a reconciliation needs) is the namespace and a
few wrappers (`<Sts>BOOK</Sts>` became `<Sts><Cd>BOOK</Cd></Sts>` in .001.08). Matching
elements by local name therefore reads every version, and namespace-less files, with one code
path. pycamt was tried and set aside: it recognises only five versions, turns debit balances
into floats, has no notion of OPBD/PRCD opening balances or pending entries, gives no line
numbers, and is not one of the project's dependencies. lxml also gives each <Ntry> its
`sourceline`, refuses truncated files with the line where they stop, and is configured here
never to resolve entities or touch the network.

Choices, each a reading of the standard:

* one record per booked <Ntry> (Sts BOOK, or no status): the amount that moved on the account
  and the one the balances add up to. A batch entry (<Btch>, several <TxDtls>) stays one
  record, like the one bulk credit it is on the bank side; its per-payment references are not
  the entry's. Pending (PDNG) and information-only (INFO) entries are left out, with a note;
* direction is <CdtDbtInd> as booked. A reversal (<RvslInd>true) already carries the direction
  of the reversing booking, so, unlike MT940's RC/RD, it is not flipped;
* utr, in order: a rail reference found in the narration; the single transaction's <TxId>
  (the interbank reference NEFT/RTGS/IMPS call the UTR); its <EndToEndId> (unless
  NOTPROVIDED); the entry's <AcctSvcrRef>, the bank's own reference;
* record_id is the entry's <AcctSvcrRef> (unique at the bank), else <NtryRef> (often only a
  sequence number within the statement), else left to `finalize`;
* opening balance is OPBD, else PRCD (how .001.02 files often state it); closing is CLBD.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from hisaab.errors import AmountError, CurrencyError, FormatError
from hisaab.ingest.formats import StandardFormat, register
from hisaab.ingest.formats import statement as statement_rules
from hisaab.ingest.narration import extract_utr
from hisaab.ingest.records import (
    Balance,
    NormalizedFile,
)
from hisaab.money import Direction, normalize_currency, parse_amount

NAME = "camt053"

_Element = etree._Element
_NAMESPACE = re.compile(r"camt\.053\.001\.(\d{2})")
_XML_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:\d{2})?$")
_DECLARED_ENCODING = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2")
_LATE_DECLARATION = re.compile(rb"^(\s+)(<\?xml[^>]*\?>)")
_NO_REFERENCE = frozenset({"", "NOTPROVIDED", "NONREF"})
_OPENING_CODES = ("OPBD", "PRCD")
_CLOSING_CODES = ("CLBD",)


def sniff(head: bytes) -> bool:
    """A CAMT.053 file names the camt.053 namespace or has a <BkToCstmrStmt> element."""
    return b"camt.053" in head or b"BkToCstmrStmt" in head


def parse(path: Path, *, source: str = "bank", strict: bool = False) -> NormalizedFile:
    """Read a CAMT.053 file: one record per booked entry, balances checked per statement."""
    path = Path(path)
    report = statement_rules.Report(path, strict=strict)
    root = _load(path, report.notes)
    statements = _statements(root, path)
    rows: list[dict[str, Any]] = []
    opening: Balance | None = None
    closing: Balance | None = None
    for index, statement in enumerate(statements):
        statement_rows, statement_opening, statement_closing = _read_statement(
            statement, path, source, report
        )
        rows.extend(statement_rows)
        if index == 0:
            opening = statement_opening
        closing = statement_closing
    return report.result(rows, NAME, opening=opening, closing=closing)


# --- reading the XML -------------------------------------------------------------------------


def _xml_parser() -> etree.XMLParser:
    # Bank files are untrusted input: no entity expansion, no DTD, no network.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _load(path: Path, notes: list[str]) -> _Element:
    raw = path.read_bytes()
    if not raw.strip():
        raise FormatError(
            "the file is empty", file=path, expected="a CAMT.053 XML document (<Document>)"
        )
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    late = _LATE_DECLARATION.match(raw)
    if late:
        # Blank lines before <?xml ...?> make it illegal; blanking the declaration out (same
        # length, so line numbers hold) leaves a document lxml reads as UTF-8.
        raw = raw[: late.start(2)] + b" " * len(late.group(2)) + raw[late.end(2) :]
    try:
        return etree.fromstring(raw, _xml_parser())
    except etree.XMLSyntaxError as first_error:
        recoded = _as_utf8(raw)
        if recoded is not None:
            try:
                root = etree.fromstring(recoded, _xml_parser())
            except etree.XMLSyntaxError:
                pass
            else:
                notes.append(f"{path.name}: not valid UTF-8, read as Windows-1252")
                return root
        raise FormatError(
            f"not well-formed XML: {first_error.msg}",
            file=path,
            line=first_error.lineno or None,
            expected="a complete CAMT.053 XML document",
        ) from first_error


def _as_utf8(raw: bytes) -> bytes | None:
    """Windows-1252 bytes in a file that claims UTF-8 (a common export bug), re-encoded."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return None  # valid UTF-8: the syntax error is real
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # the five bytes Windows-1252 leaves undefined
    return _DECLARED_ENCODING.sub(rb'\1"UTF-8"', text.encode("utf-8"), count=1)


def _local(element: _Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _children(element: _Element | None, name: str) -> list[_Element]:
    if element is None:
        return []
    return [child for child in element if _local(child) == name]


def _child(element: _Element | None, *path: str) -> _Element | None:
    for name in path:
        found = _children(element, name)
        if not found:
            return None
        element = found[0]
    return element


def _text(element: _Element | None, *path: str) -> str | None:
    found = _child(element, *path)
    if found is None or found.text is None:
        return None
    text = " ".join(found.text.split())
    return text or None


def _line(element: _Element) -> int | None:
    line: object = element.sourceline
    return line if isinstance(line, int) and line > 0 else None


def _statements(root: _Element, path: Path) -> list[_Element]:
    namespace = etree.QName(root.tag).namespace if isinstance(root.tag, str) else None
    if namespace and not _NAMESPACE.search(namespace):
        raise FormatError(
            f"the document is {namespace}, not a CAMT.053 statement",
            file=path,
            line=_line(root),
            expected="the namespace urn:iso:std:iso:20022:tech:xsd:camt.053.001.NN",
        )
    message = _child(root, "BkToCstmrStmt") if _local(root) == "Document" else None
    if message is None and _local(root) == "BkToCstmrStmt":
        message = root
    if message is None:
        raise FormatError(
            f"the root element is <{_local(root)}>, not a CAMT.053 statement",
            file=path,
            line=_line(root),
            expected="<Document><BkToCstmrStmt>...",
        )
    statements = _children(message, "Stmt")
    if not statements:
        raise FormatError(
            "the statement message holds no <Stmt>",
            file=path,
            line=_line(message),
            expected="at least one <Stmt> in <BkToCstmrStmt>",
        )
    return statements


# --- values ----------------------------------------------------------------------------------


def _date(text: str, what: str, path: Path, line: int | None) -> date:
    match = _XML_DATE.match(text)
    try:
        if match is None:
            raise ValueError(text)
        return date.fromisoformat(match.group(1))
    except ValueError:
        raise FormatError(
            f"impossible {what} {text!r}",
            file=path,
            line=line,
            expected="a real calendar date written YYYY-MM-DD",
        ) from None


def _datetime(text: str, what: str, path: Path, line: int | None) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise FormatError(
            f"impossible {what} {text!r}",
            file=path,
            line=line,
            expected="a real date and time written YYYY-MM-DDThh:mm:ss",
        ) from None


def _when(holder: _Element | None, what: str, path: Path) -> tuple[date, str] | None:
    """The date of a <BookgDt>/<ValDt>/<Dt> holder, with its ISO text (date-time if given)."""
    if holder is None:
        return None
    line = _line(holder)
    day = _text(holder, "Dt")
    if day is not None:
        found = _date(day, what, path, line)
        return found, found.isoformat()
    moment = _text(holder, "DtTm")
    if moment is not None:
        stamp = _datetime(moment, what, path, line)
        return stamp.date(), stamp.isoformat()
    return None


def _currency(text: str, path: Path, line: int | None) -> str:
    try:
        return normalize_currency(text)
    except CurrencyError as exc:
        raise FormatError(exc.message, file=path, line=line, expected=exc.expected) from exc


def _amount(amount: _Element, currency: str, path: Path) -> int:
    """Signed minor units of an <Amt> (the sign comes from <CdtDbtInd>, not from here)."""
    text = (amount.text or "").strip()
    try:
        return parse_amount(text, currency)
    except AmountError as exc:
        raise FormatError(
            f"<Amt> {text!r}: {exc.message}",
            file=path,
            line=_line(amount),
            expected="an amount such as 1500.00",
        ) from exc


def _direction(element: _Element, path: Path) -> Direction:
    indicator = _text(element, "CdtDbtInd")
    if indicator == "CRDT":
        return "CR"
    if indicator == "DBIT":
        return "DR"
    raise FormatError(
        f"credit/debit indicator {indicator!r} is neither CRDT nor DBIT",
        file=path,
        line=_line(element),
        expected="<CdtDbtInd>CRDT</CdtDbtInd> or <CdtDbtInd>DBIT</CdtDbtInd>",
    )


def _reference(text: str | None) -> str | None:
    if text is None or text.upper() in _NO_REFERENCE:
        return None
    return text


def _describe(statement: _Element) -> str:
    identifier = _text(statement, "Id")
    account = _text(statement, "Acct", "Id", "IBAN") or _text(statement, "Acct", "Id", "Othr", "Id")
    text = f"statement {identifier!r}" if identifier else "statement"
    return f"{text} (account {account})" if account else text


# --- statements ------------------------------------------------------------------------------


def _balances(
    statement: _Element, path: Path, notes: list[str]
) -> dict[str, tuple[Balance, _Element]]:
    found: dict[str, tuple[Balance, _Element]] = {}
    for bal in _children(statement, "Bal"):
        code = _text(bal, "Tp", "CdOrPrtry", "Cd") or _text(bal, "Tp", "CdOrPrtry", "Prtry")
        if code is None or code in found:
            continue
        amount = _child(bal, "Amt")
        if amount is None or not (amount.text or "").strip():
            notes.append(f"{path.name} line {_line(bal)}: blank {code} balance ignored")
            continue
        minor, currency = _unsigned_amount(
            amount,
            _text(statement, "Acct", "Ccy"),
            path,
            what=f"{code} balance",
            currency_expected='a currency on the amount, such as <Amt Ccy="INR">',
            sign_expected="an unsigned amount, its sign given by <CdtDbtInd>",
        )
        signed = -minor if _direction(bal, path) == "DR" else minor
        when = _when(_child(bal, "Dt"), f"{code} balance date", path)
        found[code] = (Balance(signed, currency, when[0] if when else None), bal)
    return found


def _pick(
    balances: dict[str, tuple[Balance, _Element]], codes: tuple[str, ...]
) -> tuple[Balance, _Element] | None:
    return next((balances[code] for code in codes if code in balances), None)


def _status(entry: _Element) -> str | None:
    # .001.02-.001.07: <Sts>BOOK</Sts>; .001.08 on: <Sts><Cd>BOOK</Cd></Sts>.
    return _text(entry, "Sts") or _text(entry, "Sts", "Cd") or _text(entry, "Sts", "Prtry")


def _narration(entry: _Element, details: list[_Element]) -> str | None:
    pieces = [_text(entry, "AddtlNtryInf")]
    # A batch's remittance lines belong to its payments, not to the one booked entry.
    if len(details) == 1:
        remittance = _child(details[0], "RmtInf")
        pieces += [_text(line) for line in _children(remittance, "Ustrd")]
        pieces.append(_text(details[0], "AddtlTxInf"))
    parts: list[str] = []
    for piece in pieces:
        if piece and piece not in parts:
            parts.append(piece)
    return " ".join(parts) or None


def _read_statement(
    statement: _Element, path: Path, source: str, report: statement_rules.Report
) -> tuple[list[dict[str, Any]], Balance | None, Balance | None]:
    notes = report.notes
    balances = _balances(statement, path, notes)
    opening = _pick(balances, _OPENING_CODES)
    closing = _pick(balances, _CLOSING_CODES)
    account_currency = _text(statement, "Acct", "Ccy")
    rows: list[dict[str, Any]] = []
    credits = debits = 0
    left_out = 0
    for entry in _children(statement, "Ntry"):
        line = _line(entry)
        status = _status(entry)
        if status not in (None, "BOOK"):
            left_out += 1
            continue
        amount = _child(entry, "Amt")
        if amount is None:
            raise FormatError(
                "entry has no amount", file=path, line=line, expected="an <Amt> in each <Ntry>"
            )
        minor, currency = _unsigned_amount(
            amount,
            account_currency,
            path,
            what="entry",
            currency_expected=(
                'a currency on the amount, such as <Amt Ccy="INR">, or an account <Ccy>'
            ),
            sign_expected="an unsigned amount, its direction given by <CdtDbtInd>",
        )
        direction = _direction(entry, path)
        if direction == "CR":
            credits += minor
        else:
            debits += minor
        booked = _when(_child(entry, "BookgDt"), "booking date", path)
        valued = _when(_child(entry, "ValDt"), "value date", path)
        dated = valued or booked
        if dated is None:
            raise FormatError(
                "entry has neither a value date nor a booking date",
                file=path,
                line=line,
                expected="<ValDt> or <BookgDt> in each <Ntry>",
            )
        details = [
            detail
            for entry_details in _children(entry, "NtryDtls")
            for detail in _children(entry_details, "TxDtls")
        ]
        single = details[0] if len(details) == 1 else None
        narration = _narration(entry, details)
        utr = (
            extract_utr(narration)
            or _reference(_text(single, "Refs", "TxId"))
            or _reference(_text(single, "Refs", "EndToEndId"))
            or _reference(_text(entry, "AcctSvcrRef"))
            or _reference(_text(single, "Refs", "AcctSvcrRef"))
        )
        rows.append(
            {
                "record_id": _reference(_text(entry, "AcctSvcrRef"))
                or _reference(_text(entry, "NtryRef")),
                "source": source,
                "amount_minor": minor,
                "currency": currency,
                "direction": direction,
                "value_date": dated[0],
                "booked_at": booked[1] if booked else None,
                "utr": utr,
                "narration": narration,
                "source_file": str(path),
                "source_line": line,
            }
        )
    if left_out:
        notes.append(
            f"{path.name}: {_describe(statement)}: {left_out} "
            f"{'entry' if left_out == 1 else 'entries'} not booked (pending or information "
            "only) left out"
        )
    _check(statement, rows, opening, closing, credits, debits, path, report)
    return rows, opening[0] if opening else None, closing[0] if closing else None


def _check(
    statement: _Element,
    rows: list[dict[str, Any]],
    opening: tuple[Balance, _Element] | None,
    closing: tuple[Balance, _Element] | None,
    credits: int,
    debits: int,
    path: Path,
    report: statement_rules.Report,
) -> None:
    if opening is None or closing is None:
        report.unchecked(_describe(statement))
        return
    (start, _), (end, end_element) = opening, closing
    currency = end.currency
    for row in rows:
        if row["currency"] != currency:
            raise FormatError(
                f"entry in {row['currency']} in a statement whose balances are in {currency}",
                file=path,
                line=row["source_line"],
                expected=f"entries in the account currency {currency}",
            )
    report.check_balances(
        what=_describe(statement),
        opening_minor=start.amount_minor,
        credits=credits,
        debits=debits,
        closing_minor=end.amount_minor,
        currency=currency,
        line=_line(end_element),
        as_of=end.as_of,
    )


def _unsigned_amount(
    amount: _Element,
    fallback_currency: str | None,
    path: Path,
    *,
    what: str,
    currency_expected: str,
    sign_expected: str,
) -> tuple[int, str]:
    """An <Amt>'s minor units and currency: CAMT amounts are unsigned (<CdtDbtInd> signs them)."""
    currency_text = amount.get("Ccy") or fallback_currency
    if not currency_text:
        raise FormatError(
            f"{what} states no currency", file=path, line=_line(amount), expected=currency_expected
        )
    currency = _currency(currency_text, path, _line(amount))
    minor = _amount(amount, currency, path)
    if minor < 0:
        raise FormatError(
            f"{what} amount {amount.text!r} carries a sign",
            file=path,
            line=_line(amount),
            expected=sign_expected,
        )
    return minor, currency


register(
    StandardFormat(
        name=NAME,
        description="ISO 20022 CAMT.053 bank-to-customer statement (XML, .001.02 to .001.13)",
        sniff=sniff,
        parse=parse,
    )
)
