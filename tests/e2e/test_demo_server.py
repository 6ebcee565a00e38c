"""The issue's walk-through against a real server: `hisaab demo` serving over HTTP.

A new user logs in with a printed demo account, uploads two files through the API, runs a
match (done by the demo's in-process worker) and resolves an exception.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from hisaab.demo import DEMO_PASSWORD


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HISAAB_")}
    log_path = tmp_path / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hisaab.cli.main",
            "demo",
            "--out",
            str(tmp_path),
            "--rows",
            "2000",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        probe = httpx.Client(timeout=1)
        while True:
            if proc.poll() is not None:
                pytest.fail(f"hisaab demo exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                if probe.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("hisaab demo did not start serving within 60 s")
            time.sleep(0.3)
        probe.close()
        yield base, tmp_path / "simulated"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_log_in_upload_match_and_resolve(server: tuple[str, Path]) -> None:
    base, files = server
    with httpx.Client(base_url=base, timeout=30) as client:
        walk_through(client, files)


def walk_through(client: httpx.Client, files: Path) -> None:
    login = client.post(
        "/api/auth/login", json={"email": "ops@hisaab.demo", "password": DEMO_PASSWORD}
    )
    assert login.status_code == 200
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

    job = client.post("/api/jobs", json={"name": "uploaded by hand"}, headers=auth)
    assert job.status_code == 201
    job_id = job.json()["id"]
    for side, name in (("pg", "pg.csv"), ("bank", "bank.csv")):
        content = (files / name).read_bytes()
        up = client.post(
            f"/api/jobs/{job_id}/upload",
            headers=auth,
            data={"side": side},
            files={"file": (name, content, "text/csv")},
        )
        assert up.status_code == 201, up.text
    match = client.post(f"/api/jobs/{job_id}/match", headers=auth)
    assert match.status_code == 202, match.text

    deadline = time.monotonic() + 60
    status = ""
    while status not in ("completed", "failed"):
        assert time.monotonic() < deadline, f"match still {status} after 60 s"
        time.sleep(0.3)
        status = client.get(f"/api/jobs/{job_id}", headers=auth).json()["status"]
    assert status == "completed"

    exceptions = client.get(f"/api/jobs/{job_id}/exceptions", headers=auth).json()
    assert exceptions["total"] > 0
    target = exceptions["items"][0]
    resolved = client.post(
        f"/api/exceptions/{target['id']}/resolve",
        headers=auth,
        json={"resolution": "accept", "reason": "timing difference, credited next day"},
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
