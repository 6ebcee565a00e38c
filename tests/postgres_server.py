"""A real, throwaway PostgreSQL server for the tests, started the way the runbook says.

initdb refuses to run as root, so as root the server runs as the `postgres` system user in a
directory it owns; it listens on loopback only, on a free port, and is always stopped. When it
cannot start, the tests that need it fail, loudly, with the server's own words.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN = Path(os.environ.get("HISAAB_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PostgresUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[str]:
    """Yield the URL of a fresh server's `postgres` database; stop and remove it afterwards.

    Tests run without fsync (nothing they write must survive a power cut); benchmarks pass
    `durable=True` to measure with PostgreSQL's default, crash-safe commit settings.
    """
    if not (PG_BIN / "initdb").exists():
        raise PostgresUnavailable(
            f"PostgreSQL server binaries not found in {PG_BIN}: install the 'postgresql' package"
            " (make test does) or set HISAAB_PG_BIN"
        )
    root = Path(tempfile.mkdtemp(prefix="hisaab-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data, port = root / "data", _free_port()
    pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data)]

    def run(args: list[str]) -> None:
        done = subprocess.run(_as_postgres(args), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = (root / "log").read_text() if (root / "log").exists() else ""
            raise PostgresUnavailable(f"{' '.join(args[:2])} failed: {done.stderr}{log}")

    try:
        run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "-N",
            ]
        )
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        run([*pg_ctl, "-l", str(root / "log"), "-w", "-o", options, "start"])
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                _as_postgres([*pg_ctl, "-m", "immediate", "-w", "stop"]),
                capture_output=True,
                check=False,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
