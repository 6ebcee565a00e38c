"""A stand-in worker process: records COUNT payments, one transaction each, and one rolled back.

    python fanout_publisher.py CONFIG_JSON COUNT

The rolled-back payment (receipt SGRROLLBACK) comes half-way; no listener may ever see it.
"""

from __future__ import annotations

import json
import sys

from fanout_support import record_payment
from sqlalchemy.orm import Session

from hisaab.pubsub import FanoutConfig, Publisher, Transport
from hisaab.storage.engine import make_engine


class Abandoned(Exception):
    pass


def main(config: FanoutConfig, count: int) -> None:
    assert config.database_url is not None
    engine = make_engine(config.database_url)
    publisher = Publisher(config)
    try:
        for n in range(count):
            if n == count // 2:
                try:
                    with Session(engine) as session, session.begin():
                        record_payment(session, publisher, "SGRROLLBACK", 1)
                        raise Abandoned
                except Abandoned:
                    pass
            with Session(engine) as session, session.begin():
                record_payment(session, publisher, f"SGR{n:07d}", 100 * n)
    finally:
        publisher.close()
        engine.dispose()


if __name__ == "__main__":
    fields = json.loads(sys.argv[1])
    main(FanoutConfig(**{**fields, "transport": Transport(fields["transport"])}), int(sys.argv[2]))
