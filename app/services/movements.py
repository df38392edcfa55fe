"""Movement tests in the service: a clip upload becomes a job, the job runs `posture.analyze_clip` on the
inference pool in the background, and its end is a movement (or the library's error code).

`MovementJobs` is the server process's runner (one per app, `app.state.movements`):

- `submit` starts a job's task; the task claims the job, analyses the clip on a worker (which reports
  its progress: the job is `running` from the first report) and ends the job in one transaction
  (`app.storage.movements`);
- a heartbeat loop writes the progress of this process's jobs and renews their heartbeat every
  `HEARTBEAT_S`, and fails the jobs of any server that stopped beating (`settings.job_stale_s`): a
  restart or a `kill -9` never leaves a job "running" for ever. The same check runs at start-up, and
  on every poll of an unfinished job;
- at shutdown, the jobs still running are failed as `job_interrupted` at once.

The rest is what the routes call: the upload, lookups answering 404, and the history views (trends of
a test's measures beside the standing photos', and the comparison of two movements).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from fastapi import UploadFile
from sqlalchemy.orm import Session

from app.core.db import Database
from app.core.errors import ApiError, ServiceUnavailable
from app.core.settings import Settings
from app.schemas import (
    ErrorInfo,
    MovementComparison,
    MovementDifference,
    MovementJobOut,
    MovementMeasureTrend,
    MovementTrends,
    StandingBeside,
    StoredMovement,
)
from app.services.inference import Analyzer
from app.services.records import subject_or_404
from app.services.uploads import check_part_type
from app.storage import movements as storage
from app.storage import repository
from app.storage.files import FileKind, FileStore, SpooledFile
from app.storage.models import Movement, MovementJob, User, utcnow
from posture import trends as stats
from posture.worker import ClipJob, ClipResult

log = logging.getLogger(__name__)

HEARTBEAT_S = 1.0  # progress reaches pollers this often; a row update per running job
# Beats a job of a server known to be gone must have missed before it is failed: a live server of this
# machine whose pid this process cannot see (another pid namespace) still beats within them.
QUIET_BEATS = 3
ACCEPTED_CLIP_TYPES = ("video/", "application/octet-stream")
# Standing measures shown beside a movement's trend: what the issue reads them against.
STANDING_BESIDE = ("pelvic_tilt_deg",)


class MovementJobs:
    """Runs this server process's movement jobs (module doc)."""

    def __init__(self, db: Database, store: FileStore, analyzer: Analyzer, settings: Settings) -> None:
        self.db = db
        self.store = store
        self.analyzer = analyzer
        self.stale_s = settings.job_stale_s
        self.max_jobs = settings.clip_workers + settings.max_queued_clips
        self._host, self._token = socket.gethostname()[:100], uuid.uuid4().hex[:8]
        self.owner = f"{self._host}:{os.getpid()}:{self._token}"
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._progress: dict[uuid.UUID, float | None] = {}
        self._beating: asyncio.Task[None] | None = None

    # --- life cycle ---

    async def start(self) -> None:
        await asyncio.to_thread(self.fail_stale)
        self._beating = asyncio.create_task(self._beat_forever(), name="movement-heartbeat")

    async def stop(self) -> None:
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
        running = list(self._tasks.items())
        for _, task in running:
            task.cancel()
        for job_id, task in running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await asyncio.to_thread(self._fail, job_id, storage.INTERRUPTED, _STOPPED)

    def fail_stale(self) -> int:
        """Fail the unfinished jobs of servers that stopped beating, and at once those of a server of
        this machine that is gone (its process ended, or this process is its restart); how many."""
        now = utcnow()
        with self.db.session() as session:
            count = storage.fail_interrupted(
                session,
                self.store,
                now - timedelta(seconds=self.stale_s),
                owner_gone=self._owner_gone,
                quiet_before=now - timedelta(seconds=QUIET_BEATS * HEARTBEAT_S),
            )
        if count:
            log.warning("%d movement job(s) interrupted by a server stop were marked failed", count)
        return count

    def _owner_gone(self, owner: str) -> bool:
        """Whether the server process named `owner` (host:pid:token) is known to have ended: it ran on
        this machine, and its pid is ours with another token (a restart that got the same pid, as a
        container's first process does) or no longer exists. Anything else (another machine, a pid
        that exists) is left to the heartbeat's staleness."""
        host, _, rest = owner.partition(":")
        pid_text, _, token = rest.partition(":")
        if host != self._host or not pid_text.isdigit() or owner == self.owner:
            return False
        pid = int(pid_text)
        if pid == os.getpid():
            return token != self._token
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # exists, another user's
            return False
        return False

    async def _beat_forever(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            beats += 1
            try:
                progress = {job_id: self._progress.get(job_id) for job_id in self._tasks}
                await asyncio.to_thread(self._beat, progress)
                if beats * HEARTBEAT_S >= self.stale_s / 2:
                    beats = 0
                    await asyncio.to_thread(self.fail_stale)
            except Exception:  # the database may be down for a moment: beat again next time
                log.warning("movement job heartbeat failed", exc_info=True)

    def _beat(self, progress: dict[uuid.UUID, float | None]) -> None:
        with self.db.session() as session:
            storage.beat(session, progress)

    # --- jobs ---

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def owns(self, job_id: uuid.UUID) -> bool:
        return job_id in self._tasks

    def check_capacity(self) -> None:
        if self.analyzer.state == "unavailable":
            raise ServiceUnavailable(
                "model_unavailable", f"The pose model is not available: {self.analyzer.detail}"
            )
        if len(self._tasks) >= self.max_jobs:
            raise ServiceUnavailable("busy", "Too many clips are being analysed; retry in a moment.")

    def submit(self, job: MovementJob) -> None:
        task = asyncio.create_task(self._run(job.id), name=f"movement-job-{job.id}")
        self._tasks[job.id] = task
        self._progress[job.id] = None
        task.add_done_callback(lambda _: self._forget(job.id))

    def _forget(self, job_id: uuid.UUID) -> None:
        self._tasks.pop(job_id, None)
        self._progress.pop(job_id, None)

    async def wait(self, job_id: uuid.UUID) -> None:
        """Until the job's task has ended (tests)."""
        task = self._tasks.get(job_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)

    async def _run(self, job_id: uuid.UUID) -> None:
        try:
            job = await asyncio.to_thread(self._start_job, job_id)
            if job is None:
                return  # failed or deleted meanwhile
            with _local_copy(self.store, job.clip_sha256) as path:
                if path is None:
                    await asyncio.to_thread(
                        self._fail, job_id, "clip_missing", "The stored clip is missing from the file store."
                    )
                    return
                # The worker reads the clip from the store's path; the client's name (or none) is the
                # result's `source`, never that path (issue 23: it leaked the data directory).
                clip_job = ClipJob(
                    path, clip_options(job.test, job.options), job.source or "", key=job_id.hex
                )
                outcome = await self.analyzer.run_clip(clip_job, self._reporter(job_id))
                if outcome.analysis is not None:
                    analysis = outcome.analysis.model_copy(update={"source": job.source})
                    outcome = replace(outcome, analysis=analysis)
            await asyncio.to_thread(self._end, job_id, outcome)
        except asyncio.CancelledError:
            raise
        except ServiceUnavailable as exc:
            message = _STOPPED if exc.code == storage.INTERRUPTED else exc.message
            await asyncio.to_thread(self._fail, job_id, exc.code, message)
        except Exception:
            log.exception("movement job %s failed", job_id)
            await asyncio.to_thread(
                self._fail,
                job_id,
                "analysis_failed",
                "The clip's analysis failed unexpectedly; this is a bug.",
            )

    def _reporter(self, job_id: uuid.UUID) -> Any:
        def report(done: int, total: int) -> None:
            # Called from the pool's listener thread: one assignment, read by the heartbeat.
            if total > 0 and job_id in self._tasks:  # a late report of an ended job is dropped
                self._progress[job_id] = min(0.99, max(0.0, done / total))

        return report

    def _start_job(self, job_id: uuid.UUID) -> MovementJob | None:
        with self.db.session() as session:
            if not storage.claim(session, job_id, self.owner):
                return None
            return storage.job_by_id(session, job_id)

    def _end(self, job_id: uuid.UUID, outcome: ClipResult) -> None:
        analysis = outcome.analysis
        if outcome.error is not None or analysis is None:
            error = outcome.error or ErrorInfo(code="analysis_failed", message="The analysis gave no result.")
            self._fail(job_id, error.code, error.message)
            return
        if analysis.status != "ok":
            error = analysis.error
            code = error.code if error is not None else "analysis_failed"
            message = error.message if error is not None else "The clip was refused."
            self._fail(job_id, code, message)
            return
        document = storage.json_safe(analysis.to_dict())
        with self.db.session() as session:
            storage.finish_job(session, self.store, job_id, document, outcome.deepest_png)

    def _fail(self, job_id: uuid.UUID, code: str, message: str) -> None:
        with self.db.session() as session:
            storage.fail_job(session, self.store, job_id, code, message)


_STOPPED = "The server stopped before this clip was analysed; nothing was kept. Upload the clip again."


def clip_options(test: str, options: dict[str, Any]) -> Any:
    """The library's `ClipOptions` of a job (imported here: the video side loads only for clips)."""
    from posture.movement.options import ClipOptions

    defaults = ClipOptions()
    return ClipOptions(
        test=test,  # type: ignore[arg-type]
        facing=options.get("facing"),
        camera_roll_deg=options.get("camera_roll_deg"),
        mirror_pass=bool(options.get("mirror_pass", False)),
        # Jobs stored before these options existed have none: the library's defaults.
        sample_fps=float(options.get("sample_fps") or defaults.sample_fps),
        level=options.get("level") or defaults.level,
        camera_roll_source=options.get("camera_roll_source") or defaults.camera_roll_source,
        overlay=True,
    )


@contextlib.contextmanager
def _local_copy(store: FileStore, digest: str | None) -> Iterator[Path | None]:
    """A path the worker can read the clip from: the stored file itself, or (object storage) a
    temporary copy streamed to disk and removed after."""
    if digest is None:
        yield None
        return
    download = store.open(FileKind.CLIP, digest)
    if download is None:
        yield None
        return
    if download.path is not None:
        download.close()
        yield download.path
        return
    with tempfile.TemporaryDirectory(prefix="posture-clip-") as tmp:
        path = Path(tmp) / "clip.bin"
        try:
            with path.open("wb") as out:
                for chunk in download.chunks:
                    out.write(chunk)
        finally:
            download.close()
        yield path


# --- what the routes call ---------------------------------------------------------------------------


def clip_file(part: UploadFile) -> BinaryIO:
    """The clip part's file (415 for a part declared as another type), left unread: the multipart parser
    spooled it to a temporary file past 1 MB, and `create_job` copies it into the store a chunk at a
    time, so a clip upload never sits whole in the server's memory. Valid while the form is open."""
    check_part_type(part, ACCEPTED_CLIP_TYPES, "clip", "an MP4, MOV or WebM video")
    return part.file


def create_job(
    db: Session,
    store: FileStore,
    runner: MovementJobs,
    subject_id: uuid.UUID,
    clip: BinaryIO,
    *,
    test: str,
    facing: str | None,
    camera_roll_deg: float | None,
    mirror_pass: bool = False,
    sample_fps: float | None = None,
    level: str = "auto",
    camera_roll_source: str = "given",
    source: str | None,
    taken_at: datetime,
) -> MovementJob:
    spooled = SpooledFile.measure(clip)  # its SHA-256 and size, a chunk at a time
    if spooled.size == 0:
        raise ApiError(422, "clip_unreadable", "The clip is empty.")
    job = storage.create_job(
        db,
        store,
        subject_id,
        spooled,
        test=test,
        options={
            "facing": facing,
            "camera_roll_deg": camera_roll_deg,
            "mirror_pass": mirror_pass,
            "sample_fps": sample_fps,
            "level": level,
            "camera_roll_source": camera_roll_source,
        },
        source=source,
        taken_at=taken_at,
        owner=runner.owner,
    )
    if job is None:
        raise ApiError(404, "subject_not_found", f"Subject {subject_id} was deleted during the upload.")
    return job


def job_or_404(db: Session, user: User, job_id: uuid.UUID, runner: MovementJobs | None = None) -> MovementJob:
    job = storage.get_job(db, user, job_id)
    if job is None:
        raise ApiError(404, "job_not_found", f"No job {job_id}.")
    # Not ours and its server stopped beating: say so now rather than at the next check of stale jobs.
    if (
        runner is not None
        and job.status in storage.UNFINISHED
        and not runner.owns(job.id)
        and utcnow() - job.heartbeat_at > timedelta(seconds=runner.stale_s)
    ):
        db.commit()
        runner.fail_stale()
        db.expire_all()
        job = storage.get_job(db, user, job_id) or job
    return job


def job_out(job: MovementJob) -> MovementJobOut:
    error = ErrorInfo(code=job.error_code, message=job.error_message or "") if job.error_code else None
    return MovementJobOut(
        id=job.id,
        subject_id=job.subject_id,
        status=job.status,  # type: ignore[arg-type]
        progress=round(job.progress, 3),
        test=job.test,  # type: ignore[arg-type]
        source=job.source,
        movement_id=job.movement_id,
        error=error,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


def movement_or_404(db: Session, user: User, movement_id: uuid.UUID) -> Movement:
    movement = storage.get_movement(db, user, movement_id)
    if movement is None:
        raise ApiError(404, "movement_not_found", f"No movement {movement_id}.")
    return movement


def movement_out(movement: Movement) -> StoredMovement:
    result = movement.result or {}
    return StoredMovement(
        id=movement.id,
        subject_id=movement.subject_id,
        test=movement.test,  # type: ignore[arg-type]
        taken_at=movement.taken_at,
        created_at=movement.created_at,
        source=movement.source,
        measures={k: stats.finite_or_none(v) for k, v in (movement.measures or {}).items()},
        reps=len(result.get("reps") or []),
        has_deepest_frame=movement.deepest_sha256 is not None,
        analysis=result,
    )


def trends(
    db: Session,
    user: User,
    subject_id: uuid.UUID,
    test: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> MovementTrends:
    """Each measure of the test over time (one point per movement) with its Theil–Sen slope and the
    library's noise band, and the standing measures of `STANDING_BESIDE` over the same window."""
    subject_or_404(db, user, subject_id)
    points = storage.movement_series(db, subject_id, test, since, until)
    names = sorted({name for p in points for name in p.measures})
    shown = np.array(
        [[stats.finite_or_none(p.measures.get(name)) for name in names] for p in points], dtype=float
    ).reshape(len(points), len(names))
    withheld = np.array([[name in p.withheld for name in names] for p in points], dtype=bool).reshape(
        shown.shape
    )
    times = np.array([_naive(p.taken_at) for p in points], dtype="datetime64[us]")
    noise = _noise_of_latest(db, points)
    table = scored_trend_table(times, shown, withheld, noise, names)
    for entry in table.values():
        for index, at in (
            ("fit_start_index", "fit_start_at"),
            ("fit_end_index", "fit_end_at"),
            ("latest_index", "latest_at"),
        ):
            row = entry.pop(index, None)
            entry[at] = points[row].taken_at if row is not None else None  # type: ignore[index]
    measures = {
        name: MovementMeasureTrend(
            **{**entry, "values": [round(v, 2) if math.isfinite(v) else None for v in entry["values"]]}  # type: ignore[attr-defined]
        )
        for name, entry in table.items()
    }
    return MovementTrends(
        subject_id=subject_id,
        test=test,  # type: ignore[arg-type]
        n=len(points),
        movement_ids=[p.id for p in points],
        taken_at=[p.taken_at for p in points],
        measures=measures,
        standing=_standing(db, subject_id, since, until),
        warnings=[str(w) for w in stats.versions_warnings(p.method for p in points)],
    )


def scored_trend_table(
    times: np.ndarray,
    shown: np.ndarray,
    withheld: np.ndarray,
    noise: dict[str, float],
    names: list[str],
) -> dict[str, dict[str, object]]:
    """`posture.trends.trend_table` over the scored values only: a value the library withheld as outside
    what the test can give (`withheld`, same shape as `shown`) is not fitted, counted or given as the
    latest (a −4.5° lunge peak would otherwise bend the line), but stays in `values`, flagged in
    `withheld`, for the page to show as not scored."""
    if not names:
        return {}
    table = stats.trend_table(times, np.where(withheld, np.nan, shown), noise=noise, names=names)
    for k, name in enumerate(names):
        table[name]["values"] = shown[:, k].tolist()
        table[name]["withheld"] = [bool(w) for w in withheld[:, k]]
    return table


def _noise_of_latest(db: Session, points: list[storage.MovementPoint]) -> dict[str, float]:
    """The noise bands the library gave the latest movement (rules.toml, per measure)."""
    if not points:
        return {}
    movement = db.get(Movement, points[-1].id)
    noise = (movement.result or {}).get("noise") if movement is not None else None
    db.rollback()
    if not isinstance(noise, dict):
        return {}
    return {k: float(v) for k, v in noise.items() if stats.finite_or_none(v) is not None}


def _standing(
    db: Session, subject_id: uuid.UUID, since: datetime | None, until: datetime | None
) -> list[StandingBeside]:
    series = repository.series(db, subject_id, "standing", since, until)
    db.rollback()
    out = []
    floors = stats.noise_levels()
    times = [t.astype("datetime64[us]").item().replace(tzinfo=UTC) for t in series.taken_at]
    for name in STANDING_BESIDE:
        if name not in stats.TRACKED or not len(series.ids):
            continue
        column = series.values[:, stats.TRACKED.index(name)]
        # The same per-day pooled line as the photos' trends (one point per photo here).
        entry = stats.trend_table(
            series.taken_at, column[:, None], noise={name: floors.get(name)}, names=[name]
        )[name]
        start, end = entry["fit_start_index"], entry["fit_end_index"]
        out.append(
            StandingBeside(
                measure=name,
                taken_at=times,
                values=[None if not math.isfinite(v) else round(float(v), 2) for v in column],
                slope_per_30d=entry["slope_per_30d"],  # type: ignore[arg-type]
                fit_start=entry["fit_start"],  # type: ignore[arg-type]
                fit_end=entry["fit_end"],  # type: ignore[arg-type]
                fit_start_at=times[start] if start is not None else None,  # type: ignore[index]
                fit_end_at=times[end] if end is not None else None,  # type: ignore[index]
                change=entry["change"],  # type: ignore[arg-type]
                noise=entry["noise"],  # type: ignore[arg-type]
                beyond_noise=entry["beyond_noise"],  # type: ignore[arg-type]
            )
        )
    return out


def latest(
    db: Session,
    user: User,
    subject_id: uuid.UUID,
    test: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StoredMovement | None:
    """The subject's latest movement of one test in the window (the report's "latest reps")."""
    points = storage.movement_series(db, subject_id, test, since, until)
    return movement_out(movement_or_404(db, user, points[-1].id)) if points else None


def compare(db: Session, user: User, a: uuid.UUID, b: uuid.UUID) -> MovementComparison:
    """b − a for every measure two movements of one test share, against the library's noise band."""
    ma, mb = movement_or_404(db, user, a), movement_or_404(db, user, b)
    if ma.subject_id != mb.subject_id:
        raise ApiError(422, "different_subjects", "Both movements must belong to the same subject.")
    if ma.test != mb.test:
        raise ApiError(422, "different_tests", f"A is a {ma.test} and B a {mb.test}: compare one test.")
    noise = (mb.result or {}).get("noise") or {}
    measures = {}
    for name in sorted(set(ma.measures or {}) | set(mb.measures or {})):
        va, vb = (
            stats.finite_or_none((ma.measures or {}).get(name)),
            stats.finite_or_none((mb.measures or {}).get(name)),
        )
        band = stats.finite_or_none(noise.get(name)) if isinstance(noise, dict) else None
        diff, within = stats.difference(va, vb, band)
        measures[name] = MovementDifference(a=va, b=vb, difference=diff, noise=band, within_noise=within)
    warnings = stats.versions_warnings([ma.method, mb.method])
    return MovementComparison(
        subject_id=ma.subject_id,
        test=ma.test,  # type: ignore[arg-type]
        a=ma.id,
        b=mb.id,
        days_between=round((mb.taken_at - ma.taken_at).total_seconds() / 86400, 2),
        measures=measures,
        warnings=[str(w) for w in warnings],
    )


def delete(db: Session, store: FileStore, movement: Movement) -> None:
    storage.delete_movement(db, store, movement)


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value
