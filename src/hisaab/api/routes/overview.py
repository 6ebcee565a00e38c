"""The Overview API: the operations dashboard's KPIs, for platform staff (`overview:read`).

GET /api/overview, /api/pipeline, /api/sources, /api/connectors/health, /api/top-reasons.
Thin routes over `hisaab.overview.service`; `from`/`to` are inclusive business dates. Answers
are cached in-process for HISAAB_OVERVIEW_CACHE_SECONDS (see hisaab.overview.cache).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Annotated

from fastapi import Depends, Query, Request

from hisaab.api.deps import Router, SessionDep, SettingsDep, require
from hisaab.auth.roles import OVERVIEW_READ
from hisaab.auth.tokens import Claims
from hisaab.overview import service
from hisaab.overview.cache import TTLCache

router = Router(prefix="/api", tags=["overview"])

Reader = Annotated[Claims, Depends(require(OVERVIEW_READ))]
FromDate = Annotated[
    dt.date | None, Query(alias="from", description="first business date (inclusive)")
]
ToDate = Annotated[dt.date | None, Query(alias="to", description="last business date (inclusive)")]
Limit = Annotated[int, Query(ge=1, le=service.MAX_TOP_REASONS)]

_cache_lock = threading.Lock()


def overview_cache(request: Request, settings: SettingsDep) -> TTLCache:
    """The application's one Overview cache, made on first use."""
    state = request.app.state
    with _cache_lock:
        cache: TTLCache | None = getattr(state, "overview_cache", None)
        if cache is None:
            cache = TTLCache(settings.overview_cache_seconds)
            state.overview_cache = cache
    return cache


Cache = Annotated[TTLCache, Depends(overview_cache)]


@router.get("/overview")
def get_overview(
    _: Reader, session: SessionDep, cache: Cache, from_date: FromDate = None, to_date: ToDate = None
) -> service.OverviewKpis:
    return service.overview(session, service.DateRange.of(from_date, to_date), cache)


@router.get("/pipeline")
def get_pipeline(
    _: Reader, session: SessionDep, cache: Cache, from_date: FromDate = None, to_date: ToDate = None
) -> service.Pipeline:
    return service.pipeline(session, service.DateRange.of(from_date, to_date), cache)


@router.get("/sources")
def get_sources(
    _: Reader, session: SessionDep, cache: Cache, from_date: FromDate = None, to_date: ToDate = None
) -> service.Sources:
    return service.sources(session, service.DateRange.of(from_date, to_date), cache)


@router.get("/connectors/health")
def get_connectors_health(_: Reader, session: SessionDep, cache: Cache) -> service.ConnectorsHealth:
    return service.connectors_health(session, cache)


@router.get("/top-reasons")
def get_top_reasons(
    _: Reader,
    session: SessionDep,
    cache: Cache,
    from_date: FromDate = None,
    to_date: ToDate = None,
    limit: Limit = 10,
) -> service.TopReasons:
    dates = service.DateRange.of(from_date, to_date)
    return service.top_reasons(session, dates, limit, cache)
