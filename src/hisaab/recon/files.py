"""A job's uploaded files on disk: streamed in, hashed, read to validate, kept or removed.

Files live under `<data_dir>/jobs/<job id>/`. Bytes arrive a chunk at a time (never whole in
memory) under a temporary name and are renamed into place only once they parsed; which file
is deleted in the end (the replaced one, or the new one) follows the fate of the database
transaction that records it, so disk and database never disagree for long.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from hashlib import sha256
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import event
from sqlalchemy.orm import Session

from hisaab.errors import HisaabError, InputError
from hisaab.ingest import formats
from hisaab.ingest.normalize import normalize
from hisaab.ingest.records import NormalizedFile
from hisaab.ingest.template import builtin_names

MAX_UPLOAD_BYTES = 512 * 1024 * 1024
CHUNK_BYTES = 1 << 20
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}$")


class UploadTooLarge(HisaabError):
    code = "UPLOAD_TOO_LARGE"
    http_status = 413


def job_dir(data_dir: Path, job_id: int) -> Path:
    return Path(data_dir) / "jobs" / str(job_id)


def client_name(filename: str | None) -> tuple[str, str]:
    """(name to show, suffix to keep) of a client's file name; the suffix tells CSV from
    Parquet to the canonical reader, the rest of the name never reaches the disk."""
    name = Path(filename or "upload").name[-200:] or "upload"
    found = _SUFFIX.search(name)
    return name, found.group(0).lower() if found else ""


def known_templates() -> list[str]:
    """Template names a caller may give: built-in templates and the statement standards.

    Never a path: a template file of the server's disk is not the caller's to name.
    """
    return sorted({*builtin_names(), *formats.STANDARD_FORMATS})


def check_template(template: str | None) -> None:
    if template is not None and template not in known_templates():
        raise InputError(
            f"unknown template {template!r}",
            column="template",
            expected="one of " + ", ".join(known_templates()),
        )


def receive(stream: BinaryIO, target: Path) -> tuple[str, int]:
    """Copy `stream` to the new file `target` a chunk at a time; (SHA-256, size).

    Refuses a stream longer than MAX_UPLOAD_BYTES as soon as it gets there.
    """
    digest = sha256()
    size = 0
    with target.open("xb") as out:
        while chunk := stream.read(CHUNK_BYTES):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise UploadTooLarge(
                    f"the file is larger than the limit of {MAX_UPLOAD_BYTES >> 20} MiB"
                )
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


def read(path: Path, name: str, template: str | None, side: str) -> NormalizedFile:
    """A stored file's canonical records; its errors name the uploaded file, not our disk."""
    try:
        return normalize(path, template=template, source=side)
    except InputError as exc:
        exc.file = name
        exc.message = exc.message.replace(str(path), name)
        exc.args = (exc.message,)
        raise


def parse(path: Path, name: str, template: str | None, side: str) -> tuple[str, int]:
    """(template, rows) of a stored file, reading it to validate it."""
    parsed = read(path, name, template, side)
    return parsed.template, parsed.row_count


def settle_with(session: Session, *, on_commit: Path | None, on_rollback: Path) -> None:
    """Delete `on_commit` once the session's transaction commits, `on_rollback` if it rolls
    back: whichever happens first, once."""
    settled = False

    def remove(path: Path | None) -> Callable[[Session], None]:
        def listener(_session: Session) -> None:
            nonlocal settled
            if not settled:
                settled = True
                if path is not None:
                    path.unlink(missing_ok=True)

        return listener

    event.listen(session, "after_commit", remove(on_commit), once=True)
    event.listen(session, "after_rollback", remove(on_rollback), once=True)
