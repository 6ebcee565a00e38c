"""Pulling payment references (UTR/RRN) out of Indian bank narrations.

Banks print the rail's reference inside free text. The layouts below come from public
statements (see docs/templates.md); each pattern names the rail it recognises:

    UPI/P2M/412345678901/NAME/BANK/UPI               Axis   -> RRN 412345678901
    UPI-NAME-vpa@bank-HDFC0000001-412345678901-NOTE  HDFC   -> RRN 412345678901
    TO TRANSFER-UPI/DR/412345678901/NAME/BANK/vpa/UPI--  SBI -> RRN 412345678901
    UPI/RAHUL SHARMA/412345678901/Payment            Kotak  -> RRN 412345678901
    IMPS/P2A/412345678901/NAME/...  or  IMPS-412345678901-NAME-...   -> RRN
    NEFT CR-YESB0000001-NAME-NOTE-YESBN24015123456   NEFT   -> UTR YESBN24015123456
    BY TRANSFER-NEFT*YESB0000001*YESBN24015123456*NAME--                       -> UTR
    RTGS CR-...-YESBR52024011500012345                                         -> UTR
    NEFT-N015240123456789-NAME                       older one-letter NEFT UTRs -> UTR

UPI and IMPS RRNs are 12 digits; NEFT/RTGS UTRs are 16-22 characters starting with the
sending bank's 4-letter code. Everything is kept as a string: never a number.
"""

from __future__ import annotations

import re

_IFSC = re.compile(r"^[A-Z]{4}0[A-Z0-9]{6}$")
_RRN = r"(\d{12})"
_UPI_PATTERNS = (
    re.compile(r"\bUPI/(?:P2M|P2A|P2P|CR|DR|COLLECT|REV)/" + _RRN + r"(?:/|$)", re.IGNORECASE),
    re.compile(r"\bUPI-.*?-[A-Z]{4}0[A-Z0-9]{6}-" + _RRN + r"(?:-|$)", re.IGNORECASE),
    re.compile(r"\bUPI[-/ :]+" + _RRN + r"\b", re.IGNORECASE),
    re.compile(r"\bUPI/[^/]{1,60}/" + _RRN + r"(?:/|$)", re.IGNORECASE),
)
_IMPS_PATTERNS = (
    re.compile(r"\bIMPS/(?:P2A|P2P|P2M|CR|DR)/" + _RRN + r"(?:/|$)", re.IGNORECASE),
    re.compile(r"\bIMPS[-/ :]+" + _RRN + r"\b", re.IGNORECASE),
)
_NEFT_UTR = re.compile(r"(?<![A-Z0-9])([A-Z]{4}[A-Z0-9]{12,18})(?![A-Z0-9])")
_LETTER_UTR = re.compile(r"(?<![A-Z0-9])([A-Z]\d{15})(?![A-Z0-9])")
_RAIL = re.compile(r"\b(NEFT|RTGS)\b", re.IGNORECASE)
_ANY_RRN = re.compile(r"(?<!\d)(\d{12})(?!\d)")


def extract_utr(narration: str | None) -> str | None:
    """The UTR/RRN a narration carries, or None when it carries none we can trust."""
    if not narration:
        return None
    text = narration.strip()
    upper = text.upper()
    if "UPI" in upper:
        for pattern in _UPI_PATTERNS:
            m = pattern.search(text)
            if m:
                return m.group(1)
    if "IMPS" in upper:
        for pattern in _IMPS_PATTERNS:
            m = pattern.search(text)
            if m:
                return m.group(1)
    if _RAIL.search(text):
        for token in _NEFT_UTR.findall(upper):
            if _IFSC.match(token) or sum(ch.isdigit() for ch in token) < 8:
                continue
            return str(token)
        m = _LETTER_UTR.search(upper) or _ANY_RRN.search(text)
        if m:
            return m.group(1)
    return None
