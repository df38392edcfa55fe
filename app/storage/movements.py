"""Movement clips and their jobs in storage: a job from upload to its movement (or its error), the
movements themselves, and their files.

The file rules of `app.storage.repository` (module doc) hold here too, with the same locks and outbox:

- the clip is stored (content-addressed) before the job row that references it commits, and the
  deepest frame's PNG before the movement row; a crash between the two leaves only a file no row
  references, which the sweep removes after its grace period;
- a job ends in one transaction: done (the movement row inserted, the job pointing at it) or failed
  (the error recorded, the clip's reference dropped and the clip put in the outbox, removed unless a
  movement shares it). So there is never a movement without its job's end, nor a job "done" without
  its movement;
- an unfinished job carries its server's heartbeat: one whose heartbeat is older than a few beats was
  interrupted (the server died or restarted) and is failed as `job_interrupted` by whoever looks.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.storage.files import FileKind, FileStore
from app.storage.models import Movement, MovementJob, Subject, User, utcnow
from app.storage.repository import (
    FileData,
    FileRef,
    _begin_write,
    _drain_now,
    _enqueue,
    files_first,
)
from posture.trends import method_key

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
UNFINISHED = (QUEUED, RUNNING)
INTERRUPTED = "job_interrupted"


# --- jobs -------------------------------------------------------------------------------------------


def create_job(
    session: Session,
    store: FileStore,
    subject_id: uuid.UUID,
    clip: FileData,
    *,
    test: str,
    options: dict[str, Any],
    source: str | None,
    taken_at: datetime,
    owner: str,
) -> MovementJob | None:
    """Store the clip (bytes, or the upload spooled to disk, copied a chunk at a time), then a queued
    job referencing it; None (and nothing kept) if the subject was deleted meanwhile."""
    with files_first(session, store, [(FileKind.CLIP, clip)]) as staged:
        if not _lock_subject(session, subject_id):
            staged.abandon()
            return None
        staged.restore()
        now = utcnow()
        job = MovementJob(
            subject_id=subject_id,
            status=QUEUED,
            progress=0.0,
            test=test,
            options=options,
            source=source,
            taken_at=taken_at,
            clip_sha256=staged.digests[FileKind.CLIP],
            owner=owner,
            created_at=now,
            heartbeat_at=now,
        )
        session.add(job)
        session.commit()
    return job


def get_job(session: Session, user: User, job_id: uuid.UUID) -> MovementJob | None:
    return session.scalar(
        select(MovementJob)
        .join(Subject, Subject.id == MovementJob.subject_id)
        .where(MovementJob.id == job_id, Subject.user_id == user.id)
    )


def job_by_id(session: Session, job_id: uuid.UUID) -> MovementJob | None:
    return session.get(MovementJob, job_id, populate_existing=True)


def claim(session: Session, job_id: uuid.UUID, owner: str) -> bool:
    """`owner` (a server process) runs the job from now on; False if it is no longer unfinished (failed
    meanwhile, or its subject deleted). It stays `queued` until its worker reports progress."""
    done = session.execute(
        update(MovementJob)
        .where(MovementJob.id == job_id, MovementJob.status.in_(UNFINISHED))
        .values(owner=owner, heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return bool(done)


def beat(session: Session, progress: dict[uuid.UUID, float | None]) -> None:
    """Renew the heartbeat of these unfinished jobs, and set the progress of those with one (which are
    `running`: their worker has started)."""
    if not progress:
        return
    now = utcnow()
    for job_id, value in progress.items():
        values: dict[str, Any] = {"heartbeat_at": now}
        if value is not None:
            values.update(status=RUNNING, progress=max(0.0, min(1.0, value)))
        session.execute(
            update(MovementJob)
            .where(MovementJob.id == job_id, MovementJob.status.in_(UNFINISHED))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    session.commit()


def finish_job(
    session: Session,
    store: FileStore,
    job_id: uuid.UUID,
    document: dict[str, Any],
    deepest_png: bytes | None,
) -> Movement | None:
    """Store an accepted analysis as the job's movement and mark the job done, in one transaction (the
    deepest frame's PNG written first). None, with nothing kept, if the job is no longer unfinished
    (its subject deleted, or declared interrupted)."""
    found = session.execute(
        select(MovementJob.subject_id, MovementJob.clip_sha256).where(MovementJob.id == job_id)
    ).first()
    session.rollback()
    clip = [found[1]] if found is not None and found[1] else []
    with files_first(session, store, [(FileKind.OVERLAY, deepest_png)], also_lock=clip) as staged:
        # The subject's row first, then the job's: the order a subject's deletion takes them in.
        job = None
        if found is not None and _lock_subject(session, found[0]):
            job = session.get(MovementJob, job_id, populate_existing=True, with_for_update=True)
        if job is None or job.status not in UNFINISHED:
            staged.abandon()
            return None
        staged.restore()
        document = json_safe(document)
        movement = Movement(
            subject_id=job.subject_id,
            test=job.test,
            taken_at=job.taken_at,
            source=job.source,
            clip_sha256=job.clip_sha256,
            deepest_sha256=staged.digests.get(FileKind.OVERLAY),
            method=method_key(document.get("versions")),
            measures=dict(document.get("measures") or {}),
            result=document,
        )
        session.add(movement)
        session.flush()
        now = utcnow()
        job.status, job.progress, job.movement_id = DONE, 1.0, movement.id
        job.clip_sha256 = None  # the movement references the clip now
        job.heartbeat_at = job.finished_at = now
        session.commit()
    return movement


def add_movement(
    session: Session,
    store: FileStore,
    subject_id: uuid.UUID,
    document: dict[str, Any],
    *,
    clip: bytes | None,
    deepest_png: bytes | None,
    source: str | None,
    taken_at: datetime,
) -> Movement | None:
    """Store an accepted movement analysed elsewhere (`posture batch --store`), without a job: its
    files first, then its row (module doc). None, with nothing kept, if the subject is gone."""
    with files_first(session, store, [(FileKind.CLIP, clip), (FileKind.OVERLAY, deepest_png)]) as staged:
        if not _lock_subject(session, subject_id):
            staged.abandon()
            return None
        staged.restore()
        document = json_safe(document)
        movement = Movement(
            subject_id=subject_id,
            test=str(document.get("test") or "squat"),
            taken_at=taken_at,
            source=source,
            clip_sha256=staged.digests.get(FileKind.CLIP),
            deepest_sha256=staged.digests.get(FileKind.OVERLAY),
            method=method_key(document.get("versions")),
            measures=dict(document.get("measures") or {}),
            result=document,
        )
        session.add(movement)
        session.commit()
    return movement


def fail_job(session: Session, store: FileStore, job_id: uuid.UUID, code: str, message: str) -> bool:
    """Record the job's error and let go of its clip (removed unless a movement shares it), in one
    transaction; False if it had finished already."""
    found = session.execute(
        select(MovementJob.subject_id, MovementJob.clip_sha256).where(MovementJob.id == job_id)
    ).first()
    session.rollback()
    if found is None:
        return False
    _begin_write(session, [found[1]] if found[1] else [])
    job = None
    if _lock_subject(session, found[0]):
        job = session.get(MovementJob, job_id, populate_existing=True, with_for_update=True)
    if job is None or job.status not in UNFINISHED:
        session.rollback()
        return False
    files = {(FileKind.CLIP, job.clip_sha256)} if job.clip_sha256 else set()
    now = utcnow()
    job.status, job.error_code, job.error_message = FAILED, code, message[:2000]
    job.clip_sha256 = None
    job.heartbeat_at = job.finished_at = now
    outbox = _enqueue(session, files)
    session.commit()
    _drain_now(session, store, outbox)
    return True


def fail_interrupted(
    session: Session,
    store: FileStore,
    stale_before: datetime,
    *,
    owner_gone: Callable[[str], bool] | None = None,
    quiet_before: datetime | None = None,
) -> int:
    """Fail every unfinished job whose server stopped beating before `stale_before`: its server died or
    restarted mid-job. With `owner_gone`, also those silent since `quiet_before` (a few missed beats)
    whose owner it says is gone: a restart is then seen at once rather than after `stale_before`.
    Returns how many."""
    since = max(stale_before, quiet_before) if owner_gone is not None and quiet_before else stale_before
    rows = session.execute(
        select(MovementJob.id, MovementJob.owner, MovementJob.heartbeat_at).where(
            MovementJob.status.in_(UNFINISHED), MovementJob.heartbeat_at < since
        )
    ).all()
    session.rollback()
    stale = [
        job_id
        for job_id, owner, beat_at in rows
        if beat_at < stale_before or (owner_gone is not None and owner_gone(owner or ""))
    ]
    message = (
        "The server analysing this clip stopped before it was done (a restart or a crash); "
        "nothing was kept. Upload the clip again."
    )
    return sum(fail_job(session, store, job_id, INTERRUPTED, message) for job_id in stale)


def json_safe(value: Any) -> Any:
    """`value` with NaN and infinities as None (JSONB refuses them) and tuples as lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _lock_subject(session: Session, subject_id: uuid.UUID) -> bool:
    """Lock the subject's row (a concurrent deletion waits for this write); False if it is gone."""
    found = session.scalar(select(Subject.id).where(Subject.id == subject_id).with_for_update())
    return found is not None


# --- movements --------------------------------------------------------------------------------------


def get_movement(session: Session, user: User, movement_id: uuid.UUID) -> Movement | None:
    return session.scalar(
        select(Movement)
        .join(Subject, Subject.id == Movement.subject_id)
        .where(Movement.id == movement_id, Subject.user_id == user.id)
    )


def list_movements(
    session: Session, subject_id: uuid.UUID, limit: int, offset: int, test: str | None = None
) -> tuple[Sequence[Movement], int]:
    where = [Movement.subject_id == subject_id]
    if test is not None:
        where.append(Movement.test == test)
    rows = session.scalars(
        select(Movement).where(*where).order_by(Movement.taken_at, Movement.id).limit(limit).offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(Movement).where(*where))
    return rows, int(total or 0)


@dataclass(frozen=True)
class MovementPoint:
    id: uuid.UUID
    taken_at: datetime
    measures: dict[str, Any]
    method: str
    withheld: frozenset[str] = frozenset()
    """The measures the library withheld (`MovementAnalysis.withheld`): shown, not scored, not fitted."""


def movement_series(
    session: Session,
    subject_id: uuid.UUID,
    test: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[MovementPoint]:
    """The subject's movements of one test in time order: their headline measures and the names of the
    ones withheld as implausible, not the documents (a result stored before `withheld` existed has none)."""
    where = [Movement.subject_id == subject_id, Movement.test == test]
    if since is not None:
        where.append(Movement.taken_at >= since)
    if until is not None:
        where.append(Movement.taken_at <= until)
    rows = session.execute(
        select(
            Movement.id, Movement.taken_at, Movement.measures, Movement.method, Movement.result["withheld"]
        )
        .where(*where)
        .order_by(Movement.taken_at, Movement.id)
    ).all()
    session.rollback()
    return [MovementPoint(*row[:4], withheld=_names(row[4])) for row in rows]


def _names(value: Any) -> frozenset[str]:
    """A stored list of measure names (anything else, e.g. a missing key, is none)."""
    return frozenset(v for v in value if isinstance(v, str)) if isinstance(value, list) else frozenset()


def delete_movement(session: Session, store: FileStore, movement: Movement) -> bool:
    """Delete a movement; its clip and deepest frame go to the outbox in the same transaction and are
    removed after the commit unless shared (module doc of `app.storage.repository`)."""
    files: set[FileRef] = set()
    if movement.clip_sha256:
        files.add((FileKind.CLIP, movement.clip_sha256))
    if movement.deepest_sha256:
        files.add((FileKind.OVERLAY, movement.deepest_sha256))
    movement_id = movement.id
    _begin_write(session)
    if not session.execute(delete(Movement).where(Movement.id == movement_id)).rowcount:
        session.rollback()  # deleted meanwhile, by another request
        return False
    outbox = _enqueue(session, files)
    session.commit()
    _drain_now(session, store, outbox)
    return True
