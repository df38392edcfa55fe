"""The Alembic migrations build exactly the schema of app.storage.models, on both databases."""

from __future__ import annotations

import subprocess
import sys
import uuid

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app.core.db import Database, alembic_config, migrate
from app.storage.models import Base

from .conftest import ROOT


def test_migrated_schema_matches_the_models(database: Database):
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_sqlite_runs_in_wal_mode(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    db.migrate()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


def test_downgrade_and_upgrade_again(database_url: str, tmp_path):
    url = _fresh_database(database_url, tmp_path)
    engine = create_engine(url)
    try:
        migrate(engine)
        assert {"users", "api_keys", "subjects", "analyses"} <= set(inspect(engine).get_table_names())
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate(engine)
        assert "analyses" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
        _drop(url)


def test_processes_starting_together_migrate_once(database_url: str, tmp_path):
    """Several servers (or `posture users create`) may start on an empty database at the same time."""
    url = _fresh_database(database_url, tmp_path)
    code = "import sys; from app.core.db import Database; Database(sys.argv[1]).migrate()"
    try:
        procs = [
            subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT, stderr=subprocess.PIPE)
            for _ in range(3)
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err.decode()
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [_head()]
        engine.dispose()
    finally:
        _drop(url)


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _fresh_database(database_url: str, tmp_path) -> str:
    """An empty database of the same kind as `database_url`."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"
    name = f"posture_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop(url_text: str) -> None:
    url = make_url(url_text)
    if url.get_backend_name() == "sqlite":
        return
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def test_a_database_of_the_first_revision_upgrades_with_its_data(database_url: str, tmp_path):
    url = _fresh_database(database_url, tmp_path)
    engine = create_engine(url)
    try:
        migrate(engine, "0001")
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO users (id, name, created_at) VALUES (:id, 'old', :now)"),
                {"id": uuid.uuid4().hex, "now": "2026-01-01 00:00:00"},
            )
            user_id = conn.execute(text("SELECT id FROM users")).scalar()
            conn.execute(
                text(
                    "INSERT INTO subjects (id, user_id, name, created_at, updated_at) "
                    "VALUES (:id, :user, 'Kept', :now, :now)"
                ),
                {"id": uuid.uuid4().hex, "user": user_id, "now": "2026-01-01 00:00:00"},
            )
        migrate(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name, history_version FROM subjects")).all() == [("Kept", 0)]
    finally:
        engine.dispose()
        _drop(url)


def test_existing_histories_are_grouped_into_visits_by_the_migration(database_url: str, tmp_path):
    """0004 gives every analysis its visit (per subject and mode, a shot within 30 minutes of the
    previous one joins its visit) and its method (rules version | model), from the rows as they were."""
    url = _fresh_database(database_url, tmp_path)
    engine = create_engine(url)
    ids = [uuid.uuid4().hex for _ in range(7)]
    # (subject, mode, time): s1 standing 09:00, 09:20, 09:50 (one run: 20 and 30 minutes apart), 10:21
    # (31 minutes: a new visit); s1 lunge 09:10 (its own series); s2 standing 09:05 and 09:06.
    shots = [
        ("s1", "standing", "2026-01-05 09:00:00"),
        ("s1", "standing", "2026-01-05 09:20:00"),
        ("s1", "standing", "2026-01-05 09:50:00"),
        ("s1", "standing", "2026-01-05 10:21:00"),
        ("s1", "lunge", "2026-01-05 09:10:00"),
        ("s2", "standing", "2026-01-05 09:05:00"),
        ("s2", "standing", "2026-01-05 09:06:00"),
    ]
    try:
        migrate(engine, "0003")
        with engine.begin() as conn:
            user = uuid.uuid4().hex
            conn.execute(
                text("INSERT INTO users (id, name, created_at) VALUES (:id, 'old', :now)"),
                {"id": user, "now": "2026-01-01 00:00:00"},
            )
            subjects = {"s1": uuid.uuid4().hex, "s2": uuid.uuid4().hex}
            for name, subject in subjects.items():
                conn.execute(
                    text(
                        "INSERT INTO subjects (id, user_id, name, created_at, updated_at) "
                        "VALUES (:id, :user, :name, :now, :now)"
                    ),
                    {"id": subject, "user": user, "name": name, "now": "2026-01-01 00:00:00"},
                )
            for analysis_id, (subject, mode, taken) in zip(ids, shots, strict=True):
                conn.execute(
                    text(
                        "INSERT INTO analyses (id, subject_id, taken_at, created_at, mode, series_layout, "
                        "series) VALUES (:id, :subject, :taken, :taken, :mode, 'old', :series)"
                    ),
                    {
                        "id": analysis_id,
                        "subject": subjects[subject],
                        "taken": taken,
                        "mode": mode,
                        "series": b"",
                    },
                )
                versions = '"versions": {"rules": "2026.11.2", "model_sha256": "ab12"}'
                document = f'{{"mode": "{mode}", {versions}}}'
                conn.execute(
                    text("INSERT INTO analysis_documents (analysis_id, result) VALUES (:id, :doc)"),
                    {"id": analysis_id, "doc": document},
                )
        migrate(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, visit_id, method FROM analyses")).all()
            visit_of = {uuid.UUID(str(r[0])).hex: r[1] for r in rows}
            assert {r[2] for r in rows} == {"2026.11.2|ab12"}
            assert None not in visit_of.values()
            groups = [visit_of[i] for i in ids]
            assert groups[0] == groups[1] == groups[2]
            assert len(set(groups)) == 4  # {0, 1, 2}, {3}, {4}, {5, 6}
            assert groups[5] == groups[6] and groups[3] not in (groups[0], groups[4], groups[5])
            visits = conn.execute(text("SELECT id, mode, label, taken_at FROM visits")).all()
            assert len(visits) == 4 and {v[2] for v in visits} == {None}
            first = {str(v[0]).replace("-", ""): v for v in visits}[str(groups[0]).replace("-", "")]
            assert first[1] == "standing" and str(first[3]).startswith("2026-01-05 09:00:00")
    finally:
        engine.dispose()
        _drop(url)
