from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hisaab.errors import FormatError, InputError
from hisaab.settlement.calendar import BankCalendar, load_holidays

IN = BankCalendar()


def test_sundays_second_and_fourth_saturdays_and_national_holidays_are_closed() -> None:
    assert not IN.is_working_day(date(2026, 3, 1))  # a Sunday
    assert IN.is_working_day(date(2026, 3, 7))  # first Saturday
    assert not IN.is_working_day(date(2026, 3, 14))  # second Saturday
    assert not IN.is_working_day(date(2026, 3, 28))  # fourth Saturday
    assert not IN.is_working_day(date(2026, 8, 15))
    assert IN.is_working_day(date(2026, 3, 2))


def test_t_plus_n_counts_working_days_only() -> None:
    assert IN.add_working_days(date(2026, 3, 13), 1) == date(2026, 3, 16)  # Fri -> Mon
    assert IN.add_working_days(date(2026, 3, 2), 2) == date(2026, 3, 4)
    # A capture on a Sunday counts from Monday.
    assert IN.add_working_days(date(2026, 3, 1), 0) == date(2026, 3, 2)
    with pytest.raises(InputError):
        IN.add_working_days(date(2026, 3, 2), -1)


def test_holidays_from_a_file_roll_due_dates_forward(tmp_path: Path) -> None:
    f = tmp_path / "holidays.csv"
    f.write_text("# Maharashtra 2026\n2026-03-03,Holi\n\n2026-03-04, Holi (second day)\n")
    cal = IN.with_holidays(load_holidays(f))
    assert cal.add_working_days(date(2026, 3, 2), 1) == date(2026, 3, 5)


def test_a_bad_line_in_a_holiday_file_is_named(tmp_path: Path) -> None:
    f = tmp_path / "holidays.csv"
    f.write_text("2026-03-03,Holi\n03/04/2026,Holi\n")
    with pytest.raises(FormatError) as err:
        load_holidays(f)
    assert err.value.line == 2 and "'03/04/2026' is not a date" in err.value.describe()
