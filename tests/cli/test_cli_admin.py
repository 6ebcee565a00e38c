"""`hisaab migrate` and `hisaab config show` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from hisaab.cli.main import main
from hisaab.config import get_settings
from hisaab.storage.migrate import current_revision, head_revision


def run(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_migrate_creates_then_reports_the_schema(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("migrate", "--database-url", database_url) == 0
    assert "migrated from empty to revision" in capsys.readouterr().out
    assert current_revision(database_url) == head_revision(database_url)
    assert run("migrate", "--database-url", database_url) == 0
    assert "already at revision" in capsys.readouterr().out


def test_migrate_refuses_an_unsupported_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("migrate", "--database-url", "mysql://root@localhost/x") == 2
    err = capsys.readouterr().err
    assert "unsupported database URL" in err and "Traceback" not in err


def test_config_show_masks_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HISAAB_DATABASE_URL", "postgresql://ops:s3cret@db:5432/hisaab")
    get_settings.cache_clear()
    try:
        assert run("config", "show") == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert "ops:********@db:5432/hisaab" in out and "s3cret" not in out


def test_users_create_then_refuses_a_duplicate_and_a_bad_role(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HISAAB_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        assert run("migrate") == 0
        args = ["users", "create", "--email", "Ops@Hisaab.test", "--password", "long enough pw"]
        assert run(*args, "--role", "sp-ops") == 0
        assert "ops@hisaab.test (sp-ops)" in capsys.readouterr().out
        assert run(*args, "--role", "sp-ops") == 2
        err = capsys.readouterr().err
        assert "already exists" in err
        assert (
            run(
                "users",
                "create",
                "--email",
                "x@hisaab.test",
                "--password",
                "long enough pw",
                "--role",
                "root",
            )
            == 2
        )
        assert "unknown role 'root'" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


def test_audit_verify_reports_intact_then_tampered(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from hisaab.audit.log import record
    from hisaab.storage.engine import make_engine
    from hisaab.storage.models import AuditEntry

    monkeypatch.setenv("HISAAB_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        assert run("migrate") == 0
        engine = make_engine(database_url)
        with Session(engine) as session, session.begin():
            for n in range(3):
                record(session, actor_id=None, action="upload", entity="job", entity_id=n)
        capsys.readouterr()
        assert run("audit", "verify") == 0
        assert "intact: 3 entries" in capsys.readouterr().out
        with Session(engine) as session, session.begin():
            session.execute(update(AuditEntry).where(AuditEntry.id == 2).values(action="x"))
        engine.dispose()
        assert run("audit", "verify") == 1
        assert "audit entry 2 was tampered with" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


def test_serve_refuses_several_processes_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HISAAB_DATABASE_URL", f"sqlite:///{tmp_path / 'hisaab.db'}")
    monkeypatch.setenv("HISAAB_JWT_SECRET", "serve-test-secret-0123456789abcdef-0123")
    get_settings.cache_clear()
    try:
        assert run("serve", "--workers", "2") == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "--workers needs PostgreSQL" in err and "Traceback" not in err


def test_serve_refuses_an_embedded_worker_beside_several_processes(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HISAAB_DATABASE_URL", postgres_url)
    monkeypatch.setenv("HISAAB_JWT_SECRET", "serve-test-secret-0123456789abcdef-0123")
    get_settings.cache_clear()
    try:
        assert run("serve", "--workers", "2", "--with-worker") == 2
    finally:
        get_settings.cache_clear()
    assert "run `hisaab worker` beside" in capsys.readouterr().err
