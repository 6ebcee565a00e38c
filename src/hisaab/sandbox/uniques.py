"""Unique identifiers and references, and amounts that cannot be confused with each other.

Every id, RRN and UTR the simulator hands out is distinct unless a fault repeats one on
purpose. "Loose" records are those a reconciliation can only pair by amount and date (no-RRN
credits, uncredited payments, bank charges, unlinked settlement batches...): `fresh` draws an
amount that no other loose record has on the same or an adjacent day, so every amount-and-date
pairing the truth expects is the only one possible.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date

_ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# randbytes -> characters by table lookup: one C call for a million ids (a slight, harmless bias
# towards the first characters of the alphabet)
ALNUM_TABLE = bytes(_ALNUM[i % len(_ALNUM)] for i in range(256))
DIGIT_TABLE = bytes(b"0123456789"[i % 10] for i in range(256))
_FRESH_TRIES = 50


class Uniques:
    """Hands out ids, references and loose amounts from one `random.Random`."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ids: set[str] = set()
        self.refs: set[str] = set()  # RRNs and UTRs
        self.loose: dict[int, list[int]] = {}  # amount -> day ordinals of loose records

    def tokens(self, count: int, width: int, table: bytes, taken: set[str]) -> list[str]:
        """`count` distinct random tokens of `width` characters, none of them in `taken`."""
        rng = self.rng
        text = rng.randbytes(count * width).translate(table).decode("ascii")
        out = [text[i : i + width] for i in range(0, count * width, width)]
        for k, token in enumerate(out):
            while token in taken:
                token = rng.randbytes(width).translate(table).decode("ascii")
            taken.add(token)
            out[k] = token
        return out

    def ids_with(self, prefix: str, count: int, width: int) -> list[str]:
        """Alphanumeric ids such as pay_ + 14 characters."""
        return [prefix + t for t in self.tokens(count, width, ALNUM_TABLE, self.ids)]

    def rrns(self, count: int) -> list[str]:
        """12-digit UPI RRNs (strings; about one in ten starts with 0)."""
        return self.tokens(count, 12, DIGIT_TABLE, self.refs)

    def neft_utr(self, bank: str, on: date) -> str:
        """A 16-character NEFT UTR: bank code, N, yy, day of year, 6 digits (YESBN24015123456)."""
        yy, doy = on.year % 100, on.timetuple().tm_yday
        while True:
            utr = f"{bank}N{yy:02d}{doy:03d}{self.rng.randrange(10**6):06d}"
            if utr not in self.refs:
                self.refs.add(utr)
                return utr

    def hold(self, amount: int, ordinal: int) -> None:
        """Record a loose record's amount on a day (date ordinal)."""
        self.loose.setdefault(amount, []).append(ordinal)

    def is_free(self, amount: int, ordinal: int) -> bool:
        return all(abs(o - ordinal) > 1 for o in self.loose.get(amount, ()))

    def fresh(self, ordinal: int, draw: Callable[[], int]) -> int:
        """An amount from `draw` that no loose record has within a day of `ordinal`; held."""
        amount = draw()
        tries = 0
        while not self.is_free(amount, ordinal):
            tries += 1
            # a fixed-price draw (a bank charge) that keeps colliding gets a few paise added
            amount = draw() if tries < _FRESH_TRIES else draw() + self.rng.randrange(1, 1_000)
        self.hold(amount, ordinal)
        return amount
