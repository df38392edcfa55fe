"""Database tables (SQLAlchemy 2). The schema is owned by the migrations in `app/storage/migrations`."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

JSONDocument = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend. SQLite has no time zones: values are stored as naive UTC
    (so they sort as text) and come back aware; naive input is taken to be UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSONDocument}


class User(Base):
    """An account: owns subjects; authenticates with API keys."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A key is `pp_<lookup>_<secret>`: `lookup` finds the row, only the SHA-256 of the whole key is kept."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lookup: Mapped[str] = mapped_column(String(32), unique=True)
    key_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class Subject(Base):
    """A person being tracked, under a name or pseudonym."""

    __tablename__ = "subjects"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped with every analysis added or deleted: validates cached trends (app.services.cache).
    history_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # The protocol's photo interval (docs/programmes.md): the next photo is due this many days after
    # the latest one.
    photo_interval_days: Mapped[int] = mapped_column(default=14, server_default="14")
    # SHA-256 of the calendar feed's secret (`GET /subjects/{id}/calendar.ics?token=…`); null: no feed.
    calendar_token_sha256: Mapped[str | None] = mapped_column(String(64))


class AnalysisRecord(Base):
    """One accepted photo's analysis: what history and trends scan, kept small. The full analysis object
    lives in `AnalysisDocument`; `series` packs the tracked values (see `app.storage.series`) so a trend over
    thousands of analyses never parses a document."""

    __tablename__ = "analyses"
    __table_args__ = (Index("ix_analyses_subject_taken", "subject_id", "taken_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    taken_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    mode: Mapped[str] = mapped_column(String(16))
    photo_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    overlay_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    series_layout: Mapped[str] = mapped_column(String(16))
    series: Mapped[bytes] = mapped_column(LargeBinary)
    # The visit (`Visit`), kept by `app.storage.visits.regroup` in the transaction of every change. No
    # foreign key: SQLite can add one only by rebuilding this table, whose implicit delete would cascade
    # to the documents; the regrouping is the one writer and removes a visit only once it is empty.
    visit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    # The client's visit label (upload field or manifest column `visit`), which overrides the grouping.
    visit_label: Mapped[str | None] = mapped_column(String(64))
    # `posture.trends.method_key` of the document's versions: trends see mixed methods without documents.
    method: Mapped[str] = mapped_column(String(96), default="", server_default="")
    # Why the last re-analysis could not replace this analysis (`photo_not_stored`, `photo_missing`,
    # `refused`): it keeps the version it was made with. Null once re-analysed, or never tried.
    reanalysis_skipped: Mapped[str | None] = mapped_column(String(32))

    document: Mapped[AnalysisDocument] = relationship(lazy="joined", cascade="all, delete-orphan")

    @property
    def result(self) -> dict[str, Any]:
        return self.document.result


class Visit(Base):
    """The shots of one subject and mode taken in one session: within `[visits] gap_min` of each other
    (posture/rules.toml), or sharing one client label. `taken_at` is its first shot's."""

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_subject_taken", "subject_id", "taken_at", "id"),
        # One visit per label (unlabelled visits have none: NULLs never collide).
        Index("ix_visits_subject_label", "subject_id", "mode", "label", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(64))
    taken_at: Mapped[datetime]


class AnalysisDocument(Base):
    """`Analysis.to_dict()` verbatim (landmarks, measures, scores, versions...)."""

    __tablename__ = "analysis_documents"

    analysis_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("analyses.id", ondelete="CASCADE"), primary_key=True
    )
    result: Mapped[dict[str, Any]]


class FileOutbox(Base):
    """A stored file to remove, recorded in the transaction that deleted the rows referencing it. The
    sweeper (`app.storage.sweep`) removes the file unless another row references it by then (photos are
    shared by content), then this entry."""

    __tablename__ = "file_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Failed removals (storage unreachable): counted, retried on the next sweep.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")


class Movement(Base):
    """One analysed movement clip (a squat or knee-to-wall lunge test): `measures` holds the headline
    numbers (medians over the reps) that history and trends scan; `result` is `MovementAnalysis.to_dict()`
    verbatim (reps, series, findings...). The clip and the deepest frame's PNG are content-addressed files
    (`app.storage.files`), written before this row."""

    __tablename__ = "movements"
    __table_args__ = (Index("ix_movements_subject_taken", "subject_id", "test", "taken_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    test: Mapped[str] = mapped_column(String(16))
    taken_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str | None] = mapped_column(String(255))
    clip_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    deepest_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    method: Mapped[str] = mapped_column(String(96), default="", server_default="")
    measures: Mapped[dict[str, Any]]
    result: Mapped[dict[str, Any]] = mapped_column(deferred=True)


class MovementJob(Base):
    """An uploaded clip on its way to a `Movement`: queued, running (with its progress), then done (with
    the movement's id) or failed (with the library's or the service's error code).

    While the job is unfinished its row references the clip file; a server running it renews
    `heartbeat_at`, so a job whose server died (a restart, `kill -9`) is recognised as interrupted by any
    other server or at the next start-up (`app.storage.movements.fail_interrupted`)."""

    __tablename__ = "movement_jobs"
    __table_args__ = (Index("ix_movement_jobs_status", "status", "heartbeat_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    test: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, Any]]
    source: Mapped[str | None] = mapped_column(String(255))
    taken_at: Mapped[datetime]
    clip_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    movement_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("movements.id", ondelete="SET NULL"))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class Programme(Base):
    """A programme of exercise (e.g. a six-week calf programme) a subject follows from `start_date` to
    `end_date` (open-ended while null): the log that before/after comparisons are read against."""

    __tablename__ = "programmes"
    __table_args__ = (Index("ix_programmes_subject_start", "subject_id", "start_date", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    exercises: Mapped[list[ProgrammeExercise]] = relationship(
        lazy="selectin",
        cascade="all, delete-orphan",
        order_by="(ProgrammeExercise.position, ProgrammeExercise.id)",
    )


class ProgrammeExercise(Base):
    """One exercise of a programme (e.g. "eccentric heel drops", dose "3×15"), with a tick per day it
    was done."""

    __tablename__ = "programme_exercises"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    programme_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("programmes.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    dose: Mapped[str | None] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticks: Mapped[list[ProgrammeTick]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ProgrammeTick.done_on"
    )


class ProgrammeTick(Base):
    """A workout done: one exercise, one day (ticking a day twice keeps one tick)."""

    __tablename__ = "programme_ticks"

    exercise_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("programme_exercises.id", ondelete="CASCADE"), primary_key=True
    )
    done_on: Mapped[date] = mapped_column(Date, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
