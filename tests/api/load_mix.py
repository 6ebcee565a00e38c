"""Many concurrent clients driving every authenticated endpoint of a served Hisaab API.

Used by tests/api/test_concurrency.py (a few seconds, in the suite) and by
benchmarks/bench_api.py (60 s, figures for docs/benchmarks.md). Each client is its own
keep-alive HTTP connection and loops over a weighted mix of operations, as an ops team, a
finance team, the real-time dashboard and merchants would use the API at once: reads most,
writes (jobs, uploads, matching, exception workflow, payment sessions, STK pushes) too.

What counts: every answer's status per operation, its latency, and every request that got no
answer at all (a dropped or refused connection, a timeout). A 4xx can be the right answer
(a 409 when two clients resolve one exception); a 5xx or no answer never is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

PASSWORD = "load-password-1"
ROLES = ("admin", "sp-ops", "sp-finance", "sp-compliance", "merchant-admin")
MERCHANT = "M0001"

# Half the payments settle; ten large ones (₹20,000 and more, above the default approval
# threshold) do not, so that resolving them waits for a checker.
PG_CSV = (
    "record_id,amount_minor,currency,direction,value_date,utr\n"
    + "".join(f"pay_{n},{10_000 + n},INR,CR,2026-11-02,4015{n:08d}\n" for n in range(40))
    + "".join(f"pay_big{n},{2_000_000 + n},INR,CR,2026-11-02,4016{n:08d}\n" for n in range(10))
).encode()
BANK_CSV = (
    "record_id,amount_minor,currency,direction,value_date,utr\n"
    + "".join(f"bnk_{n},{10_000 + n},INR,CR,2026-11-02,4015{n:08d}\n" for n in range(0, 40, 2))
    + "".join(f"bnk_x{n},{777 + n},INR,CR,2026-11-03,9999{n:08d}\n" for n in range(10))
).encode()


@dataclass
class OpStats:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)  # no answer: exception name


@dataclass
class LoadResult:
    seconds: float
    clients: int
    ops: dict[str, OpStats] = field(default_factory=lambda: defaultdict(OpStats))

    @property
    def requests(self) -> int:
        return sum(sum(s.statuses.values()) for s in self.ops.values())

    @property
    def server_errors(self) -> dict[str, Counter[int]]:
        return {
            op: Counter({code: n for code, n in s.statuses.items() if code >= 500})
            for op, s in self.ops.items()
            if any(code >= 500 for code in s.statuses)
        }

    @property
    def no_answer(self) -> dict[str, Counter[str]]:
        return {op: s.failures for op, s in self.ops.items() if s.failures}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[max(0, int(q * len(ordered) + 0.999999) - 1)]


@dataclass
class World:
    """What the mix works on: tokens per role, a reconciled job and its exceptions, user ids."""

    tokens: dict[str, str]
    user_ids: dict[str, int]
    job_id: int  # matched once: its exceptions are worked
    rematch_job_id: int  # matched again and again
    exception_ids: list[int]
    big_exception_ids: list[int] = field(default_factory=list)  # above the approval threshold
    session_ids: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # created, not pushed yet
    pushed: list[str] = field(default_factory=list)  # pushed: they can be queried
    merchant_ids: list[str] = field(default_factory=list)  # made by the mix
    proposals: list[tuple[str, int]] = field(default_factory=list)  # terms waiting: (id, v)
    dispute_ids: list[str] = field(default_factory=list)  # opened by the mix
    adjustment_ids: list[str] = field(default_factory=list)  # proposed, not decided yet

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


async def prepare(client: httpx.AsyncClient, *, match_timeout: float = 120.0) -> World:
    """Log every role in, and make a job with both files through the API, matched."""
    tokens: dict[str, str] = {}
    user_ids: dict[str, int] = {}
    for role in ROLES:
        answer = await client.post(
            "/api/auth/login", json={"email": f"{role}@load.test", "password": PASSWORD}
        )
        answer.raise_for_status()
        tokens[role] = answer.json()["access_token"]
        me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens[role]}"})
        user_ids[role] = int(me.json()["id"])
    ops = {"Authorization": f"Bearer {tokens['sp-ops']}"}
    job_ids = [await _matched_job(client, ops, match_timeout) for _ in range(2)]
    world = World(tokens, user_ids, job_id=job_ids[0], rematch_job_id=job_ids[1], exception_ids=[])
    page = await client.get(
        f"/api/jobs/{world.job_id}/exceptions", params={"page_size": 200}, headers=ops
    )
    items = page.json()["items"]
    world.exception_ids = [int(e["id"]) for e in items]
    world.big_exception_ids = [int(e["id"]) for e in items if e["amount_minor"] >= 2_000_000]
    return world


async def _matched_job(client: httpx.AsyncClient, ops: dict[str, str], timeout: float) -> int:
    job = await client.post("/api/jobs", json={"name": "load day"}, headers=ops)
    job.raise_for_status()
    job_id = int(job.json()["id"])
    for side, body in (("pg", PG_CSV), ("bank", BANK_CSV)):
        up = await client.post(
            f"/api/jobs/{job_id}/upload",
            data={"side": side},
            files={"file": (f"{side}.csv", body, "text/csv")},
            headers=ops,
        )
        up.raise_for_status()
    (await client.post(f"/api/jobs/{job_id}/match", headers=ops)).raise_for_status()
    deadline = time.monotonic() + timeout
    while True:
        state = (await client.get(f"/api/jobs/{job_id}", headers=ops)).json()
        if state["status"] == "completed":
            return job_id
        if state["status"] == "failed" or time.monotonic() > deadline:
            raise RuntimeError(f"the load job did not complete: {state}")
        await asyncio.sleep(0.1)


Op = Callable[[httpx.AsyncClient, World, random.Random], Awaitable[httpx.Response]]


def _session_body(rng: random.Random) -> dict[str, Any]:
    return {"merchantId": MERCHANT, "amount": rng.randint(1, 5000), "phone": "254712345678"}


async def _new_session(c: httpx.AsyncClient, w: World, rng: random.Random) -> httpx.Response:
    answer = await c.post("/api/sessions", json=_session_body(rng), headers=w.headers("sp-ops"))
    if answer.status_code == 201:
        w.session_ids.append(answer.json()["sessionId"])
        w.pending.append(answer.json()["sessionId"])
        del w.session_ids[:-500]
    return answer


def _a_session(w: World, rng: random.Random) -> str:
    return rng.choice(w.session_ids) if w.session_ids else "ps_none"


async def _push(c: httpx.AsyncClient, w: World, rng: random.Random) -> httpx.Response:
    if not w.pending:
        await _new_session(c, w, rng)
    session_id = w.pending.pop() if w.pending else "ps_none"
    answer = await c.post(
        "/api/mpesa/stkpush", json={"sessionId": session_id}, headers=w.headers("sp-ops")
    )
    if answer.status_code == 200:
        w.pushed.append(session_id)
        del w.pushed[:-500]
    return answer


async def _upload(c: httpx.AsyncClient, w: World, rng: random.Random) -> httpx.Response:
    job = await c.post("/api/jobs", json={"name": "upload"}, headers=w.headers("sp-ops"))
    job_id = job.json().get("id", 0) if job.status_code == 201 else 0
    return await c.post(
        f"/api/jobs/{job_id}/upload",
        data={"side": "pg"},
        files={"file": ("pg.csv", PG_CSV, "text/csv")},
        headers=w.headers("sp-ops"),
    )


async def _new_merchant(c: httpx.AsyncClient, w: World, rng: random.Random) -> httpx.Response:
    body = {
        "id": f"L{rng.randrange(10**12):012d}",
        "name": "Load Merchant",
        "bank_account": {
            "name": "Load Merchant",
            "number": "50100012345678",
            "ifsc": "HDFC0001234",
        },
    }
    answer = await c.post("/api/merchants", json=body, headers=w.headers("sp-ops"))
    if answer.status_code == 201:
        w.merchant_ids.append(body["id"])
        del w.merchant_ids[:-500]
    return answer


async def _new_refund(c: httpx.AsyncClient, w: World, rng: random.Random) -> httpx.Response:
    body = {
        "id": f"rfn_{rng.randrange(10**12):012d}",
        "merchant_id": MERCHANT,
        "amount_minor": rng.randint(1, 5000),
        "currency": "INR",
        "business_date": "2026-03-02",
        "reason": "load: customer cancelled",
    }
    return await c.post("/api/refunds", json=body, headers=w.headers("sp-ops"))


async def _new_dispute(c: httpx.AsyncClient, w: World, rng: random.Random) -> httpx.Response:
    body = {
        "id": f"dsp_{rng.randrange(10**12):012d}",
        "merchant_id": MERCHANT,
        "network": rng.choice(("visa", "mastercard", "rupay", "upi")),
        "reason_code": rng.choice(("10.4", "4853", "1065", "U008")),
        "stage": "chargeback",
        "amount_minor": rng.randint(1, 5000),
        "currency": "INR",
        "received_at": dt.datetime.now(dt.UTC).isoformat(),  # its deadline still ahead
    }
    answer = await c.post("/api/disputes", json=body, headers=w.headers("sp-ops"))
    if answer.status_code == 201:
        w.dispute_ids.append(body["id"])
        del w.dispute_ids[:-500]
    return answer


def _dispute(suffix: str) -> Callable[[World, random.Random], str]:
    return lambda w, r: f"/api/disputes/{r.choice(w.dispute_ids or ['dsp_none'])}{suffix}"


async def _new_adjustment(c: httpx.AsyncClient, w: World, rng: random.Random) -> httpx.Response:
    body = {
        "id": f"adj_{rng.randrange(10**12):012d}",
        "merchant_id": MERCHANT,
        "amount_minor": rng.choice((-1, 1)) * rng.randint(1, 5000),
        "currency": "INR",
        "note": "load: courier fee",
    }
    answer = await c.post("/api/adjustments", json=body, headers=w.headers("sp-ops"))
    if answer.status_code == 201:
        w.adjustment_ids.append(body["id"])
    return answer


def _decide_adjustment(verdict: str) -> Op:
    """Approve or reject a proposed adjustment as sp-finance (its maker was sp-ops)."""

    async def op(c: httpx.AsyncClient, w: World, rng: random.Random) -> httpx.Response:
        adjustment_id = w.adjustment_ids.pop() if w.adjustment_ids else "adj_none"
        return await c.post(
            f"/api/adjustments/{adjustment_id}/{verdict}",
            json={"reason": "load: checked"},
            headers=w.headers("sp-finance"),
        )

    return op


def _a_merchant(w: World, rng: random.Random) -> str:
    return rng.choice(w.merchant_ids) if w.merchant_ids else MERCHANT


async def _propose(c: httpx.AsyncClient, w: World, rng: random.Random) -> httpx.Response:
    merchant_id = _a_merchant(w, rng)
    body = {"terms": {"reserve_percent": str(rng.randint(0, 10))}, "note": "load: new reserve"}
    answer = await c.post(
        f"/api/merchants/{merchant_id}/terms", json=body, headers=w.headers("sp-ops")
    )
    if answer.status_code == 201:
        w.proposals.append((merchant_id, int(answer.json()["version"])))
    return answer


def _decide(verdict: str) -> Op:
    """Approve or reject a waiting proposal as sp-finance (its proposer was sp-ops)."""

    async def op(c: httpx.AsyncClient, w: World, rng: random.Random) -> httpx.Response:
        merchant_id, version = w.proposals.pop() if w.proposals else (MERCHANT, 1)
        return await c.post(
            f"/api/merchants/{merchant_id}/terms/{version}/{verdict}",
            json={"reason": "load: checked"},
            headers=w.headers("sp-finance"),
        )

    return op


def _exception(w: World, rng: random.Random) -> int:
    return rng.choice(w.exception_ids) if w.exception_ids else 1


def get(path: Callable[[World, random.Random], str], *roles: str, **params: Any) -> Op:
    """GET `path(world, rng)` as one of `roles`."""

    def op(c: httpx.AsyncClient, w: World, r: random.Random) -> Awaitable[httpx.Response]:
        return c.get(path(w, r), params=params or None, headers=w.headers(r.choice(roles)))

    return op


def post(
    path: Callable[[World, random.Random], str],
    role: str,
    body: Callable[[World, random.Random], Any] | None = None,
) -> Op:
    """POST `body(world, rng)` (JSON) to `path(world, rng)` as `role`."""

    def op(c: httpx.AsyncClient, w: World, r: random.Random) -> Awaitable[httpx.Response]:
        json = body(w, r) if body is not None else None
        return c.post(path(w, r), json=json, headers=w.headers(role))

    return op


def _fixed(path: str) -> Callable[[World, random.Random], str]:
    return lambda _w, _r: path


def _job(suffix: str = "") -> Callable[[World, random.Random], str]:
    return lambda w, _r: f"/api/jobs/{w.job_id}{suffix}"


def _exc(suffix: str = "") -> Callable[[World, random.Random], str]:
    return lambda w, r: f"/api/exceptions/{_exception(w, r)}{suffix}"


def _big(suffix: str) -> Callable[[World, random.Random], str]:
    """One of the exceptions whose resolution waits for a checker."""
    return lambda w, r: f"/api/exceptions/{r.choice(w.big_exception_ids or [1])}{suffix}"


def _sess(prefix: str) -> Callable[[World, random.Random], str]:
    return lambda w, r: f"{prefix}{_a_session(w, r)}"


_RT = "/api/real-time-reconciliation"
_REASONS = ("write_off", "accept", "reopen")

# (operation as the OpenAPI names it, weight, how to call it)
MIX: list[tuple[str, int, Op]] = [
    ("GET /api/auth/me", 6, get(_fixed("/api/auth/me"), *ROLES)),
    ("POST /api/jobs", 1, post(_fixed("/api/jobs"), "sp-ops", lambda w, r: {"name": "load"})),
    ("GET /api/jobs", 4, get(_fixed("/api/jobs"), "sp-ops", "merchant-admin", "sp-finance")),
    ("GET /api/jobs/{job_id}", 6, get(_job(), "sp-ops")),
    ("POST /api/jobs/{job_id}/upload", 1, _upload),
    (
        "POST /api/jobs/{job_id}/normalize",
        1,
        post(_job("/normalize"), "sp-ops", lambda w, r: {"side": "bank", "template": "canonical"}),
    ),
    (
        "POST /api/jobs/{job_id}/match",
        1,
        post(lambda w, r: f"/api/jobs/{w.rematch_job_id}/match", "sp-ops"),
    ),
    ("GET /api/jobs/{job_id}/matches", 4, get(_job("/matches"), "sp-finance", page_size=20)),
    ("GET /api/jobs/{job_id}/exceptions", 4, get(_job("/exceptions"), "sp-ops", page_size=20)),
    ("GET /api/exceptions/{exception_id}", 6, get(_exc(), "sp-ops", "sp-finance")),
    (
        "POST /api/exceptions/{exception_id}/assign",
        2,
        post(_exc("/assign"), "sp-ops", lambda w, r: {"owner_id": w.user_ids["sp-ops"]}),
    ),
    (
        "POST /api/exceptions/{exception_id}/resolve",
        2,
        post(
            lambda w, r: (_big if r.random() < 0.5 else _exc)("/resolve")(w, r),
            "sp-ops",
            lambda w, r: {"resolution": r.choice(_REASONS), "reason": "load: checked with bank"},
        ),
    ),
    # The checker is another user than the maker (sp-ops resolves, admin approves).
    ("POST /api/exceptions/{exception_id}/approve", 2, post(_big("/approve"), "admin")),
    (
        "POST /api/exceptions/{exception_id}/reject",
        1,
        post(_big("/reject"), "admin", lambda w, r: {"reason": "load: not this one"}),
    ),
    ("GET /api/overview", 4, get(_fixed("/api/overview"), "sp-ops", "sp-finance")),
    ("GET /api/pipeline", 2, get(_fixed("/api/pipeline"), "sp-finance")),
    ("GET /api/sources", 2, get(_fixed("/api/sources"), "sp-ops")),
    ("GET /api/connectors/health", 2, get(_fixed("/api/connectors/health"), "sp-ops")),
    ("GET /api/top-reasons", 2, get(_fixed("/api/top-reasons"), "sp-compliance")),
    ("POST /api/sessions", 6, _new_session),
    (
        "GET /api/sessions/{session_id}",
        8,
        get(_sess("/api/sessions/"), "sp-ops", "merchant-admin"),
    ),
    ("POST /api/mpesa/stkpush", 4, _push),
    (
        "POST /api/mpesa/query/{session_id}",
        1,
        post(lambda w, r: f"/api/mpesa/query/{r.choice(w.pushed or ['ps_none'])}", "sp-ops"),
    ),
    ("POST /api/merchants", 1, _new_merchant),
    ("GET /api/merchants", 2, get(_fixed("/api/merchants"), "sp-ops", "merchant-admin")),
    (
        "GET /api/merchants/{merchant_id}",
        3,
        get(lambda w, r: f"/api/merchants/{_a_merchant(w, r)}", "sp-finance", "sp-ops"),
    ),
    (
        "GET /api/merchants/{merchant_id}/terms",
        1,
        get(lambda w, r: f"/api/merchants/{_a_merchant(w, r)}/terms", "sp-finance"),
    ),
    ("POST /api/merchants/{merchant_id}/terms", 1, _propose),
    ("POST /api/merchants/{merchant_id}/terms/{version}/approve", 1, _decide("approve")),
    ("POST /api/merchants/{merchant_id}/terms/{version}/reject", 1, _decide("reject")),
    ("GET /merchant/dashboard", 2, get(_fixed("/merchant/dashboard"), "merchant-admin")),
    ("GET /merchant/settlements", 1, get(_fixed("/merchant/settlements"), "merchant-admin")),
    (
        "POST /merchant/settlement/schedule",
        1,
        post(
            _fixed("/merchant/settlement/schedule"),
            "merchant-admin",
            lambda w, r: {"schedule": {"cycle": "daily", "t_plus": 1}, "note": "load: daily"},
        ),
    ),
    ("GET /merchant/disputes", 1, get(_fixed("/merchant/disputes"), "merchant-admin")),
    (
        "POST /merchant/disputes/{dispute_id}/respond",
        1,
        post(
            lambda w, r: f"/merchant{_dispute('/respond')(w, r).removeprefix('/api')}",
            "merchant-admin",
            lambda w, r: {"action": "draft", "evidence": "load: receipt"},
        ),
    ),
    ("POST /api/adjustments", 1, _new_adjustment),
    ("GET /api/adjustments", 1, get(_fixed("/api/adjustments"), "sp-finance", "merchant-admin")),
    ("POST /api/adjustments/{adjustment_id}/approve", 1, _decide_adjustment("approve")),
    ("POST /api/adjustments/{adjustment_id}/reject", 1, _decide_adjustment("reject")),
    ("POST /api/disputes", 1, _new_dispute),
    ("GET /api/disputes", 1, get(_fixed("/api/disputes"), "sp-finance", "merchant-admin")),
    ("GET /api/disputes/{dispute_id}", 1, get(_dispute(""), "sp-finance", "sp-ops")),
    (
        "POST /api/disputes/{dispute_id}/respond",
        1,
        post(_dispute("/respond"), "sp-ops", lambda w, r: {"action": "draft", "evidence": "load"}),
    ),
    (
        "POST /api/disputes/{dispute_id}/decide",
        1,
        post(_dispute("/decide"), "sp-ops", lambda w, r: {"outcome": "cancelled"}),
    ),
    ("GET /api/refunds", 1, get(_fixed("/api/refunds"), "sp-ops", "merchant-admin")),
    ("POST /api/refunds", 1, _new_refund),
    ("GET /api/settlements", 2, get(_fixed("/api/settlements"), "sp-finance", "merchant-admin")),
    (
        "GET /api/settlements/{settlement_id}",
        1,
        get(lambda w, r: f"/api/settlements/{r.randint(1, 3)}", "sp-finance"),
    ),
    (
        "POST /api/settlements/{settlement_id}/approve",
        1,
        post(lambda w, r: f"/api/settlements/{r.randint(1, 3)}/approve", "sp-finance"),
    ),
    (f"GET {_RT}/stats", 4, get(_fixed(f"{_RT}/stats"), "admin")),
    (f"POST {_RT}/session/{{session_id}}", 2, post(_sess(f"{_RT}/session/"), "admin")),
    (
        f"POST {_RT}/bulk",
        1,
        post(
            _fixed(f"{_RT}/bulk"),
            "admin",
            lambda w, r: {"sessionIds": [_a_session(w, r) for _ in range(5)]},
        ),
    ),
    (f"POST {_RT}/queue/{{session_id}}", 1, post(_sess(f"{_RT}/queue/"), "admin")),
    (f"GET {_RT}/active", 2, get(_fixed(f"{_RT}/active"), "admin")),
    (f"GET {_RT}/results", 2, get(_fixed(f"{_RT}/results"), "admin", limit=50)),
]


async def run(
    base_url: str, world: World, *, clients: int, seconds: float, seed: int = 7
) -> LoadResult:
    """`clients` concurrent connections, each looping over the mix for `seconds`."""
    result = LoadResult(seconds=seconds, clients=clients)
    names = [name for name, _w, _op in MIX]
    weights = [w for _name, w, _op in MIX]
    calls = {name: op for name, _w, op in MIX}
    deadline = time.monotonic() + seconds

    async def client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        # One connection per client, as 64 separate users would have.
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        timeout = httpx.Timeout(60.0)
        first = names[n % len(names)]  # every operation runs at least once, whatever the mix
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as c:
            while time.monotonic() < deadline:
                name, first = first or rng.choices(names, weights)[0], None
                stats = result.ops[name]
                try:
                    answer = await calls[name](c, world, rng)
                except httpx.HTTPError as exc:
                    stats.failures[type(exc).__name__] += 1
                    continue
                # The operation's own request: set-up requests (a job to upload to) not counted.
                stats.latencies_ms.append(answer.elapsed.total_seconds() * 1000)
                stats.statuses[answer.status_code] += 1

    await asyncio.gather(*(client(n) for n in range(clients)))
    return result
