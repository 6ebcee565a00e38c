"""A real-time worker SIGKILLed mid-queue loses nothing and reconciles nothing twice.

Two thousand callbacks are recorded (as the API records them) for sessions that await
payment; a real `hisaab worker` starts on them and is killed with SIGKILL while it works
through the queue; a second worker finishes. Every session ends paid with exactly one result.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from realtime_support import stk_callback
from sqlalchemy import func, insert, select
from sqlalchemy.orm import sessionmaker

from hisaab.realtime import intake
from hisaab.storage.engine import make_engine
from hisaab.storage.migrate import upgrade
from hisaab.storage.models import utcnow
from hisaab.storage.realtime_models import PaymentSession, RealtimeResult

CALLBACKS = 2_000


def _worker(env: dict[str, str], log: Path, *extra: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "hisaab.cli.main", "worker", "--kinds", "realtime.reconcile"]
    with log.open("ab") as out:
        return subprocess.Popen(
            [*args, "--batch-size", "50", "--visibility-timeout", "1", *extra],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.usefixtures("through_the_queue")  # the callbacks wait in the queue for workers
def test_no_callback_is_lost_or_reconciled_twice(database_url: str, tmp_path: Path) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = sessionmaker(engine)
    now = utcnow()
    with sessions.begin() as db:
        db.execute(
            insert(PaymentSession),
            [
                {
                    "id": f"kill-{n:05d}",
                    "merchant_id": "M-KILL",
                    "amount_minor": 250_000,
                    "currency": "KES",
                    "phone": "254708374149",
                    "status": "processing",
                    "checkout_request_id": f"ws_CO_kill_{n:05d}",
                    "created_at": now,
                    "initiated_at": now,
                    "updated_at": now,
                }
                for n in range(CALLBACKS)
            ],
        )
        bodies = [
            (json.dumps(stk_callback(f"ws_CO_kill_{n:05d}", receipt=f"K{n:09d}")).encode(), now)
            for n in range(CALLBACKS)
        ]
        answers = intake.stk_callbacks(db, bodies)
    assert all(a.error is None for a in answers)

    env = {k: v for k, v in os.environ.items() if not k.startswith("HISAAB_")}
    env.update(HISAAB_DATABASE_URL=database_url, HISAAB_REALTIME_STUCK_AFTER_SECONDS="3600")
    log = tmp_path / "worker.log"

    def results() -> int:
        with sessions() as db:
            return int(db.scalar(select(func.count()).select_from(RealtimeResult)) or 0)

    first = _worker(env, log)
    try:
        deadline = time.monotonic() + 60
        while results() < CALLBACKS // 10:  # well under way, far from done
            if first.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not get going:\n{log.read_text()[-3000:]}")
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    done_at_kill = results()
    assert done_at_kill < CALLBACKS, "the worker finished before it could be killed"

    time.sleep(1.2)  # the killed worker's claimed batch comes back after its 1 s lease
    second = _worker(env, log, "--once")
    try:
        assert second.wait(120) == 0, log.read_text()[-3000:]
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()

    with sessions() as db:
        per_session = dict(
            db.execute(
                select(RealtimeResult.session_id, func.count()).group_by(RealtimeResult.session_id)
            ).all()
        )
        paid = db.scalar(
            select(func.count()).select_from(PaymentSession).where(PaymentSession.status == "paid")
        )
    engine.dispose()
    assert len(per_session) == CALLBACKS  # none lost
    assert set(per_session.values()) == {1}  # none reconciled twice
    assert paid == CALLBACKS
