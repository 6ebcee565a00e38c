"""Payment initiation through the API, for bench_realtime.py: a Daraja stand-in and the load.

The Daraja stand-in is a minimal HTTP/1.1 server on asyncio streams in the load process: it
answers OAuth with a token and every STK Push with a new CheckoutRequestID, at once, so that
what is measured is Hisaab (on two cores, a general web framework here would take the CPU
the API needs). The load creates each payment session (`POST /api/sessions`) and sends its
STK Push (`POST /api/mpesa/stkpush`) as a merchant's checkout would, open loop at a fixed
rate, over keep-alive connections, with the minimal HTTP writer bench_realtime.py uses.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any


class DarajaStandIn:
    """OAuth, STK Push and STK Query, answered at once, as Safaricom's API answers them."""

    def __init__(self, port: int) -> None:
        self.pushes = 0
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self.port = port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                writer.write(self._answer(request_line.split()[1].decode()))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return  # the client went, or the stand-in is stopping
        finally:
            writer.close()

    def _answer(self, target: str) -> bytes:
        if target.startswith("/oauth/v1/generate"):
            body: dict[str, Any] = {"access_token": "bench-token", "expires_in": "3599"}
        elif target.startswith("/mpesa/stkpush/v1/processrequest"):
            n = next(self._ids)
            self.pushes += 1
            body = {
                "MerchantRequestID": f"bench-{n}",
                "CheckoutRequestID": f"ws_CO_bench_{n:09d}",
                "ResponseCode": "0",
                "ResponseDescription": "Success. Request accepted for processing",
                "CustomerMessage": "Success. Request accepted for processing",
            }
        else:  # STK Query: still processing
            body = {"requestId": "q", "errorCode": "500.001.1001", "errorMessage": "processing"}
        raw = json.dumps(body).encode()
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(raw)).encode()
            + b"\r\n\r\n"
            + raw
        )


@dataclass
class Initiated:
    """What the initiation phase did: per payment, its session, checkout and amount."""

    payments: list[tuple[str, str, int]] = field(default_factory=list)
    session_ms: list[float] = field(default_factory=list)
    push_ms: list[float] = field(default_factory=list)
    pair_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


async def _request(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    path: str,
    token: str,
    body: bytes,
) -> tuple[int, bytes]:
    writer.write(
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
    )
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return int(status_line.split()[1]), await reader.readexactly(length)


async def initiate(
    port: int, token: str, count: int, rate: float, connections: int, *, merchants: int = 50
) -> Initiated:
    """Create and push `count` payment sessions at `rate` a second; open loop."""
    done = Initiated()
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    def count_status(what: str, status: int) -> None:
        key = f"{what} {status}"
        done.statuses[key] = done.statuses.get(key, 0) + 1

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (item := await queue.get()) is not None:
                n, due = item
                amount = 100 + n % 900
                body = json.dumps(
                    {
                        "merchantId": f"M{n % merchants:04d}",
                        "amount": amount,
                        "phone": "254712345678",
                        "accountReference": f"INV{n:07d}",
                    }
                ).encode()
                started = time.perf_counter()
                status, answer = await _request(reader, writer, "/api/sessions", token, body)
                created = time.perf_counter()
                done.session_ms.append((created - started) * 1000)
                count_status("session", status)
                if status != 201:
                    continue
                session_id = json.loads(answer)["sessionId"]
                push = json.dumps({"sessionId": session_id}).encode()
                status, answer = await _request(reader, writer, "/api/mpesa/stkpush", token, push)
                finished = time.perf_counter()
                done.push_ms.append((finished - created) * 1000)
                # From when the payment was due, not when a connection was free to send it:
                # a server that falls behind shows in this latency, not only in the rate.
                done.pair_ms.append((finished - due) * 1000)
                count_status("push", status)
                if status == 200:
                    checkout = json.loads(answer)["checkoutRequestId"]
                    done.payments.append((session_id, checkout, amount))
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    started = time.monotonic()
    clock = time.perf_counter() - started  # perf_counter at `started`, less `started`
    for n in range(count):
        delay = started + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await queue.put((n, clock + started + n / rate))
    for _ in workers:
        await queue.put(None)
    await asyncio.gather(*workers)
    done.seconds = time.monotonic() - started
    return done
