"""A stand-in API process: subscribes, says `ready`, writes the messages it receives, one a line.

    python fanout_listener.py CONFIG_JSON COUNT OUT_FILE

Exits 0 after COUNT messages, 1 if they do not all come within 30 s (writing what came).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from fanout_support import collect

from hisaab.pubsub import FanoutConfig, Subscriber, Transport


async def main(config: FanoutConfig, count: int, out: Path) -> int:
    received: list[dict[str, object]] = []
    status = 0
    async with Subscriber(config) as subscriber:
        print("ready", flush=True)
        try:
            received = await collect(subscriber, count, timeout=30)
        except TimeoutError as exc:
            print(exc, file=sys.stderr)
            status = 1
    out.write_text("".join(json.dumps(m) + "\n" for m in received))
    return status


if __name__ == "__main__":
    fields = json.loads(sys.argv[1])
    config = FanoutConfig(**{**fields, "transport": Transport(fields["transport"])})
    sys.exit(asyncio.run(main(config, int(sys.argv[2]), Path(sys.argv[3]))))
