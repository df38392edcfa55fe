"""Storage behind one small interface: accounts and keys, subjects, analyses and their stored files.

Every query that takes a `user` is scoped to that account: another account's ids are simply not found.

Files and rows stay consistent across threads and processes with one rule: whoever writes a file for a
new row, or removes a file no row references any more, holds a lock on that file's hash for the
duration (a PostgreSQL advisory lock; on SQLite the database write lock, `BEGIN IMMEDIATE`). An upload
writes its files before committing its row, so a crash leaves at most an unreferenced file, never a
row without its file.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Row, String, delete, func, select, text, type_coerce, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.security import key_lookup, key_matches, new_api_key
from app.storage.files import FileKind, FileStore, sha256_hex
from app.storage.models import AnalysisDocument, AnalysisRecord, ApiKey, Subject, User, utcnow
from app.storage.series import LAYOUT, pack, row_from_document, unpack
from posture.trends import TRACKED
from posture.worker import JobResult


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
    keys = select(func.count()).where(ApiKey.user_id == User.id).scalar_subquery()
    return session.execute(select(User, keys).order_by(User.name)).all()


def authenticate(session: Session, key: str) -> User | None:
    lookup = key_lookup(key)
    if lookup is None:
        return None
    api_key = session.scalar(select(ApiKey).where(ApiKey.lookup == lookup))
    if api_key is None or not key_matches(key, api_key.key_sha256):
        return None
    return api_key.user


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


def create_subject(session: Session, user: User, name: str, notes: str | None) -> Subject:
    now = utcnow()
    subject = Subject(user_id=user.id, name=name, notes=notes, created_at=now, updated_at=now)
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
    session.execute(delete(AnalysisRecord).where(AnalysisRecord.subject_id == subject.id))
    session.delete(subject)
    session.commit()
    _remove_unreferenced(session, store, files)
    return True


# --- analyses -------------------------------------------------------------------------------------


def add_analysis(
    session: Session,
    store: FileStore,
    subject_id: uuid.UUID,
    outcome: JobResult,
    taken_at: datetime,
) -> AnalysisRecord | None:
    """Store an accepted analysis (and its files, if the outcome carries them); None if the subject
    was deleted meanwhile, in which case nothing is stored."""
    files: list[tuple[FileKind, bytes]] = []
    if outcome.photo_jpeg is not None:
        files.append((FileKind.PHOTO, outcome.photo_jpeg))
    if outcome.overlay_png is not None:
        files.append((FileKind.OVERLAY, outcome.overlay_png))
    digests = {kind: sha256_hex(data) for kind, data in files}
    _begin_write(session, digests.values())
    # Bumping the version also locks the subject row: a concurrent subject delete waits for this
    # insert instead of failing it, and concurrent uploads to one subject commit one after the other.
    if not _bump_history(session, subject_id):
        session.rollback()
        return None
    try:
        for kind, data in files:
            store.put(kind, data)
        # Through JSON text: NaN and infinities become null, which JSONB requires.
        document = json.loads(outcome.analysis.model_dump_json())
        record = AnalysisRecord(
            subject_id=subject_id,
            taken_at=taken_at,
            mode=document["mode"],
            photo_sha256=digests.get(FileKind.PHOTO),
            overlay_sha256=digests.get(FileKind.OVERLAY),
            series_layout=LAYOUT,
            series=pack(document["measures"], document["scores"]),
            document=AnalysisDocument(result=document),
        )
        session.add(record)
        session.commit()
    except BaseException:
        session.rollback()
        raise
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

    Built for thousands of rows: `taken_at` is a numpy datetime64[us] array (UTC), and `ids` are as the
    driver returns them (UUIDs, or hex text on SQLite), which the response model parses several times
    faster than building `uuid.UUID` objects one by one."""

    ids: list[uuid.UUID | str]
    taken_at: np.ndarray
    values: np.ndarray


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
    taken_at: Any = AnalysisRecord.taken_at
    if session.get_bind().dialect.name == "postgresql":
        taken_at = func.timezone("UTC", taken_at)  # naive UTC, like SQLite's stored text
    # Raw column values (type_coerce: no per-row conversion by SQLAlchemy) through Core, not the ORM:
    # the per-row Python work is what a long history costs, so numpy does the rest in bulk.
    rows = (
        session.connection()
        .execute(
            select(
                type_coerce(AnalysisRecord.id, String),
                type_coerce(taken_at, String),
                AnalysisRecord.series_layout,
                AnalysisRecord.series,
            )
            .where(*where)
            .order_by(AnalysisRecord.taken_at, AnalysisRecord.id)
        )
        .all()
    )
    ids = [row[0] for row in rows]
    times = np.array([row[1] for row in rows], dtype="datetime64[us]")
    current = [i for i, row in enumerate(rows) if row[2] == LAYOUT]
    values = np.full((len(rows), len(TRACKED)), np.nan)
    values[current] = unpack([rows[i][3] for i in current])
    if len(current) < len(rows):  # packed with another list of measures: read those documents
        stale = {uuid.UUID(str(ids[i])): i for i in range(len(rows)) if rows[i][2] != LAYOUT}
        documents = session.execute(
            select(AnalysisDocument.analysis_id, AnalysisDocument.result).where(
                AnalysisDocument.analysis_id.in_(list(stale))
            )
        )
        for analysis_id, result in documents:
            values[stale[analysis_id]] = row_from_document(result)
    return Series(ids, times, values)


def delete_analysis(session: Session, store: FileStore, record: AnalysisRecord) -> None:
    files = _files_of([(record.photo_sha256, record.overlay_sha256)])
    _begin_write(session)
    session.execute(delete(AnalysisRecord).where(AnalysisRecord.id == record.id))
    _bump_history(session, record.subject_id)
    session.commit()
    _remove_unreferenced(session, store, files)


def _bump_history(session: Session, subject_id: uuid.UUID) -> bool:
    """Increment the subject's history version; False if the subject no longer exists."""
    result = session.execute(
        update(Subject)
        .where(Subject.id == subject_id)
        .values(history_version=Subject.history_version + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


# --- file references --------------------------------------------------------------------------------


def _files_of(rows: Iterable[tuple[str | None, str | None]]) -> set[tuple[FileKind, str]]:
    files: set[tuple[FileKind, str]] = set()
    for photo, overlay in rows:
        if photo:
            files.add((FileKind.PHOTO, photo))
        if overlay:
            files.add((FileKind.OVERLAY, overlay))
    return files


def _remove_unreferenced(session: Session, store: FileStore, files: set[tuple[FileKind, str]]) -> None:
    if not files:
        return
    _begin_write(session, (digest for _, digest in files))
    try:
        for kind, digest in sorted(files):
            column = AnalysisRecord.photo_sha256 if kind is FileKind.PHOTO else AnalysisRecord.overlay_sha256
            referenced = session.scalar(select(AnalysisRecord.id).where(column == digest).limit(1))
            if referenced is None:
                store.remove(kind, digest)
    finally:
        session.rollback()  # nothing was written: this only releases the locks


def _begin_write(session: Session, digests: Iterable[str] = ()) -> None:
    """Start a write transaction holding the locks of `digests` until it ends (see module doc)."""
    session.commit()  # end any read transaction: the lock must be the transaction's first statement
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("BEGIN IMMEDIATE"))
        return
    for digest in sorted(set(digests)):
        key = int.from_bytes(bytes.fromhex(digest[:16]), "big", signed=True)
        session.execute(select(func.pg_advisory_xact_lock(key)))
