"""A worker imports only the handler modules its job kinds need.

A real-time worker restarted after a crash should be back in well under a second; importing
the batch engine (DuckDB, Arrow) for a recon.match job it will never run doubled that.
"""

from __future__ import annotations

import subprocess
import sys

from hisaab.queue.jobs import HANDLER_MODULES, handler_modules_for

REALTIME_KINDS = ["realtime.reconcile", "mpesa.query", "realtime.stuck_check", "realtime.alert"]


def test_every_module_without_kinds() -> None:
    assert handler_modules_for(None) == list(HANDLER_MODULES)


def test_the_modules_of_the_kinds_asked_for() -> None:
    assert handler_modules_for(REALTIME_KINDS) == ["hisaab.realtime.jobs"]
    assert handler_modules_for(["recon.match", "queue.prune"]) == [
        "hisaab.recon.match_job",
        "hisaab.queue.retention",
    ]
    assert handler_modules_for(["settlement.payout"]) == []  # a --handler-module's own kind


def test_a_realtime_worker_does_not_load_the_batch_engine() -> None:
    script = (
        "import sys\n"
        "from hisaab.queue.jobs import handler_modules_for\n"
        "from hisaab.queue.worker import load_handlers\n"
        f"handlers = load_handlers(optional=handler_modules_for({REALTIME_KINDS!r}))\n"
        "print(sorted(handlers), 'duckdb' in sys.modules, 'pyarrow' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == (
        "['mpesa.query', 'realtime.alert', 'realtime.reconcile', 'realtime.stuck_check'] "
        "False False"
    )
