"""`posture programme …`: the programme log from the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from app.core.db import Database
from app.storage import repository

from .test_cli import cli  # noqa: F401  (the fixture: `posture ARGS...` in-process)


def _subject(cli) -> str:  # noqa: F811
    code, _, _ = cli("users", "create", "coach")
    assert code == 0
    db = Database(cli.settings.sqlalchemy_url)
    try:
        with db.session() as session:
            user = repository.user_by_name(session, "coach")
            return str(repository.create_subject(session, user, "Client", None).id)
    finally:
        db.dispose()


def test_a_programme_is_logged_ticked_and_read_from_the_command_line(cli, capsys):  # noqa: F811
    sid = _subject(cli)
    code, out, err = cli(
        "programme", "add", sid, "--name", "Calf programme", "--start", "2026-03-16",
        "--exercise", "eccentric heel drops=3x15", "--exercise", "knee-to-wall mobilisation",
    )  # fmt: skip
    assert code == 0, err
    pid = out.strip().splitlines()[-1]
    code, out, err = cli("programme", "tick", pid, "Eccentric heel drops", "--on", "2026-03-17")
    assert code == 0, err
    assert "eccentric heel drops (3x15)" in out and "2026-03-17" in out
    code, out, err = cli("programme", "tick", pid, "squats", "--on", "2026-03-17")
    assert code == 1 and "no single exercise 'squats'" in err
    code, out, err = cli("programme", "update", pid, "--end", "2026-03-01")
    assert code == 1 and "invalid_programme_dates" in err
    with pytest.raises(SystemExit) as exited:
        cli("programme", "add", sid, "--name", "x", "--start", "2026-13-01")
    assert exited.value.code == 2 and "not a day" in capsys.readouterr().err
    code, out, _ = cli("programme", "list", sid)
    assert code == 0 and pid in out and "1 workout days" in out
    code, out, _ = cli("programme", "effect", pid)
    assert code == 0 and "too few visits" in out and "standing shin angle" in out
    assert out.index("standing shin angle") < out.index("pelvic tilt estimate")  # ankle first
    code, out, _ = cli("programme", "effect", pid, "--json")
    assert code == 0 and json.loads(out)["programme_id"] == pid
    code, _, err = cli("programme", "show", "00000000-0000-0000-0000-000000000000")
    assert code == 1 and "no programme" in err
    code, out, _ = cli("programme", "delete", pid, "--yes")
    assert code == 0
    code, out, _ = cli("programme", "list", sid)
    assert code == 0 and out == ""
