"""Statement standards (MT940, CAMT.053, OFX, BAI2), each read through a maintained library.

Every format module provides a `StandardFormat` entry in `STANDARD_FORMATS`: a `sniff` that
recognises the format from the first bytes of a file, and a `parse` that returns canonical
records plus the balances the statement states and the findings where they disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hisaab.ingest.records import NormalizedFile


@dataclass(frozen=True)
class StandardFormat:
    name: str
    description: str
    sniff: Callable[[bytes], bool]
    # parse(path: Path, *, source: str = "bank", strict: bool = False); strict refuses a file
    # with findings (balances that do not add up) instead of reporting them
    parse: Callable[..., NormalizedFile]


STANDARD_FORMATS: dict[str, StandardFormat] = {}


def register(fmt: StandardFormat) -> StandardFormat:
    STANDARD_FORMATS[fmt.name] = fmt
    return fmt


def sniff_standard(path: Path) -> list[str]:
    """Names of the standard formats whose sniffers accept the file's first 64 KiB."""
    with path.open("rb") as fh:
        head = fh.read(65536)
    return [name for name, fmt in STANDARD_FORMATS.items() if fmt.sniff(head)]


# The format modules register themselves on import; they import `register` and
# `StandardFormat` from this package, so they are imported last, once both exist.
from hisaab.ingest.formats import bai2, camt053, mt940, ofx  # noqa: E402, F401
