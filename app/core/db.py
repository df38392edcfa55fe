"""Engine, sessions and migrations for SQLite (default, WAL mode) and PostgreSQL."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no cross-process lock for SQLite migrations
    fcntl = None  # type: ignore[assignment]

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "storage" / "migrations"
# pg_advisory lock key serialising migrations of processes that start together.
_MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"posture-profile migrations").digest()[:8], "big", signed=True
)


class Database:
    """One engine and its session factory. Sessions keep loaded objects usable after commit."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.sessions()

    def migrate(self) -> None:
        migrate(self.engine)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
        except Exception:
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    # Room for every thread of the request thread pool (40) to hold a connection: a burst of requests
    # then waits for the database, not for the connection pool.
    if parsed.get_backend_name() != "sqlite":
        # pre_ping: a PostgreSQL restart must not turn the next request into an error.
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=30)
    pool: dict[str, int] = {}
    if parsed.database and parsed.database != ":memory:":  # (in-memory: one connection, no pool sizes)
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        pool = {"pool_size": 8, "max_overflow": 32}
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer (several server processes can share the file);
    # NORMAL sync is durable against application crashes, the usual pairing with WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config() -> Config:
    """Alembic configuration without an ini file: the scripts ship inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe when several processes start at once."""
    with _migration_lock(engine), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Held until this transaction ends; PostgreSQL runs the whole upgrade in it.
            connection.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """SQLite has no advisory locks and alembic does not run its DDL in one transaction there:
    a lock file beside the database keeps two processes from migrating at once."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or fcntl is None or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
