"""The demo deployment: an embedded database with a user per role, and a reconciled job.

Everything goes through the same services as the API (users, jobs, uploads, the queue and its
worker), so what the demo shows is what a real deployment does. Used by `hisaab demo`.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from hisaab.auth.tokens import Claims
from hisaab.auth.users import create_user
from hisaab.config import Settings, get_settings
from hisaab.queue.worker import Worker
from hisaab.recon import jobs
from hisaab.sandbox.model import SimulationConfig
from hisaab.sandbox.simulate import simulate
from hisaab.storage.engine import make_engine
from hisaab.storage.migrate import upgrade
from hisaab.storage.models import ReconciliationJob, User

DEMO_PASSWORD = "hisaab-demo-password"
DEMO_MERCHANT = "M0001234"
DEMO_USERS = (
    ("admin@hisaab.demo", "admin", None),
    ("ops@hisaab.demo", "sp-ops", None),
    ("ops2@hisaab.demo", "sp-ops", None),  # a second approver for maker-checker
    ("finance@hisaab.demo", "sp-finance", None),
    ("compliance@hisaab.demo", "sp-compliance", None),
    ("merchant@hisaab.demo", "merchant-admin", DEMO_MERCHANT),
)


@dataclass
class Demo:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    job_id: int
    job_status: str
    summary: dict[str, object] | None


def prepare(out: Path, *, rows: int = 20_000, seed: int = 7) -> Demo:
    """Migrate a SQLite database in `out`, add demo users, and reconcile one simulated day."""
    out = out.resolve()
    # Configured as a deployment is, through HISAAB_* variables: the worker's handlers read
    # the same settings as the API.
    os.environ.update(
        HISAAB_DATABASE_URL=f"sqlite:///{out / 'hisaab.db'}",
        HISAAB_DATA_DIR=str(out / "uploads"),
        HISAAB_JWT_SECRET=os.environ.get("HISAAB_JWT_SECRET") or secrets.token_hex(32),
    )
    get_settings.cache_clear()
    settings = get_settings()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as session:
        existing = set(session.scalars(select(User.email)))
        for email, role, merchant in DEMO_USERS:
            if email not in existing:
                create_user(
                    session, email=email, password=DEMO_PASSWORD, role=role, merchant_id=merchant
                )
    files = out / "simulated"
    simulate(SimulationConfig(rows=rows, seed=seed, bank_format="hdfc"), files)
    with sessions.begin() as session:
        ops = session.scalars(select(User).where(User.email == "ops@hisaab.demo")).one()
        claims = Claims(ops.id, ops.email, ops.role, ops.merchant_id)
        job = jobs.create_job(session, claims, name=f"HDFC statement, {rows:,} simulated payments")
        job_id = job.job.id
        for side, name in (("pg", "pg.csv"), ("bank", "bank.csv")):
            with (files / name).open("rb") as stream:
                jobs.store_upload(
                    session,
                    claims,
                    job_id,
                    side=side,
                    stream=stream,
                    filename=name,
                    data_dir=Path(settings.data_dir),
                )
        jobs.request_match(session, claims, job_id)
    Worker(sessions, poll_seconds=0.2).run(once=True)
    with sessions() as session:
        stored = session.get(ReconciliationJob, job_id)
        assert stored is not None
        view = jobs.effective_status(stored, None)
        summary = jobs.JobView(stored, view[0], view[1], []).summary
    return Demo(settings, engine, sessions, job_id, view[0], summary)
