"""The running-balance check: does each row move the stated balance by its own amount?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from hisaab.ingest.records import Balance
from hisaab.money import Money


@dataclass
class BalancePoint:
    """One transaction row as the balance check sees it."""

    line: int
    signed: int
    balance: int | None
    currency: str
    value_date: date


def check_balances(
    points: list[BalancePoint],
) -> tuple[list[str], Balance | None, Balance | None]:
    """Does each row move the running balance by its own amount? Works for oldest-first and
    newest-first statements; a disagreement usually means a dropped or altered row."""
    with_balance = [(p, p.balance) for p in points if p.balance is not None]
    if not with_balance:
        return [], None, None
    forward_bad: list[tuple[int, int, int, str]] = []
    backward_bad: list[tuple[int, int, int, str]] = []
    pairs = 0
    for a, b in pairwise(points):
        if a.balance is None or b.balance is None or a.currency != b.currency:
            continue
        pairs += 1
        if b.balance - a.balance != b.signed:
            forward_bad.append((a.line, b.line, b.balance - a.balance - b.signed, b.currency))
        if a.balance - b.balance != a.signed:
            backward_bad.append((a.line, b.line, a.balance - b.balance - a.signed, a.currency))
    if len(forward_bad) != len(backward_bad):
        newest_first = len(backward_bad) < len(forward_bad)
    else:
        newest_first = points[0].value_date > points[-1].value_date
    bad = backward_bad if newest_first else forward_bad
    notes: list[str] = []
    if bad:
        first = bad[0]
        notes.append(
            f"the running balance does not agree with the amounts at {len(bad)} of {pairs} "
            f"consecutive row pairs (first between lines {first[0]} and {first[1]}, off by "
            f"{Money(first[2], first[3])}); rows may be missing, duplicated or altered"
        )
    newest, newest_balance = with_balance[0] if newest_first else with_balance[-1]
    oldest, oldest_balance = with_balance[-1] if newest_first else with_balance[0]
    closing = Balance(newest_balance, newest.currency, newest.value_date)
    opening = Balance(oldest_balance - oldest.signed, oldest.currency, None)
    return notes, opening, closing
