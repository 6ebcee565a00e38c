"""The Recon API: reconciliation jobs, their files, matching, and their results.

Thin routes over hisaab.recon.jobs. Writing needs `reconciliation:write`; reading needs any
of `reconciliation:write`, `overview:read` or `merchant:dashboard`, and a merchant user sees
only its merchant's jobs (any other job is 404, never 403, so its existence is not revealed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Response
from fastapi import Path as FastAPIPath
from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from hisaab.api.deps import CurrentUser, Router, SessionDep, SettingsDep, require
from hisaab.auth.roles import RECONCILIATION_WRITE
from hisaab.auth.tokens import Claims
from hisaab.errors import Forbidden, HisaabError
from hisaab.recon import export, files
from hisaab.recon import jobs as service

router = Router(prefix="/api/jobs", tags=["jobs"])

# Job ids are INTEGER (32-bit on PostgreSQL): larger numbers are a 422, never an overflow in
# the database.
JobId = Annotated[int, FastAPIPath(gt=0, le=2**31 - 1)]

Writer = Annotated[Claims, Depends(require(RECONCILIATION_WRITE))]


def _reader(claims: CurrentUser) -> Claims:
    if not claims.permissions & service.READ_PERMISSIONS:
        raise Forbidden(
            f"the {claims.role} role lacks a permission to read reconciliation jobs"
            f" ({', '.join(sorted(service.READ_PERMISSIONS))})"
        )
    return claims


Reader = Annotated[Claims, Depends(_reader)]
PageNo = Annotated[int, Query(ge=1, le=1_000_000)]
OptionalPageNo = Annotated[int | None, Query(ge=1, le=1_000_000, description="default 1")]
# Keyset paging: the page after this id (the previous page's next_after); not with `page`.
After = Annotated[int | None, Query(ge=0)]
PageSize = Annotated[int, Query(ge=1, le=500)]
Format = Annotated[Literal["json", "csv"], Query(alias="format")]
# Multipart boundaries, part headers and the side/template fields around the file itself.
_FORM_OVERHEAD_BYTES = 64 * 1024


# --- schemas -----------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class JobCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    merchant_id: str | None = Field(default=None, min_length=1, max_length=32)


class FileOut(_Out):
    id: int
    side: str
    filename: str
    sha256: str
    size_bytes: int
    template: str | None
    row_count: int | None
    uploaded_by: int
    uploaded_at: dt.datetime


class UploadOut(FileOut):
    duplicate: bool


class JobOut(_Out):
    id: int
    name: str
    status: str
    progress: int
    merchant_id: str | None
    created_by: int
    ruleset_version: str | None
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @classmethod
    def of(cls, view: service.JobView) -> JobOut:
        return cls.model_validate(view.job).model_copy(
            update={"status": view.status, "error": view.error}
        )


class JobDetail(JobOut):
    files: list[FileOut]
    summary: dict[str, Any] | None

    @classmethod
    def of(cls, view: service.JobView) -> JobDetail:
        base = JobOut.of(view).model_dump()
        files = [FileOut.model_validate(f) for f in view.files]
        return cls(**base, files=files, summary=view.summary)


class JobPage(BaseModel):
    items: list[JobOut]
    total: int
    page: int
    page_size: int


class NormalizeRequest(BaseModel):
    side: Literal["pg", "bank"]
    template: str = Field(min_length=1, max_length=64)


class UploadForm(BaseModel):
    side: Literal["pg", "bank"]
    template: str | None = Field(default=None, min_length=1, max_length=64)


class MatchOut(_Out):
    id: int
    match_id: int
    match_type: str
    stage: str
    confidence: float
    status: str
    pg_record_id: str
    bank_record_id: str
    pg_amount_minor: int
    bank_amount_minor: int
    currency: str
    pg_source_line: int
    bank_source_line: int
    amount_delta_minor: int


class MatchPage(BaseModel):
    items: list[MatchOut]
    total: int
    page: int | None  # null for a page asked for with `after`
    page_size: int
    next_after: int | None  # ask `after=` this for the next page; null on the last one


class ExceptionOut(_Out):
    id: int
    category: str
    status: str
    record_id: str
    amount_minor: int
    currency: str
    side: str
    source_line: int
    value_date: dt.date
    utr: str | None
    details: dict[str, Any]
    owner_id: int | None
    sla_due_at: dt.datetime | None
    created_at: dt.datetime
    age_hours: float

    @classmethod
    def of(cls, view: service.ExceptionView) -> ExceptionOut:
        derived: dict[str, Any] = {"details": view.details, "age_hours": view.age_hours}
        stored = {name: getattr(view.row, name) for name in cls.model_fields.keys() - derived}
        return cls.model_validate(stored | derived)


class ExceptionPage(BaseModel):
    items: list[ExceptionOut]
    total: int
    page: int | None  # null for a page asked for with `after`
    page_size: int
    next_after: int | None  # ask `after=` this for the next page; null on the last one


# --- routes ------------------------------------------------------------------------------


@router.post("", status_code=201, response_model=JobDetail)
def create_job(body: JobCreate, session: SessionDep, claims: Writer) -> JobDetail:
    view = service.create_job(session, claims, name=body.name, merchant_id=body.merchant_id)
    return JobDetail.of(view)


@router.get("", response_model=JobPage)
def list_jobs(
    session: SessionDep, claims: Reader, page: PageNo = 1, page_size: PageSize = 50
) -> JobPage:
    result = service.list_jobs(session, claims, page=page, page_size=page_size)
    return JobPage(
        items=[JobOut.of(v) for v in result.items],
        total=result.total,
        page=page,
        page_size=result.page_size,
    )


@router.get("/{job_id}", response_model=JobDetail)
def get_job(job_id: JobId, session: SessionDep, claims: Reader) -> JobDetail:
    return JobDetail.of(service.get_job_for(session, claims, job_id))


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "side"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "side": {"type": "string", "enum": ["pg", "bank"]},
                        "template": {"type": "string"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/{job_id}/upload",
    status_code=201,
    response_model=UploadOut,
    openapi_extra=_UPLOAD_BODY,
)
async def upload_file(
    job_id: JobId,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    claims: Writer,
) -> UploadOut:
    """Upload one side's file (multipart: `file`, `side`, optional `template`).

    The form is read only after the caller was authenticated and authorised, and only when
    its declared length is within the limit (the server holds a body to its Content-Length),
    so nobody can make the server receive a file it would refuse. A new file for a side
    replaces that side's previous file; the same bytes again answer 200 with
    `"duplicate": true`.
    """
    _check_declared_length(request.headers.get("content-length"))
    form = await request.form(max_files=1, max_fields=4)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise RequestValidationError(
                [{"loc": ("body", "file"), "msg": "a file part is required", "type": "missing"}]
            )
        fields = _form_fields(form.get("side"), form.get("template"))

        def store() -> service.UploadResult:
            # Committed in this thread, as sync routes' sessions are (hisaab.api.deps).
            stored = service.store_upload(
                session,
                claims,
                job_id,
                side=fields.side,
                template=fields.template,
                stream=upload.file,
                filename=upload.filename or "upload",
                data_dir=Path(settings.data_dir),
            )
            session.commit()
            return stored

        result = await run_in_threadpool(store)
    finally:
        await form.close()
    if result.duplicate:
        response.status_code = 200
    stored = FileOut.model_validate(result.file).model_dump()
    return UploadOut(**stored, duplicate=result.duplicate)


class LengthRequired(HisaabError):
    code = "LENGTH_REQUIRED"
    http_status = 411


def _check_declared_length(declared: str | None) -> None:
    if declared is None or not declared.isdigit():
        raise LengthRequired("an upload needs a Content-Length header")
    if int(declared) > files.MAX_UPLOAD_BYTES + _FORM_OVERHEAD_BYTES:
        raise files.UploadTooLarge(
            f"the upload is larger than the limit of {files.MAX_UPLOAD_BYTES >> 20} MiB"
        )


def _form_fields(side: object, template: object) -> UploadForm:
    try:
        return UploadForm.model_validate({"side": side, "template": template or None})
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


@router.post("/{job_id}/normalize", response_model=FileOut)
def normalize_file(
    job_id: JobId,
    body: NormalizeRequest,
    session: SessionDep,
    settings: SettingsDep,
    claims: Writer,
) -> FileOut:
    row = service.renormalize(
        session,
        claims,
        job_id,
        side=body.side,
        template=body.template,
        data_dir=Path(settings.data_dir),
    )
    return FileOut.model_validate(row)


@router.post("/{job_id}/match", status_code=202, response_model=JobDetail)
def request_match(job_id: JobId, session: SessionDep, claims: Writer) -> JobDetail:
    return JobDetail.of(service.request_match(session, claims, job_id))


@router.get("/{job_id}/matches", response_model=MatchPage)
def list_matches(
    job_id: JobId,
    request: Request,
    session: SessionDep,
    claims: Reader,
    page: OptionalPageNo = None,
    page_size: PageSize = 50,
    after: After = None,
    fmt: Format = "json",
) -> MatchPage | StreamingResponse:
    if fmt == "csv":
        chunks = export.matches_csv(session, claims, job_id, request.app.state.sessions)
        return _csv(request, chunks, f"job-{job_id}-matches.csv")
    result = service.list_matches(
        session, claims, job_id, page=page, page_size=page_size, after=after
    )
    return MatchPage(
        items=[MatchOut.model_validate(m) for m in result.items],
        total=result.total,
        page=result.page,
        page_size=result.page_size,
        next_after=_next_after([m.id for m in result.items], result.page_size),
    )


@router.get("/{job_id}/exceptions", response_model=ExceptionPage)
def list_exceptions(
    job_id: JobId,
    request: Request,
    session: SessionDep,
    claims: Reader,
    category: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    min_amount_minor: Annotated[int | None, Query(ge=0)] = None,
    max_amount_minor: Annotated[int | None, Query(ge=0)] = None,
    older_than_hours: Annotated[float | None, Query(ge=0, le=24 * 3650)] = None,
    page: OptionalPageNo = None,
    page_size: PageSize = 50,
    after: After = None,
    fmt: Format = "json",
) -> ExceptionPage | StreamingResponse:
    where = service.exception_filter(
        category=category,
        status=status,
        min_amount_minor=min_amount_minor,
        max_amount_minor=max_amount_minor,
        older_than_hours=older_than_hours,
    )
    if fmt == "csv":
        chunks = export.exceptions_csv(session, claims, job_id, where, request.app.state.sessions)
        return _csv(request, chunks, f"job-{job_id}-exceptions.csv")
    result = service.list_exceptions(
        session, claims, job_id, where, page=page, page_size=page_size, after=after
    )
    return ExceptionPage(
        items=[ExceptionOut.of(e) for e in result.items],
        total=result.total,
        page=result.page,
        page_size=result.page_size,
        next_after=_next_after([e.row.id for e in result.items], result.page_size),
    )


def _next_after(ids: list[int], page_size: int) -> int | None:
    """The last id of a full page (a next page may exist); None after a short one."""
    return ids[-1] if len(ids) == page_size else None


def _csv(request: Request, chunks: Iterator[str], filename: str) -> StreamingResponse:
    """Stream `chunks` (read from the database as they go) holding a request slot
    (hisaab.api.capacity) for as long as the stream reads."""
    gate = request.app.state.db_gate

    async def gated() -> AsyncIterator[str]:
        async with gate:
            async for chunk in iterate_in_threadpool(chunks):
                yield chunk

    return StreamingResponse(
        gated(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
