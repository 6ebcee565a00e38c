"""A request's work is committed before its answer is sent."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from conftest import Api


def test_a_commit_that_fails_is_a_500_not_a_success(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = api.headers("sp-ops")

    def failing_commit(self: Session) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Session, "commit", failing_commit)
    response = api.client.post("/api/jobs", json={"name": "HDFC March"}, headers=headers)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"


def test_a_created_job_is_there_for_the_next_request(api: Api) -> None:
    headers = api.headers("sp-ops")
    created = api.client.post("/api/jobs", json={"name": "HDFC March"}, headers=headers)
    assert created.status_code == 201
    listed = api.client.get("/api/jobs", headers=headers).json()
    assert [job["id"] for job in listed["items"]] == [created.json()["id"]]
