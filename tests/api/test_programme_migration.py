"""Migration 0006 (issue 24) on a database of revision 0005 with data: existing subjects get the
protocol's 14-day photo interval and no calendar token; the programme tables start empty and work."""

from __future__ import annotations

import uuid

from alembic import command
from sqlalchemy import create_engine, text

from app.core.db import alembic_config, migrate

from .test_migrations import _drop, _fresh_database


def test_subjects_of_0005_get_the_default_interval_and_programmes_can_be_added(database_url: str, tmp_path):
    url = _fresh_database(database_url, tmp_path)
    engine = create_engine(url)
    try:
        migrate(engine, "0005")
        user, subject = uuid.uuid4().hex, uuid.uuid4().hex
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO users (id, name, created_at) VALUES (:id, 'old', :now)"),
                {"id": user, "now": "2026-01-01 00:00:00"},
            )
            user_id = conn.execute(text("SELECT id FROM users")).scalar()
            conn.execute(
                text(
                    "INSERT INTO subjects (id, user_id, name, created_at, updated_at) "
                    "VALUES (:id, :user, 'Kept', :now, :now)"
                ),
                {"id": subject, "user": user_id, "now": "2026-01-01 00:00:00"},
            )
        migrate(engine)
        with engine.begin() as conn:
            rows = conn.execute(
                text("SELECT name, photo_interval_days, calendar_token_sha256 FROM subjects")
            ).all()
            assert rows == [("Kept", 14, None)]
            subject_id = conn.execute(text("SELECT id FROM subjects")).scalar()
            conn.execute(
                text(
                    "INSERT INTO programmes (id, subject_id, name, start_date, created_at, updated_at) "
                    "VALUES (:id, :subject, 'Calf', '2026-03-16', :now, :now)"
                ),
                {"id": uuid.uuid4().hex, "subject": subject_id, "now": "2026-03-16 00:00:00"},
            )
            assert conn.execute(text("SELECT count(*) FROM programmes")).scalar() == 1
        with engine.begin() as connection:  # and down again: the tables and columns go, the rows stay
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0005")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM subjects")).all() == [("Kept",)]
            columns = conn.execute(text("SELECT * FROM subjects")).keys()
            assert "photo_interval_days" not in columns and "calendar_token_sha256" not in columns
    finally:
        engine.dispose()
        _drop(url)
