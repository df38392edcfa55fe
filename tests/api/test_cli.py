"""`posture users ...` and `posture serve` on the command line."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from app.cli import main, register
from app.core.settings import Settings
from app.main import create_app

from .conftest import ROOT, FakeAnalyzer


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
