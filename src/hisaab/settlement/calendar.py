"""Working days of a bank: settlement cycles count them (T+n), due dates roll onto them.

NEFT and RTGS run every day, but payment aggregators' cycles count working days, so each
bank has a calendar: its weekly closed days and its holidays. The default is an Indian bank's:
Sundays and the second and fourth Saturdays closed, and the three national holidays (26
January, 15 August, 2 October). Regional and moving holidays differ by state and year; they
come from a holiday file (`load_holidays`), one ISO date per line with an optional name.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from hisaab.errors import FormatError, InputError

_NATIONAL = ((1, 26), (8, 15), (10, 2))
_MAX_SEARCH = 366  # a calendar with no working day in a year is a broken calendar


@dataclass(frozen=True)
class BankCalendar:
    name: str = "IN default"
    holidays: frozenset[date] = field(default_factory=frozenset)
    # Weekdays always closed (Monday 0 .. Sunday 6) and Saturdays closed by their number in
    # the month (2 and 4 for Indian banks).
    closed_weekdays: frozenset[int] = frozenset({6})
    closed_saturdays: frozenset[int] = frozenset({2, 4})
    national_holidays: bool = True

    def is_working_day(self, day: date) -> bool:
        if day.weekday() in self.closed_weekdays or day in self.holidays:
            return False
        if day.weekday() == 5 and (day.day + 6) // 7 in self.closed_saturdays:
            return False
        return not (self.national_holidays and (day.month, day.day) in _NATIONAL)

    def roll_forward(self, day: date) -> date:
        """The day itself if it is a working day, else the next one."""
        for _ in range(_MAX_SEARCH):
            if self.is_working_day(day):
                return day
            day += timedelta(days=1)
        raise FormatError(f"calendar {self.name!r} has no working day in a year from {day}")

    def add_working_days(self, day: date, n: int) -> date:
        """T+n: the n-th working day after `day` (T+0 is `day` rolled forward)."""
        if n < 0:
            raise InputError(f"T+{n}", expected="a number of working days >= 0")
        day = self.roll_forward(day)
        for _ in range(n):
            day = self.roll_forward(day + timedelta(days=1))
        return day

    def with_holidays(self, days: Iterable[date]) -> BankCalendar:
        return BankCalendar(
            self.name,
            self.holidays | frozenset(days),
            self.closed_weekdays,
            self.closed_saturdays,
            self.national_holidays,
        )


def load_holidays(path: Path) -> frozenset[date]:
    """Holidays from a file: `YYYY-MM-DD[,name]` per line; blank lines and `#` comments skipped."""
    days: set[date] = set()
    text = Path(path).read_text(encoding="utf-8-sig")
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        try:
            days.add(date.fromisoformat(row[0].strip()))
        except ValueError:
            raise FormatError(
                f"{row[0].strip()!r} is not a date",
                file=path,
                line=line_no,
                expected="YYYY-MM-DD, optionally followed by a comma and the holiday's name",
            ) from None
    return frozenset(days)
