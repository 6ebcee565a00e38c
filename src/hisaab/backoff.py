"""Delays between reconnection attempts, shared by everything that keeps a connection open
(the fan-out subscriber, the job wake-up listener): exponential, capped, with jitter so that
many processes that lost the same server do not come back at the same instant."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays between reconnection attempts: first, doubling up to most, each times 0.5-1.0."""

    first: float = 0.1
    most: float = 5.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay * random.uniform(0.5, 1.0)
            delay = min(delay * 2, self.most)
