"""A real, throwaway Redis server for the tests, started the way the runbook says.

It listens on loopback only, on a free port, persists nothing and runs in a temporary
directory; it is stopped by its PID (also when the test fails) and the directory removed. When
it cannot start, the tests that need it fail, loudly, with the server's own words.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

REDIS_SERVER = os.environ.get("HISAAB_REDIS_SERVER", "redis-server")
START_TIMEOUT_SECONDS = 10.0


class RedisUnavailable(RuntimeError):
    pass


@dataclass
class RedisServer:
    url: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """Stop the server (idempotent): SIGTERM, then SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """Yield a fresh server (its URL and process); stop it and remove its directory afterwards."""
    binary = shutil.which(REDIS_SERVER)
    if binary is None:
        raise RedisUnavailable(
            f"{REDIS_SERVER!r} not found on PATH: install the 'redis-server' package"
            " (make test does) or set HISAAB_REDIS_SERVER"
        )
    root = Path(tempfile.mkdtemp(prefix="hisaab-redis-"))
    log = root / "redis.log"
    try:
        port = _free_port()
        args = [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        args += ["--dir", str(root), "--logfile", str(log)]
        process = subprocess.Popen(
            args, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        server = RedisServer(f"redis://127.0.0.1:{port}/0", process)
        try:
            _wait_for_ping(server, log)
            yield server
        finally:
            server.stop()
            if process.stderr is not None:
                process.stderr.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_ping(server: RedisServer, log: Path) -> None:
    client = redis.Redis.from_url(server.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    try:
        while True:
            if server.process.poll() is not None:
                stderr = server.process.stderr.read().decode() if server.process.stderr else ""
                said = log.read_text() if log.exists() else ""
                raise RedisUnavailable(
                    f"redis-server exited with {server.process.returncode}: {stderr}{said}"
                )
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RedisUnavailable(
                    f"redis-server did not answer PING within {START_TIMEOUT_SECONDS} s"
                )
            time.sleep(0.02)
    finally:
        client.close()
