"""Storage behind one small interface: accounts and keys, subjects, analyses and their stored files.

Every query that takes a `user` is scoped to that account: another account's ids are simply not found.

Rows and files (`app.storage.files`, on disk or in a bucket) are kept consistent through failures and
crashes, across threads, processes and machines, by these rules:

- **Locks.** Whoever commits a row referencing a file, or removes a file, holds a lock on that file's
  hash meanwhile (a PostgreSQL advisory lock; on SQLite the database write lock, `BEGIN IMMEDIATE`).
- **Writes: files first, then the row.** An upload stores its files (content-addressed, so idempotent,
  and atomic) before and outside any lock, so slow object storage never holds a database lock. Then,
  under the hash locks, it checks that the files are still there (a sweep may have removed a
  same-content file meanwhile: it is written again) and commits the row. A failure or a crash before
  the commit leaves at most files that no row references: the write's own error path removes them when
  it can, and otherwise the sweep does (`app.storage.sweep`), once they are older than a grace period.
  The grace period spares the files of uploads in flight; the check under the lock makes even a sweep
  with no grace (or a wrong clock) safe. So a committed row always has its files.
- **Deletes: rows and outbox in one transaction.** Deleting rows records their files in `file_outbox`
  in the same transaction, so a crash cannot lose a deletion. After the commit the files are removed at
  once, if no other row still references them (photos are shared by content), and the outbox entries
  dropped; whatever a crash or an unreachable store leaves in the outbox, the next sweep finishes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Row, String, Text, cast, delete, func, or_, select, text, type_coerce, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.core.security import key_lookup, key_matches, new_api_key
from app.storage import visits
from app.storage.files import FileKind, FileStore, SpooledFile, sha256_hex
from app.storage.models import (
    AnalysisDocument,
    AnalysisRecord,
    ApiKey,
    FileOutbox,
    Movement,
    MovementJob,
    Subject,
    User,
    utcnow,
)
from app.storage.series import LAYOUT, pack, row_from_document, unpack
from posture.trends import TRACKED, method_key
from posture.worker import JobResult

log = logging.getLogger(__name__)


class UserExists(Exception):
    pass


# --- accounts and keys ----------------------------------------------------------------------------


def create_user(session: Session, name: str) -> tuple[User, str]:
    """A new account and its first API key (returned in clear, once)."""
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise UserExists(name)
    user = User(name=name)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # created by someone else since the check above
        session.rollback()
        raise UserExists(name) from None
    key = issue_key(session, user)
    return user, key


def issue_key(session: Session, user: User) -> str:
    key, lookup, digest = new_api_key()
    session.add(ApiKey(user_id=user.id, lookup=lookup, key_sha256=digest))
    session.commit()
    return key


def user_by_name(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def list_users(session: Session) -> Sequence[Row[tuple[User, int]]]:
    """Every account with its number of valid (not revoked) keys."""
    keys = (
        select(func.count()).where(ApiKey.user_id == User.id, ApiKey.revoked_at.is_(None)).scalar_subquery()
    )
    return session.execute(select(User, keys).order_by(User.name)).all()


class KeyRevoked(Exception):
    """A well-formed, matching key that was revoked (`revoked_at`)."""

    def __init__(self, revoked_at: datetime) -> None:
        super().__init__(revoked_at.isoformat())
        self.revoked_at = revoked_at


KEY_USE_RESOLUTION = timedelta(minutes=1)
"""`last_used_at` is written at most once per key in this time: not a write for every request."""


def authenticate(session: Session, key: str) -> User | None:
    """The account of a valid key, else None; raises `KeyRevoked` for a revoked one.

    One database lookup per request and nothing cached in the process, so a revocation holds on every
    server process from the next request on."""
    lookup = key_lookup(key)
    if lookup is None:
        return None
    api_key = session.scalar(select(ApiKey).where(ApiKey.lookup == lookup))
    if api_key is None or not key_matches(key, api_key.key_sha256):
        return None
    if api_key.revoked_at is not None:
        raise KeyRevoked(api_key.revoked_at)
    _stamp_use(session, api_key)
    return api_key.user


def _stamp_use(session: Session, api_key: ApiKey) -> None:
    now = utcnow()
    if api_key.last_used_at is not None and now - api_key.last_used_at < KEY_USE_RESOLUTION:
        return
    try:
        # Conditional, so that of concurrent requests (in any process) one writes and the others match
        # nothing; a revocation committed meanwhile is left as it is.
        session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == api_key.id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - KEY_USE_RESOLUTION),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    except OperationalError as exc:  # a locked or busy database: the stamp waits for the next minute
        session.rollback()
        log.warning("could not record the use of API key %s: %s", api_key.id, exc)
        return
    # The loaded key learns the value without becoming dirty: an assignment would be flushed again as
    # an unconditional UPDATE by the request's next query, and fail (StaleDataError, a 500) when the
    # account was deleted meanwhile (tests/api/test_faults.py).
    set_committed_value(api_key, "last_used_at", now)


def list_keys(session: Session, user: User) -> Sequence[ApiKey]:
    """The account's keys, oldest first, revoked ones included."""
    return session.scalars(
        select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at, ApiKey.id)
    ).all()


def revoke_key(session: Session, reference: str) -> tuple[ApiKey, bool] | None:
    """Revoke the key with this id, or this public prefix (`pp_<16 hex>`, also read from a whole key).
    Returns the key and whether this call revoked it (False: it was revoked already); None if unknown."""
    reference = reference.strip()
    condition: Any
    try:
        condition = ApiKey.id == uuid.UUID(reference)
    except ValueError:
        match = re.fullmatch(r"(?:pp_)?([0-9a-f]{16})(?:_.*)?", reference)
        if match is None:
            return None
        condition = ApiKey.lookup == match.group(1)
    api_key = session.scalar(select(ApiKey).where(condition))
    if api_key is None:
        return None
    if api_key.revoked_at is not None:
        return api_key, False
    api_key.revoked_at = utcnow()
    session.commit()
    return api_key, True


# --- subjects -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubjectSummary:
    subject: Subject
    analysis_count: int
    last_taken_at: datetime | None


def _summary_columns() -> tuple:
    count = select(func.count()).where(AnalysisRecord.subject_id == Subject.id).scalar_subquery()
    last = select(func.max(AnalysisRecord.taken_at)).where(AnalysisRecord.subject_id == Subject.id)
    return count, last.scalar_subquery()


def list_subjects(session: Session, user: User, limit: int, offset: int) -> tuple[list[SubjectSummary], int]:
    count, last = _summary_columns()
    rows = session.execute(
        select(Subject, count, last)
        .where(Subject.user_id == user.id)
        .order_by(Subject.created_at, Subject.id)
        .limit(limit)
        .offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(Subject).where(Subject.user_id == user.id))
    return [SubjectSummary(s, n, t) for s, n, t in rows], int(total or 0)


def get_subject(session: Session, user: User, subject_id: uuid.UUID) -> Subject | None:
    return session.scalar(select(Subject).where(Subject.id == subject_id, Subject.user_id == user.id))


def subject_id_by_name(session: Session, user: User, name: str) -> uuid.UUID | None:
    """The account's subject of that name (the oldest, if several share it)."""
    return session.scalar(
        select(Subject.id)
        .where(Subject.user_id == user.id, Subject.name == name)
        .order_by(Subject.created_at, Subject.id)
        .limit(1)
    )


def summarize(session: Session, subject: Subject) -> SubjectSummary:
    count, last = _summary_columns()
    n, taken = session.execute(select(count, last).where(Subject.id == subject.id)).one()
    return SubjectSummary(subject, n, taken)


def create_subject(
    session: Session, user: User, name: str, notes: str | None, photo_interval_days: int = 14
) -> Subject:
    now = utcnow()
    subject = Subject(
        user_id=user.id,
        name=name,
        notes=notes,
        photo_interval_days=photo_interval_days,
        created_at=now,
        updated_at=now,
    )
    session.add(subject)
    session.commit()
    return subject


def update_subject(session: Session, subject: Subject, changes: dict[str, object]) -> Subject:
    for field, value in changes.items():
        setattr(subject, field, value)
    if changes:
        subject.updated_at = utcnow()
    session.commit()
    return subject


def delete_subject(session: Session, store: FileStore, user: User, subject_id: uuid.UUID) -> bool:
    """Delete a subject, its analyses and the files only they referenced; False if not found."""
    _begin_write(session)
    subject = session.scalar(
        select(Subject).where(Subject.id == subject_id, Subject.user_id == user.id).with_for_update()
    )
    if subject is None:
        session.rollback()
        return False
    files = _files_of(
        session.execute(
            select(AnalysisRecord.photo_sha256, AnalysisRecord.overlay_sha256).where(
                AnalysisRecord.subject_id == subject.id
            )
        ).all()
    )
    files |= movement_files(session, [subject.id])
    outbox = _enqueue(session, files)
    session.execute(delete(AnalysisRecord).where(AnalysisRecord.subject_id == subject.id))
    session.delete(subject)
    session.commit()
    _drain_now(session, store, outbox)
    return True


@dataclass(frozen=True)
class DeletedAccount:
    subjects: int
    analyses: int
    files: int
    """Distinct stored files the account's analyses referenced (removed unless shared by content)."""


def delete_account(session: Session, store: FileStore, user: User) -> DeletedAccount | None:
    """Delete an account with its keys, subjects, analyses and files, durably (see the module doc):
    its keys stop working at the commit. None if the account no longer exists."""
    _begin_write(session)
    # Row locks: an upload to one of its subjects waits, then finds the subject gone and stores nothing.
    if session.scalar(select(User.id).where(User.id == user.id).with_for_update()) is None:
        session.rollback()
        return None
    owned = select(Subject.id).where(Subject.user_id == user.id)
    subject_ids = session.scalars(owned.with_for_update()).all()
    rows = session.execute(
        select(AnalysisRecord.photo_sha256, AnalysisRecord.overlay_sha256).where(
            AnalysisRecord.subject_id.in_(owned)
        )
    ).all()
    files = _files_of(rows) | movement_files(session, subject_ids)
    outbox = _enqueue(session, files)
    # The foreign keys cascade to keys, subjects, analyses and their documents, movements and jobs.
    session.execute(delete(User).where(User.id == user.id))
    session.commit()
    session.expunge_all()  # the loaded account and its objects are gone
    _drain_now(session, store, outbox)
    return DeletedAccount(len(subject_ids), len(rows), len(files))


# --- analyses -------------------------------------------------------------------------------------


def add_analysis(
    session: Session,
    store: FileStore,
    subject_id: uuid.UUID,
    outcome: JobResult,
    taken_at: datetime,
    visit: str | None = None,
) -> AnalysisRecord | None:
    """Store an accepted analysis (and its files, if the outcome carries them); None if the subject
    was deleted meanwhile, in which case nothing is stored. Files first, then the row (module doc).
    `visit` is the client's visit label; without one the shot joins its visit by time
    (`app.storage.visits`), regrouped in the same transaction."""
    files = [(FileKind.PHOTO, outcome.photo_jpeg), (FileKind.OVERLAY, outcome.overlay_png)]
    with files_first(session, store, files) as staged:
        # Bumping the version also locks the subject row: a concurrent subject delete waits for this
        # insert instead of failing it, and concurrent uploads to one subject commit one after the other.
        if not _bump_history(session, subject_id):
            staged.abandon()
            return None
        staged.restore()
        # Through JSON text: NaN and infinities become null, which JSONB requires.
        document = json.loads(outcome.analysis.model_dump_json())
        record = AnalysisRecord(
            subject_id=subject_id,
            taken_at=taken_at,
            mode=document["mode"],
            photo_sha256=staged.digests.get(FileKind.PHOTO),
            overlay_sha256=staged.digests.get(FileKind.OVERLAY),
            series_layout=LAYOUT,
            series=pack(document["measures"], document["scores"]),
            visit_label=visit,
            method=method_key(document.get("versions")),
            document=AnalysisDocument(result=document),
        )
        session.add(record)
        visits.regroup(session, subject_id, record.mode, around=[taken_at], labels=[visit])
        session.commit()
    return record


def get_analysis(session: Session, user: User, analysis_id: uuid.UUID) -> AnalysisRecord | None:
    return session.scalar(
        select(AnalysisRecord)
        .join(Subject, Subject.id == AnalysisRecord.subject_id)
        .where(AnalysisRecord.id == analysis_id, Subject.user_id == user.id)
    )


def history(
    session: Session, subject_id: uuid.UUID, limit: int, offset: int, mode: str | None = None
) -> tuple[Sequence[AnalysisRecord], int]:
    where = [AnalysisRecord.subject_id == subject_id]
    if mode is not None:
        where.append(AnalysisRecord.mode == mode)
    records = session.scalars(
        select(AnalysisRecord)
        .where(*where)
        .order_by(AnalysisRecord.taken_at, AnalysisRecord.id)
        .limit(limit)
        .offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(AnalysisRecord).where(*where))
    return records, int(total or 0)


def all_analyses(session: Session, subject_id: uuid.UUID) -> Sequence[AnalysisRecord]:
    return session.scalars(
        select(AnalysisRecord)
        .where(AnalysisRecord.subject_id == subject_id)
        .order_by(AnalysisRecord.taken_at, AnalysisRecord.id)
    ).all()


@dataclass(frozen=True)
class Series:
    """A subject's tracked values in time order: one matrix row per analysis (columns: stats.TRACKED).

    Built for thousands of rows: `taken_at` is a numpy datetime64[us] array (UTC), and `ids` (like
    `visit_ids`) are UUIDs as text, canonical on PostgreSQL and 32 hex digits on SQLite (see
    `canonical_ids`): several times faster than building `uuid.UUID` objects one by one."""

    ids: list[str]
    taken_at: np.ndarray
    values: np.ndarray
    visit_ids: list[str | None] = dataclasses.field(default_factory=list)
    """Each row's visit, in the same form as `ids`."""
    methods: list[str] = dataclasses.field(default_factory=list)
    """Each row's `method` (`posture.trends.method_key`)."""


def series(
    session: Session,
    subject_id: uuid.UUID,
    mode: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Series:
    where = [AnalysisRecord.subject_id == subject_id, AnalysisRecord.mode == mode]
    if since is not None:
        where.append(AnalysisRecord.taken_at >= since)
    if until is not None:
        where.append(AnalysisRecord.taken_at <= until)
    dialect = session.get_bind().dialect.name
    times_sql: tuple[Any, ...] = (type_coerce(AnalysisRecord.taken_at, String),)  # SQLite: naive UTC text
    if dialect == "postgresql":
        # Whole epoch seconds and the minute's microseconds, two floats that hold integers exactly:
        # numpy turns them into times at once, where psycopg's datetime objects cost it 4 µs each.
        taken_at = AnalysisRecord.taken_at
        times_sql = (
            func.date_part("epoch", func.date_trunc("second", taken_at)),
            func.date_part("microseconds", taken_at),
        )
    # Raw column values (type_coerce: no per-row conversion by SQLAlchemy) through Core, not the ORM:
    # the per-row Python work is what a long history costs, so numpy does the rest in bulk.
    rows = (
        session.connection()
        .execute(
            select(
                AnalysisRecord.series_layout,
                AnalysisRecord.series,
                _uuid_text(AnalysisRecord.id, dialect),
                _uuid_text(AnalysisRecord.visit_id, dialect),
                AnalysisRecord.method,
                *times_sql,
            )
            .where(*where)
            .order_by(AnalysisRecord.taken_at, AnalysisRecord.id)
        )
        .all()
    )
    # One transposition in C rather than a list comprehension per column.
    columns = list(zip(*rows, strict=True)) if rows else [()] * (5 + len(times_sql))
    layouts, blobs, ids = columns[0], columns[1], list(columns[2])
    if dialect == "postgresql":
        seconds = np.array(columns[5], dtype=np.float64).astype(np.int64)
        micros = np.array(columns[6], dtype=np.float64).astype(np.int64) % 1_000_000
        times = (seconds * 1_000_000 + micros).astype("datetime64[us]")
    else:
        times = np.array(columns[5], dtype="datetime64[us]")
    values = np.full((len(rows), len(TRACKED)), np.nan)
    if layouts.count(LAYOUT) == len(rows):
        values[:] = unpack(blobs)
    else:
        current = [i for i, layout in enumerate(layouts) if layout == LAYOUT]
        values[current] = unpack([blobs[i] for i in current])
    if layouts.count(LAYOUT) < len(rows):  # packed with another list of measures: read those documents
        stale = {uuid.UUID(str(ids[i])): i for i in range(len(rows)) if layouts[i] != LAYOUT}
        documents = session.execute(
            select(AnalysisDocument.analysis_id, AnalysisDocument.result).where(
                AnalysisDocument.analysis_id.in_(list(stale))
            )
        )
        for analysis_id, result in documents:
            values[stale[analysis_id]] = row_from_document(result)
    return Series(ids, times, values, list(columns[3]), list(columns[4]))


def _uuid_text(column: Any, dialect: str) -> Any:
    """A UUID column as text without making `uuid.UUID` objects row by row: PostgreSQL casts it to its
    canonical form; SQLite's stored 32 hex digits come as they are (dashing them in SQL costs more
    than the whole query): `canonical_ids` finishes them for a response."""
    return cast(column, Text) if dialect == "postgresql" else type_coerce(column, String)


def canonical_ids(values: Sequence[str | None]) -> list[str | None]:
    """`Series` ids as canonical UUID text (`8-4-4-4-12`)."""
    return [
        v if v is None or len(v) == 36 else f"{v[:8]}-{v[8:12]}-{v[12:16]}-{v[16:20]}-{v[20:]}"
        for v in values
    ]


def delete_analysis(session: Session, store: FileStore, record: AnalysisRecord) -> None:
    """Delete one analysis and its files, unless another analysis references them (module doc)."""
    files = _files_of([(record.photo_sha256, record.overlay_sha256)])
    _begin_write(session)
    # The subject's row lock first, as uploads take it, then the rows the regrouping touches.
    _bump_history(session, record.subject_id)
    where = AnalysisRecord.id == record.id
    shot = session.execute(
        select(AnalysisRecord.taken_at, AnalysisRecord.visit_id, AnalysisRecord.visit_label).where(where)
    ).first()
    if shot is None or not session.execute(delete(AnalysisRecord).where(where)).rowcount:
        session.rollback()  # deleted meanwhile, by another request
        return
    visits.regroup(
        session,
        record.subject_id,
        record.mode,
        around=[shot.taken_at],
        labels=[shot.visit_label],
        visits=[shot.visit_id],
    )
    outbox = _enqueue(session, files)
    session.commit()
    _drain_now(session, store, outbox)


# --- re-dating, visit labels and re-analysis ------------------------------------------------------

_UNSET: Any = object()


def update_analysis(
    session: Session, record: AnalysisRecord, *, taken_at: datetime | None = None, visit: Any = _UNSET
) -> AnalysisRecord | None:
    """Re-date an analysis (`taken_at`) and/or set its visit label (`visit`; None clears it, so the shot
    joins its visit by time again), regrouping the visits it leaves and joins, in one transaction.
    None if the analysis was deleted meanwhile."""
    _begin_write(session)
    if not _bump_history(session, record.subject_id):  # the subject's lock, as for an upload
        session.rollback()
        return None
    current = session.get(AnalysisRecord, record.id, populate_existing=True)
    if current is None:
        session.rollback()
        return None
    before = (current.taken_at, current.visit_label, current.visit_id)
    if taken_at is not None:
        current.taken_at = taken_at
    if visit is not _UNSET:
        current.visit_label = visit
    visits.regroup(
        session,
        current.subject_id,
        current.mode,
        around=[before[0], current.taken_at],
        labels=[before[1], current.visit_label],
        visits=[before[2]],
    )
    session.commit()
    return current


@dataclass(frozen=True)
class Reanalysable:
    """An analysis a re-analysis may re-run: where its photo is and which method made it."""

    id: uuid.UUID
    subject_id: uuid.UUID
    photo_sha256: str | None
    method: str


def reanalysis_candidates(
    session: Session, subject_ids: Sequence[uuid.UUID] | None, current_method: str, *, force: bool = False
) -> list[Reanalysable]:
    """Analyses of `subject_ids` (None: every subject) not made by `current_method` (all with
    `force`), subject by subject in time order. Those already re-analysed are left out, so an
    interrupted run resumes where it stopped."""
    a = AnalysisRecord
    query = select(a.id, a.subject_id, a.photo_sha256, a.method)
    if subject_ids is not None:
        query = query.where(a.subject_id.in_(list(subject_ids)))
    if not force:
        query = query.where(a.method != current_method)
    rows = session.execute(query.order_by(a.subject_id, a.taken_at, a.id)).all()
    session.rollback()  # a long re-analysis must not hold a read transaction open
    return [Reanalysable(*row) for row in rows]


def mark_reanalysis_skipped(session: Session, analysis_id: uuid.UUID, reason: str) -> None:
    """Record why a re-analysis kept this analysis as it was (`AnalysisRecord.reanalysis_skipped`)."""
    session.execute(
        update(AnalysisRecord)
        .where(AnalysisRecord.id == analysis_id)
        .values(reanalysis_skipped=reason)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def replace_analysis(
    session: Session, store: FileStore, analysis_id: uuid.UUID, outcome: JobResult
) -> AnalysisRecord | None:
    """Replace an analysis's document (and packed values, method and overlay) with `outcome`, a
    re-analysis of its stored photo, in one transaction: id, time and visit stay. The new overlay is
    stored first and the old one removed after the commit unless still used (module doc). None if the
    analysis was deleted meanwhile."""
    subject_id = session.scalar(select(AnalysisRecord.subject_id).where(AnalysisRecord.id == analysis_id))
    with files_first(session, store, [(FileKind.OVERLAY, outcome.overlay_png)]) as staged:
        record = None
        if subject_id is not None and _bump_history(session, subject_id):
            record = session.get(AnalysisRecord, analysis_id, populate_existing=True)
        if record is None:
            staged.abandon()
            return None
        staged.restore()
        document = json.loads(outcome.analysis.model_dump_json())
        old_overlay = record.overlay_sha256
        record.document.result = document
        record.series_layout = LAYOUT
        record.series = pack(document["measures"], document["scores"])
        record.method = method_key(document.get("versions"))
        record.reanalysis_skipped = None
        new_overlay = staged.digests.get(FileKind.OVERLAY)
        if new_overlay is not None:
            record.overlay_sha256 = new_overlay
        stale = (
            {(FileKind.OVERLAY, old_overlay)}
            if old_overlay and old_overlay != record.overlay_sha256
            else set()
        )
        outbox = _enqueue(session, stale)
        session.commit()
    _drain_now(session, store, outbox)
    return record


def history_version(session: Session, subject_id: uuid.UUID) -> int | None:
    """The subject's `history_version` as committed now; None if the subject is gone."""
    return session.scalar(select(Subject.history_version).where(Subject.id == subject_id))


def _bump_history(session: Session, subject_id: uuid.UUID) -> bool:
    """Increment the subject's history version; False if the subject no longer exists."""
    result = session.execute(
        update(Subject)
        .where(Subject.id == subject_id)
        .values(history_version=Subject.history_version + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


# --- file references and the outbox ---------------------------------------------------------------

FileRef = tuple[FileKind, str]
_OUTBOX_BATCH = 64  # files locked, checked and removed per transaction


def _files_of(rows: Iterable[tuple[str | None, str | None]]) -> set[FileRef]:
    files: set[FileRef] = set()
    for photo, overlay in rows:
        if photo:
            files.add((FileKind.PHOTO, photo))
        if overlay:
            files.add((FileKind.OVERLAY, overlay))
    return files


# Every column that references a stored file, by kind: a file none of them names is unreferenced.
_REFERENCES: dict[FileKind, tuple[Any, ...]] = {
    FileKind.PHOTO: (AnalysisRecord.photo_sha256,),
    FileKind.OVERLAY: (AnalysisRecord.overlay_sha256, Movement.deepest_sha256),
    FileKind.CLIP: (Movement.clip_sha256, MovementJob.clip_sha256),
}


def referenced_files(session: Session, files: Iterable[FileRef]) -> set[FileRef]:
    """Those of `files` that some analysis, movement or unfinished movement job references."""
    wanted = set(files)
    found: set[FileRef] = set()
    for kind in FileKind:
        digests = sorted(d for k, d in wanted if k is kind)
        for column in _REFERENCES[kind]:
            for start in range(0, len(digests), 500):
                chunk = digests[start : start + 500]
                hits = session.scalars(select(column).where(column.in_(chunk)).distinct())
                found.update((kind, digest) for digest in hits)
    return found


def movement_files(session: Session, subject_ids: Sequence[uuid.UUID]) -> set[FileRef]:
    """The files of the movements and movement jobs of `subject_ids` (for their deletion's outbox)."""
    files: set[FileRef] = set()
    if not subject_ids:
        return files
    ids = list(subject_ids)
    rows = session.execute(
        select(Movement.clip_sha256, Movement.deepest_sha256).where(Movement.subject_id.in_(ids))
    ).all()
    for clip, deepest in rows:
        if clip:
            files.add((FileKind.CLIP, clip))
        if deepest:
            files.add((FileKind.OVERLAY, deepest))
    jobs = session.scalars(select(MovementJob.clip_sha256).where(MovementJob.subject_id.in_(ids)))
    files.update((FileKind.CLIP, clip) for clip in jobs if clip)
    return files


def remove_unreferenced(
    session: Session, store: FileStore, files: Iterable[FileRef], *, locked: bool = False
) -> tuple[set[FileRef], set[FileRef]]:
    """Remove those of `files` that no analysis references, under their locks: (removed, failed).
    `locked`: the caller's transaction holds the locks already (and ends it); otherwise this takes them
    in a transaction of its own, which writes nothing."""
    files = set(files)
    removed: set[FileRef] = set()
    failed: set[FileRef] = set()
    if not files:
        return removed, failed
    if not locked:
        _begin_write(session, (digest for _, digest in files))
    try:
        for ref in sorted(files - referenced_files(session, files)):
            try:
                store.delete(*ref)
            except Exception:
                log.warning("could not remove %s %s from %s", ref[0].value, ref[1], store.url, exc_info=True)
                failed.add(ref)
            else:
                removed.add(ref)
    finally:
        if not locked:
            session.rollback()  # nothing was written: this only releases the locks
    return removed, failed


FileData = bytes | SpooledFile
"""A file to store: bytes, or an upload spooled to disk (a clip), copied a chunk at a time."""


class StagedFiles:
    """Files put in the store ahead of the row that will reference them (`files_first`)."""

    def __init__(self, session: Session, store: FileStore, files: Iterable[tuple[FileKind, FileData | None]]):
        self._session, self._store = session, store
        self.files = [(kind, data) for kind, data in files if data is not None]
        self.digests: dict[FileKind, str] = {
            kind: data.digest if isinstance(data, SpooledFile) else sha256_hex(data)
            for kind, data in self.files
        }
        self.written: set[FileRef] = set()

    def abandon(self) -> None:
        """The row will not be written (what it belongs to is gone): remove the files that no row
        references and end the transaction."""
        remove_unreferenced(self._session, self._store, self.written, locked=True)
        self._session.rollback()

    def restore(self) -> None:
        """Under the locks: put back a file that a sweep removed since it was written."""
        for kind, data in self.files:
            if not self._store.exists(kind, self.digests[kind]):
                self._store.put_any(kind, data)


@contextmanager
def files_first(
    session: Session,
    store: FileStore,
    files: Iterable[tuple[FileKind, FileData | None]],
    *,
    also_lock: Iterable[str] = (),
) -> Iterator[StagedFiles]:
    """The write rule of the module doc, in one place: store `files` (None entries skipped), then run
    the body in a write transaction holding their locks and those of `also_lock`. The body checks that
    what its row belongs to still exists (else `abandon()` and return), calls `restore()`, adds its rows
    and commits. An exception anywhere rolls back and removes the files no row references."""
    staged = StagedFiles(session, store, files)
    try:
        for kind, data in staged.files:
            store.put_any(kind, data)
            staged.written.add((kind, staged.digests[kind]))
    except BaseException:
        _discard(session, store, staged.written)
        raise
    try:
        _begin_write(session, [*staged.digests.values(), *also_lock])
        yield staged
    except BaseException:
        session.rollback()
        _discard(session, store, staged.written)
        raise


def _discard(session: Session, store: FileStore, files: set[FileRef]) -> None:
    """After a failed write: remove the files it stored, if nothing references them. Best effort (the
    database may be what failed): what stays is swept later as unreferenced."""
    if not files:
        return
    try:
        session.rollback()
        remove_unreferenced(session, store, files)
    except Exception:
        log.warning("files of a failed upload left for the sweep", exc_info=True)
        session.rollback()


def _enqueue(session: Session, files: set[FileRef]) -> list[FileOutbox]:
    entries = [FileOutbox(kind=kind.value, sha256=digest) for kind, digest in sorted(files)]
    session.add_all(entries)
    session.flush()  # ids, for draining exactly these entries after the commit
    return entries


@dataclass
class OutboxResult:
    entries: int = 0
    removed: int = 0
    """Files removed."""
    kept: int = 0
    """Files still referenced by another analysis (shared by content), so kept."""
    failed: int = 0
    """Files the store could not remove (their entries stay, for the next sweep)."""


def drain_outbox(
    session: Session,
    store: FileStore,
    ids: Sequence[int] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> OutboxResult:
    """Remove the outbox's files that no analysis references, then their entries (all entries, or
    those of `ids`). Entries are dropped by id, never by hash: an entry that a concurrent deletion adds
    for the same file after the reference check is left for its own turn."""
    result = OutboxResult()
    last_id = 0
    while not should_stop():
        query = select(FileOutbox.id, FileOutbox.kind, FileOutbox.sha256).where(FileOutbox.id > last_id)
        if ids is not None:
            query = query.where(FileOutbox.id.in_(list(ids)))
        batch = session.execute(query.order_by(FileOutbox.id).limit(_OUTBOX_BATCH)).all()
        session.rollback()  # end the read: _begin_write takes the locks first
        if not batch:
            break
        last_id = batch[-1][0]
        files = {(FileKind(kind), digest) for _, kind, digest in batch}
        _begin_write(session, (digest for _, digest in files))
        try:
            removed, failed = remove_unreferenced(session, store, files, locked=True)
            done = [i for i, kind, digest in batch if (FileKind(kind), digest) not in failed]
            retry = [i for i, kind, digest in batch if (FileKind(kind), digest) in failed]
            if done:
                session.execute(delete(FileOutbox).where(FileOutbox.id.in_(done)))
            if retry:
                session.execute(
                    update(FileOutbox)
                    .where(FileOutbox.id.in_(retry))
                    .values(attempts=FileOutbox.attempts + 1)
                    .execution_options(synchronize_session=False)
                )
            session.commit()
        except BaseException:
            session.rollback()
            raise
        result.entries += len(batch)
        result.removed += len(removed)
        result.failed += len(failed)
        result.kept += len(files) - len(removed) - len(failed)
        if ids is not None and len(batch) < _OUTBOX_BATCH:
            break
    return result


def _drain_now(session: Session, store: FileStore, outbox: list[FileOutbox]) -> None:
    """Remove a deletion's files right after its commit. Best effort: the deletion itself is durable,
    and whatever this cannot do now (store unreachable, a crash) the next sweep does."""
    if not outbox:
        return
    try:
        drain_outbox(session, store, [entry.id for entry in outbox])
    except Exception:
        session.rollback()
        log.warning("removal of deleted files left to the sweep", exc_info=True)


def _begin_write(session: Session, digests: Iterable[str] = ()) -> None:
    """Start a write transaction holding the locks of `digests` until it ends (see module doc)."""
    session.commit()  # end any read transaction: the lock must be the transaction's first statement
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("BEGIN IMMEDIATE"))
        return
    for digest in sorted(set(digests)):
        key = int.from_bytes(bytes.fromhex(digest[:16]), "big", signed=True)
        session.execute(select(func.pg_advisory_xact_lock(key)))
