"""`hisaab sandbox`: the Daraja sandbox as its own process, configured like Hisaab is."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mpesa_servers import Receiver

from hisaab.cli.main import main
from hisaab.mpesa.client import DarajaClient
from hisaab.mpesa.payloads import parse_stk_callback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HISAAB_")}
    env |= {
        "HISAAB_MPESA_CONSUMER_KEY": "cli-key",
        "HISAAB_MPESA_CONSUMER_SECRET": "cli-secret",
        "HISAAB_MPESA_PASSKEY": "cli-passkey",
        "HISAAB_MPESA_SHORTCODE": "600100",
    }
    command = [sys.executable, "-m", "hisaab.cli.main", "sandbox", "--port", str(port)]
    command += ["--callback-delay-ms", "100"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"hisaab sandbox exited with {process.returncode}: {output}")
            try:
                httpx.get(url + "/sandbox/stats", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("hisaab sandbox did not answer within 20 s")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def test_the_sandbox_command_serves_daraja_with_the_configured_credentials(
    sandbox_process: str, receiver: Receiver, receiver_url: str
) -> None:
    with DarajaClient(
        base_url=sandbox_process,
        consumer_key="cli-key",
        consumer_secret="cli-secret",
        shortcode="600100",
        passkey="cli-passkey",
    ) as client:
        answer = client.stk_push(5_000, "0712345671", "ACC-7", "Demo", receiver_url + "/cb")
        callback = parse_stk_callback(receiver.wait_for("/cb")[0].body)
    assert callback.checkout_request_id == answer.checkout_request_id
    assert callback.result.code == "1032"  # ends in 1: the digit rule says cancelled


def test_an_unknown_scenario_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["sandbox", "--scenario", "lost"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "unknown scenario 'lost'" in err and "no_callback" in err and "Traceback" not in err
