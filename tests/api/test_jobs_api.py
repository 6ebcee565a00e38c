"""The Recon API: jobs, uploads, matching and results, on SQLite and PostgreSQL.

The worked example: three UPI payments in the PG export and three credits on the bank
statement. Two credits carry the payments' RRNs and match; one payment (750.50) was never
credited and one credit (300.00) belongs to no payment, so each is an exception.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from conftest import Api
from hisaab.auth import passwords
from hisaab.auth.roles import ROLE_PERMISSIONS
from hisaab.recon import files
from hisaab.recon.match_job import run_match
from hisaab.storage.models import (
    AuditEntry,
    Merchant,
    QueueJob,
    ReconciliationException,
    ReconciliationJob,
    ReconJobFile,
)

PG_CSV = b"""record_id,amount_minor,currency,direction,value_date,utr
pay_1,49900,INR,CR,2024-01-15,401512345671
pay_2,120000,INR,CR,2024-01-15,401512345672
pay_3,75050,INR,CR,2024-01-15,401512345673
"""
BANK_CSV = b"""record_id,amount_minor,currency,direction,value_date,utr
bnk_1,49900,INR,CR,2024-01-15,401512345671
bnk_2,120000,INR,CR,2024-01-15,401512345672
bnk_9,30000,INR,CR,2024-01-16,409999999999
"""
PG_GENERIC_HEADER = (
    "payment_id,order_id,merchant_id,method,status,amount,currency,fee,tax,utr,"
    "settlement_id,settlement_utr,created_at\n"
)
OVER_PRECISE = (
    PG_GENERIC_HEADER
    + "pay_a,o1,M1,UPI,captured,499.00,INR,0.00,0.00,401512345671,,,2024-01-15T01:08:47+05:30\n"
    + "pay_b,o2,M1,UPI,captured,499.001,INR,0.00,0.00,401512345672,,,2024-01-15T01:09:47+05:30\n"
).encode()
ERROR_KEYS = {"code", "message", "details", "timestamp", "requestId", "metadata"}


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests exercise the API, not argon2: cheap parameters keep each login quick."""
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_HASHER", fast)


@dataclass
class Jobs:
    api: Api
    data_dir: Path
    _headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def h(self, role: str = "sp-ops") -> dict[str, str]:
        if role not in self._headers:
            self._headers[role] = self.api.headers(role)
        return self._headers[role]

    def create(self, name: str = "UPI 15 Jan", merchant_id: str | None = None) -> int:
        body: dict[str, Any] = {"name": name}
        if merchant_id is not None:
            body["merchant_id"] = merchant_id
        response = self.api.client.post("/api/jobs", json=body, headers=self.h())
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def upload(
        self,
        job_id: int,
        side: str,
        content: bytes,
        *,
        filename: str = "statement.csv",
        template: str | None = None,
        role: str = "sp-ops",
    ) -> httpx.Response:
        data = {"side": side} if template is None else {"side": side, "template": template}
        return self.api.client.post(
            f"/api/jobs/{job_id}/upload",
            files={"file": (filename, content, "text/csv")},
            data=data,
            headers=self.h(role),
        )

    def ready(self, merchant_id: str | None = None) -> int:
        """A job with both sides uploaded."""
        job_id = self.create(merchant_id=merchant_id)
        assert self.upload(job_id, "pg", PG_CSV, filename="pg.csv").status_code == 201
        assert self.upload(job_id, "bank", BANK_CSV, filename="bank.csv").status_code == 201
        return job_id

    def matched(self, merchant_id: str | None = None) -> int:
        """A job matched by the worker."""
        job_id = self.ready(merchant_id=merchant_id)
        response = self.api.client.post(f"/api/jobs/{job_id}/match", headers=self.h())
        assert response.status_code == 202, response.text
        self.run_queue()
        return job_id

    def run_queue(self) -> None:
        """A minimal worker: claim each queued job, run its handler, mark it done or failed."""
        sessions = self.api.app.state.sessions
        with sessions() as session:
            ids = session.scalars(select(QueueJob.id).where(QueueJob.status == "queued")).all()
        for queue_id in ids:
            with sessions.begin() as session:
                row = session.get(QueueJob, queue_id)
                row.status, row.attempts = "running", row.attempts + 1
                payload = json.loads(row.payload)
            with sessions() as session:
                run_match(session, payload["job_id"], settings=self.api.app.state.settings)
                session.get(QueueJob, queue_id).status = "done"
                session.commit()

    def files_on_disk(self) -> list[Path]:
        return sorted(p for p in self.data_dir.rglob("*") if p.is_file())

    def count(self, model: Any) -> int:
        with self.api.app.state.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def jobs(api: Api, tmp_path: Path) -> Jobs:
    data_dir = tmp_path / "data"
    settings = api.app.state.settings.model_copy(update={"data_dir": str(data_dir)})
    api.app.state.settings = settings
    with api.app.state.sessions.begin() as session:
        session.add(Merchant(id="M0009999", name="Another merchant"))
    return Jobs(api, data_dir)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert set(body) == ERROR_KEYS
    assert body["code"] == code
    return dict(body)


@pytest.fixture
def no_read_permission(monkeypatch: pytest.MonkeyPatch) -> str:
    """sp-finance stripped of every permission: no built-in role lacks all the read ones."""
    monkeypatch.setitem(ROLE_PERMISSIONS, "sp-finance", frozenset())
    return "sp-finance"


# --- who may call what: every route, before any behaviour -------------------------------------

WRITE_ROUTES = [
    ("POST", "/api/jobs"),
    ("POST", "/api/jobs/{id}/upload"),
    ("POST", "/api/jobs/{id}/normalize"),
    ("POST", "/api/jobs/{id}/match"),
]
READ_ROUTES = [
    ("GET", "/api/jobs"),
    ("GET", "/api/jobs/{id}"),
    ("GET", "/api/jobs/{id}/matches"),
    ("GET", "/api/jobs/{id}/exceptions"),
]


class TestAccess:
    def test_every_route_is_401_without_a_token(self, jobs: Jobs) -> None:
        job_id = jobs.ready()
        for method, route in WRITE_ROUTES + READ_ROUTES:
            response = jobs.api.client.request(method, route.format(id=job_id))
            assert_error(response, 401, "UNAUTHENTICATED")

    def test_every_write_route_is_403_without_reconciliation_write(self, jobs: Jobs) -> None:
        job_id = jobs.ready()
        for method, route in WRITE_ROUTES:
            response = jobs.api.client.request(
                method, route.format(id=job_id), headers=jobs.h("sp-finance")
            )
            body = assert_error(response, 403, "FORBIDDEN")
            assert "reconciliation:write" in body["message"]
        assert (jobs.count(ReconJobFile), jobs.count(QueueJob)) == (2, 0)

    def test_every_read_route_is_403_without_a_read_permission(
        self, jobs: Jobs, no_read_permission: str
    ) -> None:
        job_id = jobs.ready()
        for method, route in READ_ROUTES:
            response = jobs.api.client.request(
                method, route.format(id=job_id), headers=jobs.h(no_read_permission)
            )
            assert_error(response, 403, "FORBIDDEN")


# --- POST /api/jobs ----------------------------------------------------------------------


class TestCreateJob:
    def test_creates_a_job_ready_for_files(self, jobs: Jobs) -> None:
        response = jobs.api.client.post(
            "/api/jobs", json={"name": "UPI 15 Jan", "merchant_id": "M0001234"}, headers=jobs.h()
        )
        assert response.status_code == 201
        job = response.json()
        assert (job["name"], job["status"], job["progress"]) == ("UPI 15 Jan", "created", 0)
        assert (job["merchant_id"], job["files"], job["summary"]) == ("M0001234", [], None)
        assert job["created_at"].endswith("Z") and job["finished_at"] is None

    def test_creation_is_audited(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        with jobs.api.app.state.sessions() as session:
            entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "create")).one()
        assert (entry.entity, entry.entity_id) == ("reconciliation_job", str(job_id))

    def test_an_unknown_merchant_is_422(self, jobs: Jobs) -> None:
        response = jobs.api.client.post(
            "/api/jobs", json={"name": "x", "merchant_id": "M404"}, headers=jobs.h()
        )
        body = assert_error(response, 422, "INVALID_INPUT")
        assert body["metadata"] == {"column": "merchant_id"}

    def test_a_blank_name_is_422(self, jobs: Jobs) -> None:
        response = jobs.api.client.post("/api/jobs", json={"name": ""}, headers=jobs.h())
        assert_error(response, 422, "INVALID_REQUEST")


# --- GET /api/jobs and /api/jobs/{id} ------------------------------------------------------


class TestListJobs:
    def test_pages_newest_first(self, jobs: Jobs) -> None:
        ids = [jobs.create(name=f"run {n}") for n in range(3)]
        response = jobs.api.client.get(
            "/api/jobs", params={"page": 2, "page_size": 2}, headers=jobs.h("sp-finance")
        )
        assert response.status_code == 200
        body = response.json()
        assert (body["total"], body["page"], body["page_size"]) == (3, 2, 2)
        assert [job["id"] for job in body["items"]] == [ids[0]]

    def test_page_bounds_are_enforced(self, jobs: Jobs) -> None:
        for params in ({"page": 0}, {"page_size": 0}, {"page_size": 501}):
            response = jobs.api.client.get("/api/jobs", params=params, headers=jobs.h())
            body = assert_error(response, 422, "INVALID_REQUEST")
            assert body["message"].startswith(f"query.{next(iter(params))}")

    def test_a_merchant_admin_lists_only_its_merchants_jobs(self, jobs: Jobs) -> None:
        own = jobs.create(merchant_id="M0001234")
        jobs.create(merchant_id="M0009999")
        jobs.create()
        body = jobs.api.client.get("/api/jobs", headers=jobs.h("merchant-admin")).json()
        assert (body["total"], [job["id"] for job in body["items"]]) == (1, [own])


class TestGetJob:
    def test_shows_the_files_of_each_side(self, jobs: Jobs) -> None:
        job_id = jobs.ready()
        job = jobs.api.client.get(f"/api/jobs/{job_id}", headers=jobs.h("sp-compliance")).json()
        assert {f["side"]: (f["filename"], f["row_count"]) for f in job["files"]} == {
            "pg": ("pg.csv", 3),
            "bank": ("bank.csv", 3),
        }

    def test_an_unknown_job_is_404(self, jobs: Jobs) -> None:
        assert_error(jobs.api.client.get("/api/jobs/999", headers=jobs.h()), 404, "NOT_FOUND")

    def test_a_job_the_queue_gave_up_on_reads_failed(self, jobs: Jobs) -> None:
        job_id = jobs.ready()
        jobs.api.client.post(f"/api/jobs/{job_id}/match", headers=jobs.h())
        with jobs.api.app.state.sessions.begin() as session:  # the worker's last attempt died
            session.execute(
                update(QueueJob).values(status="failed", attempts=3, last_error="killed: OOM")
            )
        job = jobs.api.client.get(f"/api/jobs/{job_id}", headers=jobs.h()).json()
        assert (job["status"], job["error"]) == ("failed", "killed: OOM")


# --- POST /api/jobs/{id}/upload --------------------------------------------------------------


class TestUpload:
    def test_stores_the_file_under_the_job_with_its_hash(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        response = jobs.upload(job_id, "pg", PG_CSV, filename="pg.csv")
        assert response.status_code == 201
        body = response.json()
        assert (body["side"], body["template"], body["row_count"]) == ("pg", "canonical", 3)
        assert (body["sha256"], body["size_bytes"], body["duplicate"]) == (
            hashlib.sha256(PG_CSV).hexdigest(),
            len(PG_CSV),
            False,
        )
        [stored] = jobs.files_on_disk()
        assert stored.parent == jobs.data_dir / "jobs" / str(job_id)
        assert stored.read_bytes() == PG_CSV

    def test_the_upload_is_audited(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        jobs.upload(job_id, "bank", BANK_CSV)
        with jobs.api.app.state.sessions() as session:
            entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "upload")).one()
        details = json.loads(entry.details)
        assert (entry.entity_id, details["side"], details["rows"]) == (str(job_id), "bank", 3)

    def test_the_same_file_again_is_a_duplicate_not_a_second_file(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        first = jobs.upload(job_id, "pg", PG_CSV).json()
        again = jobs.upload(job_id, "pg", PG_CSV, filename="copy.csv")
        assert again.status_code == 200
        assert (again.json()["id"], again.json()["duplicate"]) == (first["id"], True)
        assert (jobs.count(ReconJobFile), len(jobs.files_on_disk())) == (1, 1)

    def test_a_new_file_replaces_the_sides_previous_one(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        jobs.upload(job_id, "pg", PG_CSV)
        shorter = PG_CSV.rsplit(b"\n", 2)[0] + b"\n"
        replacement = jobs.upload(job_id, "pg", shorter)
        assert (replacement.status_code, replacement.json()["row_count"]) == (201, 2)
        job = jobs.api.client.get(f"/api/jobs/{job_id}", headers=jobs.h()).json()
        assert [f["id"] for f in job["files"]] == [replacement.json()["id"]]
        assert [p.read_bytes() for p in jobs.files_on_disk()] == [shorter]

    def test_an_over_precise_amount_is_422_naming_line_and_column(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        response = jobs.upload(job_id, "pg", OVER_PRECISE, filename="export.csv")
        body = assert_error(response, 422, "INVALID_AMOUNT")
        assert body["metadata"] == {"file": "export.csv", "line": 3, "column": "amount"}
        assert "499.001" in body["message"]
        assert str(jobs.data_dir) not in body["details"]

    def test_a_rejected_file_leaves_no_row_and_no_file(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        garbage = bytes(range(256)) * 64
        body = assert_error(jobs.upload(job_id, "pg", garbage), 422, "UNREADABLE_FILE")
        assert "binary" in body["message"]
        assert (jobs.count(ReconJobFile), jobs.files_on_disk()) == (0, [])
        assert not (jobs.data_dir / "jobs" / str(job_id)).exists()

    def test_a_truncated_file_is_422_at_its_last_line(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        truncated = PG_CSV[: PG_CSV.index(b"120000") + 3]
        body = assert_error(jobs.upload(job_id, "pg", truncated), 422, "UNREADABLE_FILE")
        assert body["metadata"]["line"] == 3
        assert (jobs.count(ReconJobFile), jobs.files_on_disk()) == (0, [])

    def test_an_empty_file_is_422(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        body = assert_error(jobs.upload(job_id, "pg", b""), 422, "UNREADABLE_FILE")
        assert "empty" in body["message"]
        assert (jobs.count(ReconJobFile), jobs.files_on_disk()) == (0, [])

    def test_an_unknown_side_is_422(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        body = assert_error(jobs.upload(job_id, "ledger", PG_CSV), 422, "INVALID_REQUEST")
        assert body["message"].startswith("body.side")
        assert jobs.files_on_disk() == []

    def test_a_missing_file_part_is_422(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        response = jobs.api.client.post(
            f"/api/jobs/{job_id}/upload", data={"side": "pg"}, headers=jobs.h()
        )
        body = assert_error(response, 422, "INVALID_REQUEST")
        assert body["message"].startswith("body.file")

    def test_a_template_path_is_refused(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        response = jobs.upload(job_id, "pg", PG_CSV, template="/etc/hisaab/secret.yaml")
        body = assert_error(response, 422, "INVALID_INPUT")
        assert body["metadata"] == {"column": "template"}

    def test_a_file_over_the_limit_is_413(
        self, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(files, "MAX_UPLOAD_BYTES", 100)
        job_id = jobs.create()
        assert_error(jobs.upload(job_id, "pg", PG_CSV), 413, "UPLOAD_TOO_LARGE")
        assert (jobs.count(ReconJobFile), jobs.files_on_disk()) == (0, [])

    def test_a_body_announced_over_the_limit_is_413_before_it_is_read(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        headers = {**jobs.h(), "Content-Type": "multipart/form-data; boundary=x"}
        headers["Content-Length"] = str(files.MAX_UPLOAD_BYTES * 2)
        response = jobs.api.client.post(
            f"/api/jobs/{job_id}/upload", content=b"--x--", headers=headers
        )
        body = assert_error(response, 413, "UPLOAD_TOO_LARGE")
        assert body["message"] == "the upload is larger than the limit of 512 MiB"

    def test_a_body_of_undeclared_length_is_411(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        headers = {**jobs.h(), "Content-Type": "multipart/form-data; boundary=x"}
        response = jobs.api.client.post(
            f"/api/jobs/{job_id}/upload", content=iter([b"--x--"]), headers=headers
        )
        assert_error(response, 411, "LENGTH_REQUIRED")

    def test_an_unknown_job_is_404(self, jobs: Jobs) -> None:
        assert_error(jobs.upload(999, "pg", PG_CSV), 404, "NOT_FOUND")

    def test_files_cannot_change_while_matching_is_queued(self, jobs: Jobs) -> None:
        job_id = jobs.ready()
        jobs.api.client.post(f"/api/jobs/{job_id}/match", headers=jobs.h())
        assert_error(jobs.upload(job_id, "pg", OVER_PRECISE), 409, "CONFLICT")


# --- POST /api/jobs/{id}/normalize -----------------------------------------------------------


class TestNormalize:
    def test_reads_the_side_again_with_the_named_template(self, jobs: Jobs) -> None:
        job_id = jobs.ready()
        response = jobs.api.client.post(
            f"/api/jobs/{job_id}/normalize",
            json={"side": "bank", "template": "canonical"},
            headers=jobs.h(),
        )
        assert response.status_code == 200
        assert (response.json()["template"], response.json()["row_count"]) == ("canonical", 3)

    def test_a_template_that_does_not_fit_is_422_and_changes_nothing(self, jobs: Jobs) -> None:
        job_id = jobs.ready()
        response = jobs.api.client.post(
            f"/api/jobs/{job_id}/normalize",
            json={"side": "bank", "template": "hdfc"},
            headers=jobs.h(),
        )
        body = assert_error(response, 422, "UNREADABLE_FILE")
        assert body["metadata"] == {"file": "bank.csv", "line": 1}
        assert "missing required columns for template 'hdfc'" in body["message"]
        job = jobs.api.client.get(f"/api/jobs/{job_id}", headers=jobs.h()).json()
        assert {f["side"]: f["template"] for f in job["files"]}["bank"] == "canonical"

    def test_a_side_without_a_file_is_409(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        response = jobs.api.client.post(
            f"/api/jobs/{job_id}/normalize",
            json={"side": "pg", "template": "canonical"},
            headers=jobs.h(),
        )
        body = assert_error(response, 409, "CONFLICT")
        assert "no pg file" in body["message"]


# --- POST /api/jobs/{id}/match ---------------------------------------------------------------


class TestMatch:
    def test_needs_both_sides(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        jobs.upload(job_id, "pg", PG_CSV)
        response = jobs.api.client.post(f"/api/jobs/{job_id}/match", headers=jobs.h())
        body = assert_error(response, 409, "CONFLICT")
        assert "missing: bank" in body["message"]
        assert jobs.count(QueueJob) == 0

    def test_queues_the_job_in_the_same_transaction(self, jobs: Jobs) -> None:
        job_id = jobs.ready()
        response = jobs.api.client.post(f"/api/jobs/{job_id}/match", headers=jobs.h())
        assert response.status_code == 202
        assert (response.json()["status"], response.json()["progress"]) == ("queued", 0)
        with jobs.api.app.state.sessions() as session:
            queued = session.scalars(select(QueueJob)).one()
            actions = session.scalars(select(AuditEntry.action)).all()
        assert (queued.kind, json.loads(queued.payload)) == ("recon.match", {"job_id": job_id})
        assert "match_requested" in actions

    def test_a_queued_job_is_not_queued_twice(self, jobs: Jobs) -> None:
        job_id = jobs.ready()
        jobs.api.client.post(f"/api/jobs/{job_id}/match", headers=jobs.h())
        response = jobs.api.client.post(f"/api/jobs/{job_id}/match", headers=jobs.h())
        assert_error(response, 409, "CONFLICT")
        assert jobs.count(QueueJob) == 1

    def test_the_worker_completes_it_with_a_summary(self, jobs: Jobs) -> None:
        job_id = jobs.matched()
        job = jobs.api.client.get(f"/api/jobs/{job_id}", headers=jobs.h()).json()
        assert (job["status"], job["progress"], job["error"]) == ("completed", 100, None)
        assert job["started_at"] <= job["finished_at"]
        assert job["summary"]["exception_count"] == 2
        assert job["summary"]["inputs"]["pg"]["file"] == "pg.csv"
        assert job["ruleset_version"] == job["summary"]["ruleset"]["version"]

    def test_matching_again_replaces_the_results(self, jobs: Jobs) -> None:
        job_id = jobs.matched()
        assert jobs.api.client.post(f"/api/jobs/{job_id}/match", headers=jobs.h()).is_success
        jobs.run_queue()
        assert jobs.count(ReconciliationException) == 2


# --- GET /api/jobs/{id}/matches and /exceptions ------------------------------------------------


class TestMatches:
    def test_pages_the_matches(self, jobs: Jobs) -> None:
        job_id = jobs.matched()
        response = jobs.api.client.get(
            f"/api/jobs/{job_id}/matches", params={"page_size": 1}, headers=jobs.h("sp-finance")
        )
        body = response.json()
        assert (response.status_code, body["total"], len(body["items"])) == (200, 2, 1)
        first = body["items"][0]
        assert (first["pg_record_id"], first["bank_record_id"], first["stage"]) == (
            "pay_1",
            "bnk_1",
            "utr_exact",
        )
        assert (first["pg_amount_minor"], first["currency"]) == (49900, "INR")
        assert (first["confidence"], first["match_type"], first["status"]) == (
            0.7742,
            "one_to_one",
            "auto",
        )

    def test_pages_after_the_last_match_seen(self, jobs: Jobs) -> None:
        """Keyset paging: each page names the id to ask `after=` for the next; the last page
        names none. It reads the same rows as numbered pages, without OFFSET."""
        job_id = jobs.matched()

        def page(**params: Any) -> dict[str, Any]:
            response = jobs.api.client.get(
                f"/api/jobs/{job_id}/matches",
                params={"page_size": 1, **params},
                headers=jobs.h("sp-finance"),
            )
            assert response.status_code == 200, response.text
            return dict(response.json())

        first = page()
        assert (first["page"], first["next_after"]) == (1, first["items"][0]["id"])
        second = page(after=first["next_after"])
        assert (second["page"], second["total"]) == (None, 2)
        assert [m["pg_record_id"] for m in second["items"]] == ["pay_2"]
        assert second["items"] == page(page=2)["items"]
        last = page(after=second["next_after"])
        assert (last["items"], last["next_after"]) == ([], None)

    def test_page_and_after_together_are_refused(self, jobs: Jobs) -> None:
        job_id = jobs.matched()
        response = jobs.api.client.get(
            f"/api/jobs/{job_id}/matches", params={"page": 2, "after": 1}, headers=jobs.h()
        )
        assert response.status_code == 422
        assert "give page or after, not both" in response.text

    def test_streams_csv(self, jobs: Jobs) -> None:
        job_id = jobs.matched()
        response = jobs.api.client.get(
            f"/api/jobs/{job_id}/matches", params={"format": "csv"}, headers=jobs.h()
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        lines = response.text.splitlines()
        assert lines[0].split(",")[:3] == ["id", "match_id", "match_type"]
        assert [line.split(",")[6:8] for line in lines[1:]] == [
            ["pay_1", "bnk_1"],
            ["pay_2", "bnk_2"],
        ]


class TestExceptions:
    def test_lists_what_needs_a_person(self, jobs: Jobs) -> None:
        job_id = jobs.matched()
        body = jobs.api.client.get(f"/api/jobs/{job_id}/exceptions", headers=jobs.h()).json()
        assert body["total"] == 2
        by_record = {e["record_id"]: e for e in body["items"]}
        never_credited = by_record["pay_3"]
        assert (never_credited["category"], never_credited["side"]) == ("UNMATCHED_PG", "pg")
        assert (never_credited["amount_minor"], never_credited["currency"]) == (75050, "INR")
        assert (never_credited["status"], never_credited["owner_id"]) == ("open", None)
        assert (never_credited["source_line"], never_credited["value_date"]) == (4, "2024-01-15")
        assert never_credited["details"]["reason"] == "no counterpart found by any stage"
        assert 0 <= never_credited["age_hours"] < 1
        assert never_credited["sla_due_at"] > never_credited["created_at"]
        assert by_record["bnk_9"]["category"] == "UNMATCHED_BANK"

    def test_pages_after_the_last_exception_seen_within_the_filter(self, jobs: Jobs) -> None:
        job_id = jobs.matched()
        url = f"/api/jobs/{job_id}/exceptions"
        everything = jobs.api.client.get(url, headers=jobs.h()).json()
        assert everything["next_after"] is None  # 2 exceptions, a page of 50
        first_id = everything["items"][0]["id"]
        rest = jobs.api.client.get(url, params={"after": first_id}, headers=jobs.h()).json()
        assert [e["id"] for e in rest["items"]] == [everything["items"][1]["id"]]
        filtered = jobs.api.client.get(
            url, params={"after": 0, "category": "UNMATCHED_BANK"}, headers=jobs.h()
        ).json()
        assert [e["record_id"] for e in filtered["items"]] == ["bnk_9"]
        assert (filtered["total"], filtered["page"]) == (1, None)

    def test_filters_narrow_the_list(self, jobs: Jobs) -> None:
        job_id = jobs.matched()
        expected: list[tuple[dict[str, Any], list[str]]] = [
            ({"category": "UNMATCHED_BANK"}, ["bnk_9"]),
            ({"min_amount_minor": 50000}, ["pay_3"]),
            ({"max_amount_minor": 50000}, ["bnk_9"]),
            ({"min_amount_minor": 30000, "max_amount_minor": 30000}, ["bnk_9"]),
            ({"status": "resolved"}, []),
            ({"older_than_hours": 1}, []),
            ({"older_than_hours": 0}, ["pay_3", "bnk_9"]),
        ]
        for params, records in expected:
            body = jobs.api.client.get(
                f"/api/jobs/{job_id}/exceptions", params=params, headers=jobs.h()
            ).json()
            found = (body["total"], [e["record_id"] for e in body["items"]])
            assert found == (len(records), records), params

    def test_an_unknown_category_is_422(self, jobs: Jobs) -> None:
        response = jobs.api.client.get(
            "/api/jobs/1/exceptions", params={"category": "LOST"}, headers=jobs.h()
        )
        body = assert_error(response, 422, "INVALID_INPUT")
        assert body["metadata"] == {"column": "category"}

    def test_streams_the_filtered_rows_as_csv(self, jobs: Jobs) -> None:
        job_id = jobs.matched()
        response = jobs.api.client.get(
            f"/api/jobs/{job_id}/exceptions",
            params={"format": "csv", "category": "UNMATCHED_PG", "page_size": 1},
            headers=jobs.h(),
        )
        assert response.status_code == 200
        header, *rows = response.text.splitlines()
        assert header.startswith("id,category,status,side,record_id,source_line,amount_minor")
        assert [row.split(",")[1:7] for row in rows] == [
            ["UNMATCHED_PG", "open", "pg", "pay_3", "4", "75050"]
        ]

    def test_a_formula_in_a_gateway_reference_reaches_the_csv_as_text(self, jobs: Jobs) -> None:
        """pay_3 arrives as a spreadsheet formula; the never-credited payment stays readable."""
        hostile = "@SUM(1+9)*cmd|' /C calc'!A0"
        job_id = jobs.create()
        pg = PG_CSV.replace(
            b"pay_3,75050,INR,CR,2024-01-15,401512345673",
            f"{hostile},75050,INR,CR,2024-01-15,=1+1".encode(),
        )
        assert jobs.upload(job_id, "pg", pg, filename="pg.csv").status_code == 201
        assert jobs.upload(job_id, "bank", BANK_CSV, filename="bank.csv").status_code == 201
        match = jobs.api.client.post(f"/api/jobs/{job_id}/match", headers=jobs.h())
        assert match.status_code == 202
        jobs.run_queue()
        response = jobs.api.client.get(
            f"/api/jobs/{job_id}/exceptions",
            params={"format": "csv", "category": "UNMATCHED_PG"},
            headers=jobs.h(),
        )
        assert response.status_code == 200
        (row,) = csv.DictReader(io.StringIO(response.text, newline=""))
        assert (row["record_id"], row["utr"], row["amount_minor"]) == (
            "'" + hostile,
            "'=1+1",
            "75050",
        )


# --- tenant isolation ----------------------------------------------------------------------

JOB_READ_ROUTES = [route for _method, route in READ_ROUTES if "{id}" in route]


class TestTenantIsolation:
    def test_another_merchants_job_is_404_on_every_read_route(self, jobs: Jobs) -> None:
        foreign = jobs.matched(merchant_id="M0009999")
        for route in JOB_READ_ROUTES:
            for params in ({}, {"format": "csv"}):
                response = jobs.api.client.get(
                    route.format(id=foreign), params=params, headers=jobs.h("merchant-admin")
                )
                body = assert_error(response, 404, "NOT_FOUND")
                assert body["message"] == f"no reconciliation job {foreign}"

    def test_a_platform_job_is_404_to_a_merchant_admin(self, jobs: Jobs) -> None:
        job_id = jobs.create()
        response = jobs.api.client.get(f"/api/jobs/{job_id}", headers=jobs.h("merchant-admin"))
        assert_error(response, 404, "NOT_FOUND")

    def test_write_routes_answer_alike_for_a_foreign_and_a_missing_job(self, jobs: Jobs) -> None:
        """A merchant-admin cannot write at all; the refusal must not depend on the job."""
        foreign = jobs.ready(merchant_id="M0009999")

        def attempt(method: str, route: str, job_id: int) -> tuple[int, str, str]:
            response = jobs.api.client.request(
                method, route.format(id=job_id), headers=jobs.h("merchant-admin")
            )
            error = response.json()["error"]
            return response.status_code, error["code"], error["message"]

        for method, route in WRITE_ROUTES[1:]:
            assert attempt(method, route, foreign) == attempt(method, route, 987654)
            assert attempt(method, route, foreign)[:2] == (403, "FORBIDDEN")

    def test_a_merchant_admin_reads_its_own_merchants_results(self, jobs: Jobs) -> None:
        job_id = jobs.matched(merchant_id="M0001234")
        for route in JOB_READ_ROUTES:
            response = jobs.api.client.get(
                route.format(id=job_id), headers=jobs.h("merchant-admin")
            )
            assert response.status_code == 200, route
        with jobs.api.app.state.sessions() as session:
            job = session.get(ReconciliationJob, job_id)
            assert job is not None and job.merchant_id == "M0001234"
