"""The Alembic migrations build exactly the schema of app.storage.models, on both databases."""

from __future__ import annotations

import subprocess
import sys
import uuid

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
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
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == ["0002"]
        engine.dispose()
    finally:
        _drop(url)


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
