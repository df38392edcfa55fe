"""`posture users ...` and `posture serve` on the command line: accounts, keys (listed, revoked) and
deleting an account."""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import pty
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.cli import main, register
from app.core.db import Database
from app.core.security import key_lookup
from app.core.settings import Settings
from app.main import create_app
from app.storage.models import AnalysisRecord, ApiKey, utcnow

from .conftest import ROOT, FakeAnalyzer, make_jpeg


@pytest.fixture
def cli(database_url, tmp_path, monkeypatch, capsys):
    """Run `posture ARGS...` in-process against this run's database (SQLite: the default file under
    --data-dir; PostgreSQL: by POSTURE_DATABASE_URL), returning (exit code, stdout, stderr)."""
    url = None if database_url.startswith("sqlite") else database_url
    if url:
        monkeypatch.setenv("POSTURE_DATABASE_URL", url)
    else:
        monkeypatch.delenv("POSTURE_DATABASE_URL", raising=False)
    data_dir = tmp_path / "data"

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--data-dir", str(data_dir)])
        out, err = capsys.readouterr()
        return code, out, err

    run.data_dir = data_dir  # type: ignore[attr-defined]
    run.settings = Settings(data_dir=data_dir, database_url=url or "")  # type: ignore[attr-defined]
    return run


def test_users_create_prints_a_working_key_on_its_last_line(cli, tmp_path):
    name = f"clinic-{tmp_path.name[-10:]}"
    code, out, _ = cli("users", "create", name)
    assert code == 0
    key = out.strip().splitlines()[-1]
    assert key.startswith("pp_") and " " not in key
    with TestClient(create_app(cli.settings, analyzer=FakeAnalyzer())) as client:
        assert client.get("/api/v1/subjects", headers={"Authorization": f"Bearer {key}"}).status_code == 200

    code, _, err = cli("users", "create", name)
    assert code == 1 and "exists" in err
    code, out, _ = cli("users", "key", name)
    assert code == 0 and out.strip().splitlines()[-1] not in ("", key)
    code, out, _ = cli("users", "list")
    assert f"{name}\t2 keys" in out
    code, _, err = cli("users", "key", "nobody-of-that-name")
    assert code == 1 and "no account" in err


def test_users_create_refuses_unprintable_names(cli):
    code, _, err = cli("users", "create", "bad\tname")
    assert code == 2 and "printable" in err


def test_the_installed_command_creates_the_sqlite_database(tmp_path):
    """Through a real `posture` process, as a new user runs it: SQLite file under the data dir."""
    env = {k: v for k, v in os.environ.items() if k != "POSTURE_DATABASE_URL"}
    command = [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())"]
    result = subprocess.run(
        [*command, "users", "create", "first", "--data-dir", str(tmp_path / "d")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("pp_")
    assert (tmp_path / "d" / "posture.db").is_file()


def test_serve_and_users_commands_are_registered():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--port", "9000", "--data-dir", "d", "--workers", "3"])
    assert (args.host, args.port, str(args.data_dir), args.workers) == ("127.0.0.1", 9000, "d", 3)
    assert callable(args.func)
    args = parser.parse_args(["users", "create", "alice"])
    assert args.name == "alice" and callable(args.func)


# --- keys: listing, last use, revocation; deleting an account (`posture users ...`) ------------------


def _client(cli) -> TestClient:
    return TestClient(create_app(cli.settings, analyzer=FakeAnalyzer()))


def _created(cli, name: str) -> str:
    code, out, err = cli("users", "create", name)
    assert code == 0, err
    return out.strip().splitlines()[-1]


def _key_rows(cli, name: str) -> list[list[str]]:
    code, out, err = cli("users", "keys", name)
    assert code == 0, err
    header, *rows = out.strip().splitlines()
    assert header.split("\t") == ["id", "prefix", "created", "last used", "state"]
    return [row.split("\t") for row in rows]


def _last_used(cli, lookup: str) -> datetime | None:
    db = Database(cli.settings.sqlalchemy_url)
    try:
        with db.session() as session:
            return session.scalar(select(ApiKey.last_used_at).where(ApiKey.lookup == lookup))
    finally:
        db.dispose()


def test_keys_are_listed_with_their_last_use_written_at_most_once_a_minute(cli, tmp_path):
    name = f"keys-{tmp_path.name[-10:]}"
    first = _created(cli, name)
    _, out, _ = cli("users", "key", name)
    second = out.strip().splitlines()[-1]
    rows = _key_rows(cli, name)
    assert [row[1] for row in rows] == [f"pp_{key_lookup(first)}", f"pp_{key_lookup(second)}"]
    assert all(row[3] == "never" and row[4] == "valid" for row in rows)
    assert all(uuid.UUID(row[0]) and row[2].endswith(" UTC") for row in rows)

    with _client(cli) as client:
        assert client.get("/api/v1/subjects", headers=_bearer(first)).status_code == 200
        stamped = _last_used(cli, key_lookup(first))
        assert stamped is not None and abs((utcnow() - stamped).total_seconds()) < 60
        assert _key_rows(cli, name)[0][3].endswith(" UTC") and _key_rows(cli, name)[1][3] == "never"
        # Within the minute, further requests write nothing.
        assert client.get("/api/v1/subjects", headers=_bearer(first)).status_code == 200
        assert _last_used(cli, key_lookup(first)) == stamped
        # A minute later, the next request records its use again.
        _set_last_used(cli, key_lookup(first), stamped - timedelta(minutes=2))
        assert client.get("/api/v1/subjects", headers=_bearer(first)).status_code == 200
        assert _last_used(cli, key_lookup(first)) > stamped


def _set_last_used(cli, lookup: str, when: datetime) -> None:
    db = Database(cli.settings.sqlalchemy_url)
    try:
        with db.session() as session:
            session.execute(update(ApiKey).where(ApiKey.lookup == lookup).values(last_used_at=when))
            session.commit()
    finally:
        db.dispose()


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_revoked_key_is_refused_at_once_by_every_app_instance(cli, tmp_path):
    name = f"revoke-{tmp_path.name[-10:]}"
    first = _created(cli, name)
    code, out, _ = cli("users", "key", name)
    second = out.strip().splitlines()[-1]
    # Two app instances with their own engines: two server processes as far as state goes.
    with _client(cli) as one, _client(cli) as other:
        for client in (one, other):
            assert client.get("/api/v1/subjects", headers=_bearer(first)).status_code == 200

        key_id = _key_rows(cli, name)[0][0]
        code, out, _ = cli("users", "revoke", key_id)
        assert code == 0 and f"pp_{key_lookup(first)}" in out
        for client in (one, other):
            refused = client.get("/api/v1/subjects", headers=_bearer(first))
            assert refused.status_code == 401 and refused.json()["code"] == "revoked_api_key"
            assert refused.headers["www-authenticate"] == "Bearer"
            assert client.get("/api/v1/subjects", headers=_bearer(second)).status_code == 200
        assert _key_rows(cli, name)[0][4].startswith("revoked ")

        # By its prefix (as read from a leaked key), and idempotent.
        code, out, _ = cli("users", "revoke", f"pp_{key_lookup(second)}")
        assert code == 0 and "Revoked" in out
        assert one.get("/api/v1/subjects", headers=_bearer(second)).json()["code"] == "revoked_api_key"
        code, out, _ = cli("users", "revoke", second)  # the whole key works as a reference too
        assert code == 0 and "already revoked" in out
        _, out, _ = cli("users", "list")
        assert f"{name}\t0 keys" in out
        code, _, err = cli("users", "revoke", "pp_0000000000000000")
        assert code == 1 and "no key" in err
        # A forged key with a revoked key's prefix learns nothing: invalid, not revoked.
        forged = f"pp_{key_lookup(first)}_{'C' * 43}"
        assert one.get("/api/v1/subjects", headers=_bearer(forged)).json()["code"] == "invalid_api_key"


def test_deleting_an_account_needs_confirmation_and_removes_everything(cli, tmp_path, monkeypatch):
    name = f"gone-{tmp_path.name[-10:]}"
    key = _created(cli, name)
    keep = _created(cli, f"stays-{tmp_path.name[-10:]}")
    seed = uuid.uuid4().int % 2**32  # photos no other test stores (the PostgreSQL database is shared)
    with _client(cli) as client:
        sid = client.post("/api/v1/subjects", json={"name": "Walker"}, headers=_bearer(key)).json()["id"]
        uploads = [
            client.post(
                f"/api/v1/subjects/{sid}/analyses",
                files={"photo": ("p.jpg", make_jpeg(seed + i), "image/jpeg")},
                headers=_bearer(key),
            )
            for i in (1, 2)
        ]
        assert all(upload.status_code == 201 for upload in uploads)
        other = client.post("/api/v1/subjects", json={"name": "Other"}, headers=_bearer(keep)).json()["id"]
        kept = client.post(
            f"/api/v1/subjects/{other}/analyses",
            files={"photo": ("p.jpg", make_jpeg(seed + 3), "image/jpeg")},
            headers=_bearer(keep),
        )
        assert kept.status_code == 201
        photos = [
            client.get(f"/api/v1/analyses/{upload.json()['id']}/photo", headers=_bearer(key)).content
            for upload in uploads
        ]
        assert len(_stored(cli)) == 6

        monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal to ask on
        code, _, err = cli("users", "delete", name)
        assert code == 2 and "--yes" in err and "no terminal" in err
        assert client.get("/api/v1/subjects", headers=_bearer(key)).status_code == 200

        code, out, err = cli("users", "delete", name, "--yes")
        assert code == 0, err
        assert "1 subjects, 2 analyses" in out
        gone = client.get("/api/v1/subjects", headers=_bearer(key))
        assert gone.status_code == 401 and gone.json()["code"] == "invalid_api_key"
        left = _stored(cli)
        for photo in photos:  # its photos are gone from the data dir
            assert hashlib.sha256(photo).hexdigest() not in left
        # What is left is exactly what some analysis still references (the overlays of the fake
        # analyzer are flat colours, which other accounts' analyses may share by content).
        assert left == _referenced(cli) & left and len(left) >= 2
        photo = client.get(f"/api/v1/analyses/{kept.json()['id']}/photo", headers=_bearer(keep))
        assert photo.status_code == 200
    code, out, _ = cli("users", "list")
    assert name not in out and "stays-" in out
    code, _, err = cli("users", "delete", name, "--yes")
    assert code == 1 and "no account" in err


def _stored(cli) -> set[str]:
    """The hashes of the files in the data dir."""
    return {path.stem for path in (cli.data_dir / "files").rglob("*") if path.is_file()}


def _referenced(cli) -> set[str]:
    db = Database(cli.settings.sqlalchemy_url)
    try:
        with db.session() as session:
            rows = session.execute(select(AnalysisRecord.photo_sha256, AnalysisRecord.overlay_sha256)).all()
    finally:
        db.dispose()
    return {digest for row in rows for digest in row if digest}


def test_delete_asks_on_a_terminal_for_the_accounts_name(tmp_path):
    """Through a real `posture` process on a pseudo-terminal, as an operator runs it."""
    data_dir = tmp_path / "d"
    env = {k: v for k, v in os.environ.items() if k != "POSTURE_DATABASE_URL"}
    command = [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())"]
    created = subprocess.run(
        [*command, "users", "create", "clinic", "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert created.stdout.strip().splitlines()[-1].startswith("pp_")

    def answer(typed: str) -> tuple[int, str]:
        controller, terminal = pty.openpty()
        proc = subprocess.Popen(
            [*command, "users", "delete", "clinic", "--data-dir", str(data_dir)],
            cwd=ROOT,
            env=env,
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
        )
        os.close(terminal)
        seen = b""
        deadline = time.monotonic() + 120
        while b"to confirm" not in seen and time.monotonic() < deadline:
            seen += os.read(controller, 4096)
        os.write(controller, typed.encode() + b"\n")
        code = proc.wait(timeout=60)
        try:
            while chunk := os.read(controller, 4096):
                seen += chunk
        except OSError:  # the terminal closed with the process
            pass
        os.close(controller)
        return code, seen.decode(errors="replace")

    code, shown = answer("clinc")
    assert code == 1 and "This cannot be undone" in shown and "Not deleted" in shown
    code, shown = answer("clinic")
    assert code == 0 and "Deleted account 'clinic'" in shown
    listed = subprocess.run(
        [*command, "users", "list", "--data-dir", str(data_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "clinic" not in listed.stdout
