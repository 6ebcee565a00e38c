"""Numbers about the queue for operators and the API: how many jobs are in each state."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hisaab.storage.models import QUEUE_STATUSES, QueueJob


def queue_depth(session: Session) -> dict[str, int]:
    """Jobs per status, every status present (0 when none): queued, running, done, failed."""
    depth = dict.fromkeys(QUEUE_STATUSES, 0)
    rows = session.execute(
        select(QueueJob.status, func.count(QueueJob.id)).group_by(QueueJob.status)
    )
    for status, count in rows:
        depth[status] = int(count)
    return depth
