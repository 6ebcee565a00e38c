"""Exact money: integer minor units plus an ISO-4217 currency, and parsing of printed amounts.

No float ever holds money here. Printed amounts ("1,18,043.75", "1,053.00 Cr", "(250.00)",
"-0.00") are parsed with `decimal.Decimal` semantics on the digits themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from hisaab.errors import AmountError, CurrencyError

# ISO 4217 minor-unit exponents. Currencies not listed as 0, 3 or 4 use 2.
_EXPONENT_0 = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()
)
_EXPONENT_3 = frozenset("BHD IQD JOD KWD LYD OMR TND".split())
_EXPONENT_4 = frozenset("CLF UYW".split())
_EXPONENT_2 = frozenset(
    (
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN "
        "BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB "
        "EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS "
        "KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN "
        "MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD "
        "SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS "
        "UAH USD USN UYU UZS VED VES WST XCD YER ZAR ZMW ZWG"
    ).split()
)

# Withdrawn codes that old statements and public test statements still carry (an MT940 in
# Deutsche Mark, a Dutch export in guilders); each had 100 minor units.
_WITHDRAWN_2 = frozenset("ATS DEM FIM FRF IEP NLG".split())

CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_WITHDRAWN_2, 2),
    **dict.fromkeys(_EXPONENT_2, 2),
    **dict.fromkeys(_EXPONENT_0, 0),
    **dict.fromkeys(_EXPONENT_3, 3),
    **dict.fromkeys(_EXPONENT_4, 4),
}

Direction = Literal["CR", "DR"]


def exponent(currency: str) -> int:
    """Minor-unit exponent of an ISO-4217 code (INR 2, JPY 0, KWD 3)."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise CurrencyError(
            f"unknown currency {currency!r}", expected="an ISO-4217 code such as INR, KES or USD"
        ) from None


def normalize_currency(text: str) -> str:
    code = text.strip().upper()
    exponent(code)
    return code


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: `minor` units of `currency` (100000 INR minor units = ₹1,000.00)."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise AmountError(f"minor units must be an integer, got {self.minor!r}")
        exponent(self.currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        return cls(parse_amount(text, currency), currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise AmountError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def __str__(self) -> str:
        exp = exponent(self.currency)
        sign = "-" if self.minor < 0 else ""
        whole, frac = divmod(abs(self.minor), 10**exp)
        body = f"{whole:,}" + (f".{frac:0{exp}d}" if exp else "")
        return f"{sign}{body} {self.currency}"


_MARKER = re.compile(r"\s*\b(CR|DR|Cr|Dr|cr|dr|C|D)\.?\s*$")
_LEAD_MARKER = re.compile(r"^\s*(CR|DR|Cr|Dr)\.?\s+")
_SYMBOLS = re.compile(r"^(₹|Rs\.?|INR|KES|KSh\.?|KShs\.?|\$|USD|€|£)\s*", re.IGNORECASE)
_WESTERN = re.compile(r"^\d{1,3}(,\d{3})+$")
_INDIAN = re.compile(r"^\d{1,2}(,\d{2})*,\d{3}$")


def parse_amount(
    text: str,
    currency: str,
    *,
    decimal_separator: str = ".",
    strict_grouping: bool = True,
) -> int:
    """Parse a printed amount into signed minor units of `currency`.

    Accepts thousands separators (Western "118,043.75" or Indian "1,18,043.75"), a leading or
    trailing sign, parentheses for negatives, trailing "CR"/"DR" markers (DR makes it negative),
    currency symbols, surrounding spaces, and "-0.00". Rejects empty text, anything that is not
    a number, and digits beyond the currency's minor unit ("1.005" INR) unless they are zeros.
    """
    exp = exponent(currency)
    original = text
    s = text.strip().replace("\u00a0", " ").replace("\u2009", " ")
    if not s:
        raise AmountError("empty amount", expected="a number such as 1,053.00")
    negative = False
    marker = _MARKER.search(s)
    if marker and re.search(r"\d", s[: marker.start()]):
        negative = marker.group(1).upper().startswith("D")
        s = s[: marker.start()].strip()
    else:
        lead = _LEAD_MARKER.match(s)
        if lead:
            negative = lead.group(1).upper() == "DR"
            s = s[lead.end() :].strip()
    if s.startswith("(") and s.endswith(")"):
        negative = not negative
        s = s[1:-1].strip()
    if s.startswith(("+", "-")):
        negative ^= s[0] == "-"
        s = s[1:].strip()
    elif s.endswith("-"):
        negative = not negative
        s = s[:-1].strip()
    s = _SYMBOLS.sub("", s).strip()
    if s.startswith(("+", "-")):
        negative ^= s[0] == "-"
        s = s[1:].strip()
    if not s or s == decimal_separator:
        raise AmountError(f"{original!r} has no digits", expected="a number such as 1,053.00")
    group_sep = "," if decimal_separator == "." else "."
    if s.count(decimal_separator) > 1:
        raise AmountError(f"{original!r} has more than one decimal separator")
    whole, _, frac = s.partition(decimal_separator)
    whole = whole.replace(" ", "")
    if group_sep in whole:
        if strict_grouping and not (
            _WESTERN.match(whole.replace(group_sep, ","))
            or _INDIAN.match(whole.replace(group_sep, ","))
        ):
            raise AmountError(
                f"{original!r} has misplaced digit-group separators",
                expected="groups like 1,234,567.89 or 12,34,567.89",
            )
        whole = whole.replace(group_sep, "")
    if whole == "":
        whole = "0"
    if (
        not whole.isdigit()
        or not whole.isascii()
        or (frac and not (frac.isdigit() and frac.isascii()))
    ):
        raise AmountError(f"{original!r} is not a number", expected="a number such as 1,053.00")
    if len(frac) > exp:
        if frac[exp:].strip("0"):
            raise AmountError(
                f"{original!r} has {len(frac.rstrip('0'))} decimals but {currency} allows {exp}",
                expected=f"at most {exp} decimal places for {currency}",
            )
        frac = frac[:exp]
    scale: int = 10**exp
    minor = int(whole) * scale + (int(frac.ljust(exp, "0")) if exp else 0)
    return -minor if negative and minor else minor


def split_direction(minor: int) -> tuple[int, Direction]:
    """Signed minor units -> (non-negative amount, CR for money in / DR for money out)."""
    return (minor, "CR") if minor >= 0 else (-minor, "DR")
