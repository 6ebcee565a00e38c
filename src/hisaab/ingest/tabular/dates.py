"""Reading date cells with a template's formats and UTC offset."""

from __future__ import annotations

from datetime import date, datetime

from hisaab.ingest.template import Dates

_YEAR_RANGE = (1900, 2100)


class DateReader:
    """Parses date cells with a template's formats; remembers answers (statements repeat
    the same few dates thousands of times)."""

    def __init__(self, dates: Dates) -> None:
        self._formats = dates.formats
        self._offset = (
            datetime.strptime(dates.utc_offset, "%z").tzinfo if dates.utc_offset else None
        )
        self._cache: dict[str, tuple[date, str] | None] = {}

    @property
    def expectation(self) -> str:
        """What a date cell should hold, for error messages."""
        shown = ", ".join("ISO-8601" if f == "iso" else f.replace("%", "") for f in self._formats)
        return f"a real calendar date in one of the formats {shown}"

    def parse(self, text: str) -> tuple[date, str] | None:
        """(value date, booked_at text) or None when no format reads `text`."""
        try:
            return self._cache[text]
        except KeyError:
            pass
        result = self._parse(text)
        if len(self._cache) > 65536:
            self._cache.clear()
        self._cache[text] = result
        return result

    def _parse(self, raw: str) -> tuple[date, str] | None:
        text = " ".join(raw.split()).replace("Sept", "Sep")
        for fmt in self._formats:
            if fmt == "iso":
                parsed = self._iso(text)
            else:
                try:
                    dt = datetime.strptime(text, fmt)
                except ValueError:
                    continue
                if any(code in fmt for code in ("%H", "%I", "%M", "%S")):
                    if dt.tzinfo is None and self._offset is not None:
                        dt = dt.replace(tzinfo=self._offset)
                    parsed = (dt.date(), dt.isoformat())
                else:
                    parsed = (dt.date(), dt.date().isoformat())
            if parsed is not None and _YEAR_RANGE[0] <= parsed[0].year <= _YEAR_RANGE[1]:
                return parsed
        return None

    def _iso(self, text: str) -> tuple[date, str] | None:
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return None
        if len(text) <= 10:
            return dt.date(), dt.date().isoformat()
        if dt.tzinfo is None and self._offset is not None:
            return dt.date(), dt.replace(tzinfo=self._offset).isoformat()
        return dt.date(), text  # as given: keeps the source's own offset and precision
