"""Alembic environment: always run online, on the connection `app.core.db.migrate` passes in."""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext

from app.storage.models import Base, UTCDateTime

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only app.core.db and app.storage.migrations run these scripts
    raise RuntimeError("Run migrations through app.core.db.migrate() or `python -m app.storage.migrations`.")


def _render_item(kind: str, obj: Any, autogen: AutogenContext) -> str | bool:
    # UTCDateTime only converts values in Python; the column itself is a plain timestamptz.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things: batch mode rebuilds tables instead.
    render_as_batch=connection.dialect.name == "sqlite",
    render_item=_render_item,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
