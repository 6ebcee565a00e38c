"""CAMT.053 (ISO 20022 bank-to-customer statement, XML): reads <Stmt>/<Ntry> into canonical records.

Read with lxml directly rather than `pycamt`. CAMT.053 is plain XML whose only difference
between versions .001.02 and .001.13 (for what a reconciliation needs) is the namespace and a
few wrappers (`<Sts>BOOK</Sts>` became `<Sts><Cd>BOOK</Cd></Sts>` in .001.08). Matching
elements by local name therefore reads every version, namespace-less files and files with any
prefix, with one code path. pycamt was tried and set aside: it recognises only five versions,
turns debit balances into floats, has no notion of OPBD/PRCD opening balances or pending
entries, gives no line numbers, and is not one of the project's dependencies. lxml also gives
each element its `sourceline`, refuses truncated files with the line where they stop, and is
configured here never to resolve entities, load a DTD or touch the network.

camt.052 (account report, <Rpt>) and camt.054 (debit/credit notification, <Ntfctn>) carry
their entries in the same <Ntry> structure; a file of either kind is read the same way, with a
note saying what kind of message it is (an intraday report sent before anything was booked has
balances but no entries: it reads as no transactions, with a note). The message may sit in a
business message envelope, be named with its version (BkToCstmrStmtV01), and several
documents saved one after another in one file are all read.

Choices, each a reading of the standard:

* one record per booked <Ntry> (Sts BOOK, or no status): the amount that moved on the account
  and the one the balances add up to. Pending (PDNG), information-only (INFO) and future
  (FUTR) entries are left out, with a note counting them;
* a batch booking (one <Ntry>, several <TxDtls>) is one record per transaction detail when
  every detail carries an amount in the entry's currency (<Amt>, <AmtDtls><TxAmt> or
  <AmtDtls><CntrValAmt>) and the details' signed amounts add up to the entry, as accounting
  tools such as OCA's account_statement_import_camt book them. Each record then
  takes its detail's references, remittance information and counterparty. Details without
  amounts, or that do not add up, leave the entry one record, with a note: either way the
  records of an entry sum to the entry, so the balances are checked on what was booked;
* direction is <CdtDbtInd> as booked. A reversal (<RvslInd>true) already carries the direction
  of the reversing booking, so, unlike MT940's RC/RD, it is not flipped;
* utr, in order: a rail reference found in the narration; the transaction's <TxId> (the
  interbank reference NEFT/RTGS/IMPS call the UTR); its <EndToEndId> (unless NOTPROVIDED);
  the bank's own reference (<AcctSvcrRef>; a batch detail's own before its entry's);
* record_id is the entry's <AcctSvcrRef> (unique at the bank), else <NtryRef> (often only a
  sequence number within the statement), else left to `finalize`; a batch detail's record_id
  is the entry's with `/1`, `/2`... appended;
* an entry without <ValDt> or <BookgDt> takes the statement's date (its closing balance date,
  else its period end, else its creation date), with a note. A <Dt> written with a time of
  day, or a <DtTm> written unusually, counts for its calendar day, which must be real;
* amounts are decimals with a point; one written with a decimal comma ("1500,00",
  "1.500,00", as some exports do) is read as that decimal, with a note per statement;
* an amount without Ccy is in the account's <Ccy>, else in the currency the statement's other
  amounts name (a statement is of one account); only an entry in no currency at all is refused;
* opening balance is OPBD, else PRCD (previously closed booked, how .001.02 files often state
  it), else an ITBD (interim booked) that comes first on a page of several booked balances;
  closing is the last CLBD, else an ITBD that comes last. Available (OPAV, CLAV, FWAV, ITAV),
  information (INFO) and other balances are not ledger balances and stay out of the identity.
  A balance without <CdtDbtInd> is read as a credit, with a note;
* each statement's balances are checked on their own; a statement whose opening, closing and
  entries are not in one currency is a BALANCE_MISMATCH finding too (its balances cannot add
  up). The file's opening is the first statement's and its closing the last one's, when every
  statement is of one account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from hisaab.errors import AmountError, CurrencyError, FormatError
from hisaab.ingest.findings import BALANCE_MISMATCH
from hisaab.ingest.formats import StandardFormat, register
from hisaab.ingest.formats import statement as statement_rules
from hisaab.ingest.narration import extract_utr
from hisaab.ingest.records import Balance, NormalizedFile
from hisaab.money import Direction, exponent, normalize_currency, parse_amount

NAME = "camt053"

_Element = etree._Element
_NAMESPACE = re.compile(r"camt\.05[234]\.\d{3}\.\d{2}")
# A date, which some banks write with a time of day (2024-01-15T00:00:00) even in <Dt>.
_XML_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:T[0-9:.]+)?(?:Z|[+-]\d{2}:\d{2})?$")
_LEADING_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})")
_DECLARED_ENCODING = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2")
_LATE_DECLARATION = re.compile(rb"^(\s+)(<\?xml[^>]*\?>)")
_DECLARATION = re.compile(rb"<\?xml[^>]*\?>")
_ENCODING = re.compile(rb"encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
# An amount written with a decimal comma against the schema ("1500,00", "1.500,00").
_COMMA_DECIMAL = re.compile(r"^(?P<whole>\d+|\d{1,3}(?:\.\d{3})+),(?P<fraction>\d+)$")
_VERSIONED_NAME = re.compile(r"V\d+$")  # BkToCstmrStmtV01, as .001.01 names its message
_NO_REFERENCE = frozenset({"", "NOTPROVIDED", "NONREF"})
# message element -> (its repeated part, the message it is)
_MESSAGES = {
    "BkToCstmrStmt": ("Stmt", "camt.053"),
    "BkToCstmrAcctRpt": ("Rpt", "camt.052"),
    "BkToCstmrDbtCdtNtfctn": ("Ntfctn", "camt.054"),
}
_PART_NAMES = {"Stmt": "statement", "Rpt": "report", "Ntfctn": "notification"}
_KIND_NOTES = {
    "camt.052": "a camt.052 account report (intraday or interim), read like a statement",
    "camt.054": "a camt.054 debit/credit notification, read like a statement",
}
_NOT_BOOKED = {"PDNG": "pending", "INFO": "information only", "FUTR": "future"}
_LEDGER_CODES = frozenset({"OPBD", "PRCD", "ITBD", "CLBD"})
# Where a transaction detail states its amount, in the order tried; the first one in the
# entry's currency counts (CntrValAmt is the counter-value in the account currency).
_DETAIL_AMOUNTS = (("Amt",), ("AmtDtls", "TxAmt", "Amt"), ("AmtDtls", "CntrValAmt", "Amt"))


def sniff(head: bytes) -> bool:
    """A CAMT file names a camt.052/053/054 namespace or has a bank-to-customer message."""
    return b"camt.05" in head or b"BkToCstmr" in head


def parse(path: Path, *, source: str = "bank", strict: bool = False) -> NormalizedFile:
    """Read a CAMT.053 file: one record per booked entry (or batch detail), balances checked
    per statement."""
    path = Path(path)
    report = statement_rules.Report(path, strict=strict)
    rows: list[dict[str, Any]] = []
    read: list[_Read] = []
    kinds: set[str] = set()
    for root in _load(path, report.notes):
        kind, parts = _parts(root, path)
        if kind in _KIND_NOTES and kind not in kinds:
            report.note(f"{path.name}: {_KIND_NOTES[kind]}")
        if kind != "camt.053" and not any(_children(part, "Ntry") for part in parts):
            # An intraday report sent before anything was booked: its balances, no entries.
            report.note(
                f"{path.name}: the {kind} message has no entries; read as"
                f" {'a report' if kind == 'camt.052' else 'a notification'} without transactions"
            )
        kinds.add(kind)
        for part in parts:
            one = _read_statement(part, path, source, report)
            rows.extend(one.rows)
            read.append(one)
    accounts = {one.account for one in read}
    opening = closing = None
    if len(accounts) == 1:
        opening, closing = read[0].opening, read[-1].closing
    else:
        report.note(
            f"{path.name}: {len(read)} statements of {len(accounts)} accounts, each checked on"
            " its own; the file states no single opening or closing balance"
        )
    return report.result(rows, NAME, opening=opening, closing=closing)


# --- reading the XML -------------------------------------------------------------------------


def _xml_parser(encoding: str | None = None) -> etree.XMLParser:
    # Bank files are untrusted input: no entity expansion, no DTD, no network.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, encoding=encoding
    )


def _load(path: Path, notes: list[str]) -> list[_Element]:
    """The file's XML document, or its documents when several were saved one after another."""
    raw = path.read_bytes()
    if not raw.strip():
        raise FormatError(
            "the file is empty", file=path, expected="a CAMT.053 XML document (<Document>)"
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        # UTF-16 with a byte-order mark: re-encoded, so the byte handling below holds.
        text = raw.decode("utf-16")
        raw = _DECLARED_ENCODING.sub(rb'\1"UTF-8"', text.encode("utf-8"), count=1)
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    late = _LATE_DECLARATION.match(raw)
    if late:
        # Blank lines before <?xml ...?> make it illegal; moving them after the declaration
        # (which spans no line) keeps both its declared encoding and every line number.
        raw = late.group(2) + late.group(1) + raw[late.end() :]
    try:
        return [etree.fromstring(raw, _xml_parser())]
    except etree.XMLSyntaxError as first_error:
        recoded = _as_utf8(raw)
        if recoded is not None:
            try:
                root = etree.fromstring(recoded, _xml_parser())
            except etree.XMLSyntaxError:
                pass
            else:
                notes.append(f"{path.name}: not valid UTF-8, read as Windows-1252")
                return [root]
        several = _concatenated(raw)
        if several:
            notes.append(f"{path.name}: {len(several)} XML documents one after another, all read")
            return several
        raise FormatError(
            f"not well-formed XML: {first_error.msg}",
            file=path,
            line=first_error.lineno or None,
            expected="a complete CAMT.053 XML document",
        ) from first_error


def _concatenated(raw: bytes) -> list[_Element]:
    """Documents saved one after another in one file (each with its own <?xml ...?>), or []."""
    starts = [match.start() for match in _DECLARATION.finditer(raw)]
    if len(starts) < 2 or starts[0] != 0:
        return []
    roots: list[_Element] = []
    for start, end in zip(starts, [*starts[1:], len(raw)], strict=True):
        chunk = raw[start:end]
        declaration = _DECLARATION.match(chunk)
        if declaration is None:
            return []
        encoding = _ENCODING.search(declaration.group(0))
        # The declaration is blanked and the lines before the chunk restored, so each element
        # keeps the line it has in the file.
        body = (
            b"\n" * raw.count(b"\n", 0, start)
            + b" " * declaration.end()
            + chunk[declaration.end() :]
        )
        parser = _xml_parser(encoding.group(1).decode("ascii") if encoding else "UTF-8")
        try:
            roots.append(etree.fromstring(body, parser))
        except etree.XMLSyntaxError:
            return []
    return roots


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


def _parts(root: _Element, path: Path) -> tuple[str, list[_Element]]:
    """The message kind (camt.052/053/054) and its statements, reports or notifications."""
    namespace = etree.QName(root.tag).namespace if isinstance(root.tag, str) else None
    if namespace and "20022" in namespace and not _NAMESPACE.search(namespace):
        raise FormatError(
            f"the document is {namespace}, not a CAMT.053 statement",
            file=path,
            line=_line(root),
            expected="the namespace urn:iso:std:iso:20022:tech:xsd:camt.053.001.NN",
        )
    message = _message(root)
    if message is None:
        raise FormatError(
            f"the root element is <{_local(root)}>, not a CAMT.053 statement",
            file=path,
            line=_line(root),
            expected="<Document><BkToCstmrStmt>...",
        )
    part_name, kind = _MESSAGES[_message_name(message)]
    parts = _children(message, part_name)
    if not parts:
        raise FormatError(
            f"the {kind} message holds no <{part_name}>",
            file=path,
            line=_line(message),
            expected=f"at least one <{part_name}> in <{_local(message)}>",
        )
    return kind, parts


def _message_name(element: _Element) -> str:
    return _VERSIONED_NAME.sub("", _local(element))


def _message(root: _Element) -> _Element | None:
    """The <BkToCstmr...> element: the root, a child of <Document>, or of an envelope's."""
    if _message_name(root) in _MESSAGES:
        return root
    documents = [root] if _local(root) == "Document" else _children(root, "Document")
    for document in documents:
        for child in document:
            if _message_name(child) in _MESSAGES:
                return child
    return None


# --- values ----------------------------------------------------------------------------------


def _date(
    text: str,
    what: str,
    path: Path,
    line: int | None,
    expected: str = "a real calendar date written YYYY-MM-DD",
) -> date:
    match = _XML_DATE.match(text)
    try:
        if match is None:
            raise ValueError(text)
        return date.fromisoformat(match.group(1))
    except ValueError:
        raise FormatError(
            f"impossible {what} {text!r}", file=path, line=line, expected=expected
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
        try:
            stamp = datetime.fromisoformat(moment)
        except ValueError:
            # A time written unusually (11:17:11:735): the day still counts, and must be real.
            day_only = _date(
                moment, what, path, line, "a real date and time written YYYY-MM-DDThh:mm:ss"
            )
            return day_only, day_only.isoformat()
        return stamp.date(), stamp.isoformat()
    return None


def _day_of(text: str | None) -> date | None:
    """The calendar day a loosely written timestamp starts with (fallback dates only)."""
    match = _LEADING_DATE.match(text or "")
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def _currency(text: str, path: Path, line: int | None) -> str:
    try:
        return normalize_currency(text)
    except CurrencyError as exc:
        raise FormatError(exc.message, file=path, line=line, expected=exc.expected) from exc


def _decimal_text(text: str, currency: str) -> str:
    """An amount written with a decimal comma ("1500,00", "1.500,00") as the decimal point
    the schema asks for; any other text as it is. A comma followed by more digits than the
    currency has decimals ("1,500" in INR) is not read as a decimal comma."""
    match = _COMMA_DECIMAL.match(text)
    if match is None or len(match["fraction"]) > exponent(currency):
        return text
    return f"{match['whole'].replace('.', '')}.{match['fraction']}"


def _amount(amount: _Element, currency: str, path: Path) -> int:
    """Minor units of an <Amt> (the sign comes from <CdtDbtInd>, not from here)."""
    text = (amount.text or "").strip()
    try:
        return parse_amount(_decimal_text(text, currency), currency)
    except AmountError as exc:
        raise FormatError(
            f"<Amt> {text!r}: {exc.message}",
            file=path,
            line=_line(amount),
            expected="an amount such as 1500.00",
        ) from exc


def _indicator(element: _Element) -> Direction | None:
    indicator = (_text(element, "CdtDbtInd") or "").upper()
    return "CR" if indicator == "CRDT" else "DR" if indicator == "DBIT" else None


def _direction(element: _Element, path: Path) -> Direction:
    direction = _indicator(element)
    if direction is not None:
        return direction
    raise FormatError(
        f"credit/debit indicator {_text(element, 'CdtDbtInd')!r} is neither CRDT nor DBIT",
        file=path,
        line=_line(element),
        expected="<CdtDbtInd>CRDT</CdtDbtInd> or <CdtDbtInd>DBIT</CdtDbtInd>",
    )


def _reference(text: str | None) -> str | None:
    if text is None or text.upper() in _NO_REFERENCE:
        return None
    return text


def _describe(part: _Element) -> str:
    identifier = _text(part, "Id")
    what = _PART_NAMES.get(_local(part), "statement")
    text = f"{what} {identifier!r}" if identifier else what
    account = _account(part)
    return f"{text} (account {account})" if account else text


def _account(part: _Element) -> str | None:
    return _text(part, "Acct", "Id", "IBAN") or _text(part, "Acct", "Id", "Othr", "Id")


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


# --- balances --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bal:
    code: str
    balance: Balance
    element: _Element


def _balance_code(bal: _Element) -> str | None:
    code = (
        _text(bal, "Tp", "CdOrPrtry", "Cd")
        or _text(bal, "Tp", "CdOrPrtry", "Prtry")
        or _text(bal, "Tp", "Cd")
    )
    return code.upper() if code else None


def _statement_currency(part: _Element) -> str | None:
    """The account's currency: its <Ccy>, else the first one an entry or balance amount names
    (a statement is of one account, whose entries and balances are all in its currency)."""
    stated = _text(part, "Acct", "Ccy")
    if stated:
        return stated
    for holder in (*_children(part, "Ntry"), *_children(part, "Bal")):
        amount = _child(holder, "Amt")
        if amount is not None and amount.get("Ccy"):
            return amount.get("Ccy")
    return None


def _balances(part: _Element, path: Path, report: statement_rules.Report) -> list[_Bal]:
    """The ledger balances (OPBD, PRCD, ITBD, CLBD) a statement states, in document order.

    A balance that cannot be stated exactly (blank, in no currency, 100.0000000000005 EUR as
    float-printing exports write it, an impossible date) is left out with a note, and the
    statement goes unchecked rather than refused: its entries are what the file is read for.
    Strict parsing refuses it.
    """
    found: list[_Bal] = []
    unsigned = 0
    currency = _statement_currency(part)
    for bal in _children(part, "Bal"):
        code = _balance_code(bal)
        if code not in _LEDGER_CODES:
            continue  # available, forward, information... balances: not the ledger's
        amount = _child(bal, "Amt")
        if amount is None or not (amount.text or "").strip():
            report.note(f"{path.name} line {_line(bal)}: blank {code} balance ignored")
            continue
        try:
            found.append(_balance(bal, code, amount, currency, path))
        except FormatError as error:
            if report.strict:
                raise
            report.note(f"{path.name} line {error.line}: {code} balance ignored: {error.message}")
            continue
        if _child(bal, "CdtDbtInd") is None:
            unsigned += 1
    if unsigned:
        report.note(
            f"{path.name}: {_describe(part)}: {unsigned} balance"
            f"{'' if unsigned == 1 else 's'} without <CdtDbtInd> read as credit"
        )
    return found


def _balance(bal: _Element, code: str, amount: _Element, currency: str | None, path: Path) -> _Bal:
    minor, stated = _unsigned_amount(
        amount,
        currency,
        path,
        what=f"{code} balance",
        currency_expected='a currency on the amount, such as <Amt Ccy="INR">',
        sign_expected="an unsigned amount, its sign given by <CdtDbtInd>",
    )
    # No <CdtDbtInd> at all reads as a credit; one that is neither CRDT nor DBIT is refused.
    direction = _direction(bal, path) if _child(bal, "CdtDbtInd") is not None else "CR"
    when = _when(_child(bal, "Dt"), f"{code} balance date", path)
    signed = -minor if direction == "DR" else minor
    return _Bal(code, Balance(signed, stated, when[0] if when else None), bal)


def _opening_and_closing(balances: list[_Bal]) -> tuple[_Bal | None, _Bal | None]:
    def first(code: str) -> _Bal | None:
        return next((bal for bal in balances if bal.code == code), None)

    opening = first("OPBD") or first("PRCD")
    if opening is None and len(balances) > 1 and balances[0].code == "ITBD":
        opening = balances[0]  # an interim balance that opens a page
    closing = next((bal for bal in reversed(balances) if bal.code == "CLBD"), None)
    last = balances[-1] if balances else None
    if closing is None and last is not None and last.code == "ITBD" and last is not opening:
        closing = last  # an interim balance that closes a page
    return opening, closing


# --- entries ---------------------------------------------------------------------------------


@dataclass
class _Read:
    rows: list[dict[str, Any]]
    opening: Balance | None
    closing: Balance | None
    account: tuple[str | None, str | None]


def _status(entry: _Element) -> str | None:
    # .001.02-.001.07: <Sts>BOOK</Sts>; .001.08 on: <Sts><Cd>BOOK</Cd></Sts>.
    status = _text(entry, "Sts") or _text(entry, "Sts", "Cd") or _text(entry, "Sts", "Prtry")
    return status.upper() if status else None


def _joined(pieces: list[str | None]) -> str | None:
    parts: list[str] = []
    for piece in pieces:
        if piece and piece not in parts:
            parts.append(piece)
    return " ".join(parts) or None


def _party(detail: _Element, role: str) -> str | None:
    parties = _child(detail, "RltdPties")
    # .001.02-.001.07 name the party directly; .001.08 on wrap it in <Pty>.
    return _text(parties, role, "Nm") or _text(parties, role, "Pty", "Nm")


def _payment_text(detail: _Element, direction: Direction) -> list[str | None]:
    """What a transaction detail says about its payment: remittance lines, the creditor's
    structured reference, additional information and the counterparty."""
    remittance = _child(detail, "RmtInf")
    pieces: list[str | None] = [_text(line) for line in _children(remittance, "Ustrd")]
    pieces += [
        _text(structured, "CdtrRefInf", "Ref") for structured in _children(remittance, "Strd")
    ]
    pieces.append(_text(detail, "AddtlTxInf"))
    pieces.append(_party(detail, "Dbtr" if direction == "CR" else "Cdtr"))
    return pieces


def _detail_amount(
    detail: _Element, currency: str, entry: Direction
) -> tuple[int, Direction] | None:
    """A transaction detail's amount in the entry's currency and its direction, if it has one."""
    for path in _DETAIL_AMOUNTS:
        amount = _child(detail, *path)
        text = (amount.text or "").strip() if amount is not None else ""
        if amount is None or not text:
            continue
        try:
            if normalize_currency(amount.get("Ccy") or currency) != currency:
                continue
            minor = parse_amount(_decimal_text(text, currency), currency)
        except (AmountError, CurrencyError):
            return None
        if minor < 0:
            return None
        return minor, _indicator(detail) or entry
    return None


def _batch(
    details: list[_Element], minor: int, currency: str, direction: Direction
) -> list[tuple[int, Direction]] | None:
    """The details' amounts when they split the entry exactly, else None."""
    if len(details) < 2:
        return None
    amounts: list[tuple[int, Direction]] = []
    for detail in details:
        found = _detail_amount(detail, currency, direction)
        if found is None:
            return None
        amounts.append(found)
    signed = sum(value if way == "CR" else -value for value, way in amounts)
    return amounts if signed == (minor if direction == "CR" else -minor) else None


def _statement_date(part: _Element, closing: _Bal | None) -> date | None:
    if closing is not None and closing.balance.as_of is not None:
        return closing.balance.as_of
    return _day_of(_text(part, "FrToDt", "ToDtTm")) or _day_of(_text(part, "CreDtTm"))


def _read_statement(
    part: _Element, path: Path, source: str, report: statement_rules.Report
) -> _Read:
    notes = report.notes
    balances = _balances(part, path, report)
    opening, closing = _opening_and_closing(balances)
    account_currency = _statement_currency(part)
    rows: list[dict[str, Any]] = []
    left_out: dict[str, int] = {}
    undated: list[int | None] = []
    kept_whole: list[int | None] = []
    for entry in _children(part, "Ntry"):
        line = _line(entry)
        status = _status(entry)
        if status not in (None, "BOOK"):
            kind = _NOT_BOOKED.get(status, f"status {status}")
            left_out[kind] = left_out.get(kind, 0) + 1
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
        booked = _when(_child(entry, "BookgDt"), "booking date", path)
        valued = _when(_child(entry, "ValDt"), "value date", path)
        dated = valued or booked
        value_date = dated[0] if dated else None
        if value_date is None:
            value_date = _statement_date(part, closing) or _day_of(
                _text(part.getparent(), "GrpHdr", "CreDtTm")
            )
            if value_date is None:
                raise FormatError(
                    "entry has neither a value date nor a booking date",
                    file=path,
                    line=line,
                    expected="<ValDt> or <BookgDt> in each <Ntry>",
                )
            undated.append(line)
        details = [
            detail
            for entry_details in _children(entry, "NtryDtls")
            for detail in _children(entry_details, "TxDtls")
        ]
        entry_id = _reference(_text(entry, "AcctSvcrRef")) or _reference(_text(entry, "NtryRef"))
        common = {
            "source": source,
            "currency": currency,
            "value_date": value_date,
            "booked_at": booked[1] if booked else None,
            "source_file": str(path),
        }
        split = _batch(details, minor, currency, direction)
        if split is None:
            if len(details) > 1:
                kept_whole.append(line)
            rows.append(_entry_row(entry, details, common, entry_id, minor, direction, line))
            continue
        for number, (detail, (detail_minor, detail_direction)) in enumerate(
            zip(details, split, strict=True), start=1
        ):
            narration = _joined(_payment_text(detail, detail_direction))
            rows.append(
                {
                    **common,
                    "record_id": f"{entry_id}/{number}" if entry_id else None,
                    "amount_minor": detail_minor,
                    "direction": detail_direction,
                    "utr": extract_utr(narration)
                    or _reference(_text(detail, "Refs", "TxId"))
                    or _reference(_text(detail, "Refs", "EndToEndId"))
                    or _reference(_text(detail, "Refs", "AcctSvcrRef"))
                    or _reference(_text(entry, "AcctSvcrRef")),
                    "narration": narration,
                    "source_line": _line(detail),
                }
            )
    what = _describe(part)
    commas = [
        element
        for element in part.iter()
        if _local(element) == "Amt" and _COMMA_DECIMAL.match((element.text or "").strip())
    ]
    if commas:
        first = (commas[0].text or "").strip()
        notes.append(
            f"{path.name}: {what}: {len(commas)} amount{'' if len(commas) == 1 else 's'} written"
            f" with a decimal comma (such as {first!r}, line {_line(commas[0])}) read as"
            " decimals"
        )
    if left_out:
        count = sum(left_out.values())
        kinds = ", ".join(f"{n} {kind}" for kind, n in left_out.items())
        notes.append(
            f"{path.name}: {what}: {count} {'entry' if count == 1 else 'entries'} not booked"
            f" ({kinds}) left out"
        )
    if undated:
        notes.append(
            f"{path.name}: {what}: {len(undated)} {'entry' if len(undated) == 1 else 'entries'}"
            f" without a value or booking date dated as the statement (line"
            f"{'' if len(undated) == 1 else 's'} {_lines(undated)})"
        )
    if kept_whole:
        notes.append(
            f"{path.name}: {what}: {len(kept_whole)} batch"
            f" {'entry' if len(kept_whole) == 1 else 'entries'} kept as one record, its"
            f" transaction details carrying no amounts or not adding up to the entry (line"
            f"{'' if len(kept_whole) == 1 else 's'} {_lines(kept_whole)})"
        )
    _check(what, rows, opening, closing, report)
    return _Read(
        rows,
        opening.balance if opening else None,
        closing.balance if closing else None,
        (_account(part), _text(part, "Acct", "Ccy")),
    )


def _lines(lines: list[int | None], most: int = 5) -> str:
    shown = ", ".join(str(line) for line in lines[:most])
    return shown + (f" and {len(lines) - most} more" if len(lines) > most else "")


def _entry_row(
    entry: _Element,
    details: list[_Element],
    common: dict[str, Any],
    entry_id: str | None,
    minor: int,
    direction: Direction,
    line: int | None,
) -> dict[str, Any]:
    """One record for a whole entry; a single detail's remittance text and references are its."""
    single = details[0] if len(details) == 1 else None
    pieces: list[str | None] = [_text(entry, "AddtlNtryInf")]
    if single is not None:
        pieces += _payment_text(single, direction)
    narration = _joined(pieces)
    return {
        **common,
        "record_id": entry_id,
        "amount_minor": minor,
        "direction": direction,
        "utr": extract_utr(narration)
        or _reference(_text(single, "Refs", "TxId"))
        or _reference(_text(single, "Refs", "EndToEndId"))
        or _reference(_text(entry, "AcctSvcrRef"))
        or _reference(_text(single, "Refs", "AcctSvcrRef")),
        "narration": narration,
        "source_line": line,
    }


def _check(
    what: str,
    rows: list[dict[str, Any]],
    opening: _Bal | None,
    closing: _Bal | None,
    report: statement_rules.Report,
) -> None:
    if opening is None or closing is None:
        report.unchecked(what)
        return
    start, end = opening.balance, closing.balance
    currencies = sorted({start.currency, end.currency} | {row["currency"] for row in rows})
    if len(currencies) > 1:
        entries = sorted({row["currency"] for row in rows})
        report.finding(
            BALANCE_MISMATCH,
            f"{what} does not add up: its opening balance is in {start.currency}, its closing"
            f" balance in {end.currency}"
            + (f" and its entries in {', '.join(entries)}" if entries else "")
            + ", so opening + credits - debits cannot equal closing",
            line=_line(closing.element),
            statement=what,
            expected="opening, closing and entries in the account's one currency",
        )
        return
    credits, debits = statement_rules.credits_and_debits(rows)
    report.check_balances(
        what=what,
        opening_minor=start.amount_minor,
        credits=credits,
        debits=debits,
        closing_minor=end.amount_minor,
        currency=end.currency,
        line=_line(closing.element),
        as_of=end.as_of,
    )


register(
    StandardFormat(
        name=NAME,
        description=(
            "ISO 20022 CAMT.053 bank-to-customer statement (XML, .001.02 to .001.13; camt.052"
            " reports and camt.054 notifications with entries too)"
        ),
        sniff=sniff,
        parse=parse,
    )
)
