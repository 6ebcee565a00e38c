"""Pulling references (UTR, settlement id, merchant id...) out of text columns such as the
narration, with a template's regexes or the built-in UTR reader."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from hisaab.ingest.narration import extract_utr
from hisaab.ingest.tabular.cells import RowCells
from hisaab.ingest.template import Extractor


class ReferenceExtractor:
    """A template's extractors, compiled once per file."""

    def __init__(self, cells: RowCells, extractors: Mapping[str, tuple[Extractor, ...]]) -> None:
        self.cells = cells
        self.extract: dict[str, tuple[tuple[Extractor, re.Pattern[str] | None], ...]] = {
            name: tuple((e, re.compile(e.pattern) if e.pattern else None) for e in specs)
            for name, specs in extractors.items()
        }

    def find(self, row: Sequence[str], name: str) -> str | None:
        """The first reference for field `name` that an extractor finds in the row, if any."""
        for extractor, pattern in self.extract.get(name, ()):
            text = self.cells.text(row, extractor.source_role)
            if not text:
                continue
            if pattern is None:
                found = extract_utr(text)
                if found:
                    return found
                continue
            m = pattern.search(text)
            if m:
                value = m.group("value") if "value" in pattern.groupindex else m.group(1)
                if value:
                    return value
        return None
