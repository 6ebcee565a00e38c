"""Getting a statement's text: file checks, binary detection, byte-order marks and encodings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hisaab.errors import FormatError

_BINARY_PROBE = 65536
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _unreadable(path: Path, exc: OSError) -> FormatError:
    return FormatError(f"cannot read the file: {exc.strerror}", file=path)


def check_input_file(path: Path) -> None:
    """Fail clearly for a path that is not a readable, non-empty file."""
    if not path.exists():
        raise FormatError("no such file", file=path, expected="the path of a statement file")
    if path.is_dir():
        raise FormatError(
            "is a directory, not a file", file=path, expected="the path of a statement file"
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if size == 0:
        raise FormatError("the file is empty", file=path, expected="a header row and records")


def read_input_bytes(path: Path) -> bytes:
    check_input_file(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc) from None


def sniff_bom(data: bytes) -> tuple[str, int] | None:
    """(encoding, BOM length) when `data` starts with a UTF-8 or UTF-16 byte-order mark."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    return None


def reject_binary(data: bytes, path: Path) -> None:
    """Text statements never contain NUL bytes (UTF-16 text aside, which announces itself with
    a byte-order mark); binary files (PDF, XLSX, images) nearly always do in their first 64 KiB."""
    bom = sniff_bom(data)
    if bom is not None and bom[0].startswith("utf-16"):
        return
    if b"\x00" in data[:_BINARY_PROBE]:
        raise FormatError(
            "this is a binary file, not a delimited text statement",
            file=path,
            expected=(
                "a CSV/TSV/pipe-delimited export (save spreadsheets as CSV first) or a "
                "standard statement (MT940, CAMT.053, OFX, BAI2)"
            ),
        )


def decode_text(data: bytes, path: Path, encodings: Sequence[str]) -> tuple[str, str]:
    """The file's text and the encoding that read it: a byte-order mark (UTF-8 or UTF-16)
    wins, then `encodings` in order. An undecodable file names the line of its first bad byte."""
    bom = sniff_bom(data)
    if bom is not None:
        encodings = (bom[0],)
        data = data[bom[1] :]
    tried = tuple(dict.fromkeys(encodings))
    errors: list[UnicodeDecodeError] = []
    for encoding in tried:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            errors.append(exc)
    first_error = errors[0]
    line = data.count(b"\n", 0, first_error.start) + 1
    raise FormatError(
        f"byte 0x{data[first_error.start]:02x} cannot be decoded as " + " or ".join(tried),
        file=path,
        line=line,
        expected="a text file in one of the template's encodings (utf-8 by default)",
    )


def read_text(path: Path, encodings: Sequence[str]) -> tuple[str, str]:
    """The text of the statement at `path` and the encoding that read it; a missing, empty,
    binary, undecodable or all-blank file is a `FormatError`."""
    data = read_input_bytes(path)
    reject_binary(data, path)
    text, encoding = decode_text(data, path, encodings)
    if not text.strip():
        raise FormatError(
            "the file holds only blank lines", file=path, expected="a header row and records"
        )
    return text, encoding
