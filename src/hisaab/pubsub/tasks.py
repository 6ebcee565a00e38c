"""Stopping a background task for sure, even one whose cancellation gets swallowed.

A cancellation that arrives just as a library's own read timeout fires can be lost (the
library sees its timeout, not our cancel), and the task then goes on waiting. `cancel_and_wait`
cancels again until the task has ended, so stopping a subscriber or a hub never hangs; the
tasks themselves also check a flag between reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

logger = logging.getLogger("hisaab.pubsub")

RECANCEL_SECONDS = 0.2


async def cancel_and_wait(task: asyncio.Task[None]) -> None:
    """Cancel `task` (again and again if need be) and wait until it has ended."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_SECONDS)
    if task.cancelled():
        return
    with contextlib.suppress(asyncio.CancelledError):
        failure = task.exception()
        if failure is not None:
            logger.error("task %s ended with an error", task.get_name(), exc_info=failure)
