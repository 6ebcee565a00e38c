"""Several API processes: each one receives every event a worker process commits.

Two listener processes (fanout_listener.py) subscribe; a third, publishing process
(fanout_publisher.py) records 300 payments, one transaction each, and one that rolls back.
Each listener must receive all 300 events, in the publisher's order, and never the rolled-back
one. They are real OS processes: nothing is shared with the test but the database and Redis.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from fanout_support import Fanout, reconciled

HERE = Path(__file__).parent
COUNT = 300


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    return env


def _config_json(fanout: Fanout) -> str:
    return json.dumps(dataclasses.asdict(fanout.config))


@contextmanager
def listener(
    fanout: Fanout, tmp_path: Path, name: str
) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A listener process that has subscribed; killed by its PID however the test ends."""
    out = tmp_path / f"{name}.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "fanout_listener.py"),
            _config_json(fanout),
            str(COUNT),
            str(out),
        ],
        env=_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the subscription is in place
        if line.strip() != "ready":
            process.kill()
            _, err = process.communicate(timeout=10)
            pytest.fail(f"listener {name} did not subscribe: {line}{err}")
        yield process, out
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def _two_listeners_hear_a_third_process(fanout: Fanout, tmp_path: Path) -> None:
    with ExitStack() as stack:
        listeners = [stack.enter_context(listener(fanout, tmp_path, n)) for n in ("api-1", "api-2")]
        subprocess.run(
            [sys.executable, str(HERE / "fanout_publisher.py"), _config_json(fanout), str(COUNT)],
            env=_env(),
            cwd=tmp_path,
            check=True,
            timeout=60,
        )
        for process, _out in listeners:
            _stdout, stderr = process.communicate(timeout=40)
            assert process.returncode == 0, stderr
        received = [
            [json.loads(line) for line in out.read_text().splitlines()] for _p, out in listeners
        ]
    expected = [reconciled(f"SGR{n:07d}", 100 * n) for n in range(COUNT)]
    assert received == [expected, expected]


def test_every_api_process_hears_every_event_over_postgres(
    over_postgres: Fanout, tmp_path: Path
) -> None:
    _two_listeners_hear_a_third_process(over_postgres, tmp_path)


def test_every_api_process_hears_every_event_over_redis(over_redis: Fanout, tmp_path: Path) -> None:
    _two_listeners_hear_a_third_process(over_redis, tmp_path)
