"""Callbacks recorded together (the group commit's batch) end exactly as if one by one."""

from __future__ import annotations

import json

from realtime_support import stk_callback
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from hisaab.realtime import intake
from hisaab.realtime.repository import EVENTS
from hisaab.storage.engine import make_engine
from hisaab.storage.migrate import upgrade
from hisaab.storage.models import QueueJob, utcnow


def test_a_batch_with_a_repeat_and_a_bad_body_keeps_everything(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = sessionmaker(engine)
    paid = json.dumps(stk_callback("ws_CO_A", receipt="RCPTA00001")).encode()
    cancelled = json.dumps(stk_callback("ws_CO_B", 1032)).encode()
    now = utcnow()
    try:
        with sessions.begin() as db:
            earlier = intake.stk_callbacks(db, [(cancelled, now)])
        with sessions.begin() as db:
            answers = intake.stk_callbacks(
                db, [(paid, now), (b"{not json", now), (paid, now), (cancelled, now)]
            )
        assert [a.error is None for a in answers] == [True, False, True, True]
        assert answers[1].error is not None and answers[1].error.http_status == 422
        with sessions() as db:
            rows = db.execute(
                select(
                    EVENTS.c.id, EVENTS.c.kind, EVENTS.c.checkout_request_id, EVENTS.c.first_of
                ).order_by(EVENTS.c.id)
            ).all()
            jobs = db.scalars(select(QueueJob.payload).order_by(QueueJob.id)).all()
        by_id = {r.id: r for r in rows}
        # The first copy of A claims its key; its second copy, and B (seen earlier), are repeats.
        assert by_id[answers[0].event_id].first_of == "ws_CO_A"
        assert by_id[answers[2].event_id].first_of is None
        assert by_id[answers[3].event_id].first_of is None
        assert by_id[earlier[0].event_id].first_of == "ws_CO_B"
        assert by_id[answers[1].event_id].kind == "rejected"
        # Every accepted callback queued its reconciliation, with its own event id.
        queued = [json.loads(p)["event_id"] for p in jobs]
        assert queued == [
            earlier[0].event_id,
            answers[0].event_id,
            answers[2].event_id,
            answers[3].event_id,
        ]
    finally:
        engine.dispose()
