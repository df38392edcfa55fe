"""Re-analysis: re-run stored photos with the current model and rules, so that a history never mixes
analyses made by two methods.

Each analysis not made by the current method (`posture.trends.method_key`: rules version and model)
is re-run on its stored photo (the metadata-free copy) with the options it was made with, read back
from its document: the mode; a roll the user gave (`camera_level.source == "given"`, or for analyses
from before the level was read from photos, any non-zero `camera_roll_deg`); `level=off` (source
`none` without `camera_level_unknown`); a facing override, where the document shows one
(`facing_override_disagrees`: an override that agreed with the detection leaves no trace, and the
detection finds the same facing again). The result replaces the document in one transaction per
analysis (`repository.replace_analysis`): id, `taken_at`, visit, file name and EXIF time stay.

An analysis whose photo was not stored, or whose file is missing, or that the current method refuses,
keeps its old version and is marked (`reanalysis_skipped`). A run only picks analyses not yet made by
the current method, so an interrupted run resumes where it stopped; `force` re-runs every one.

`Reanalysis` holds one run's bookkeeping; the command line drives it with an in-process
`posture.worker.Worker`, the API with the server's analyzer pool (`reanalyze_async`).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.schemas import MeasureChange, ReanalysisReport
from app.services.inference import Analyzer
from app.storage import repository
from app.storage.files import FileKind, FileStore
from app.storage.models import AnalysisRecord
from posture import trends as stats
from posture.model import PoseModelOptions
from posture.options import AnalysisOptions
from posture.result import ImageInfo
from posture.rules import rules_version
from posture.worker import Job, JobResult

CHANGE_EPSILON = 0.01  # a measure that moved by less than this (rounding) did not change


def current_method(model: PoseModelOptions) -> str:
    """The method a re-analysis now would record: this rules file and this model file."""
    digest = model.expected_sha256
    if digest is None:
        digest = hashlib.sha256(model.model_path.read_bytes()).hexdigest()
    return stats.method_key({"rules": rules_version(), "model_sha256": digest})


def options_for(document: dict[str, object]) -> AnalysisOptions:
    """The options an analysis was made with, as far as its document shows them (module doc)."""
    mode = document.get("mode") if document.get("mode") in ("standing", "lunge") else "standing"
    warnings = document.get("warnings") or []
    level = document.get("camera_level")
    roll: float | None = None
    roll_source = "given"
    level_mode = "auto"
    if isinstance(level, dict):
        if level.get("source") in ("given", "device"):
            given = level.get("roll_deg", document.get("camera_roll_deg"))
            roll = float(given) if isinstance(given, int | float) else None
            roll_source = str(level["source"]) if roll is not None else "given"
        elif level.get("source") == "none" and "camera_level_unknown" not in warnings:  # type: ignore[operator]
            level_mode = "off"
    else:  # made before the level was read from photos: a roll could only have been given
        applied = document.get("camera_roll_deg")
        if isinstance(applied, int | float) and applied:
            roll = float(applied)
    facing = document.get("facing") if "facing_override_disagrees" in warnings else None  # type: ignore[operator]
    return AnalysisOptions(
        facing=facing,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        camera_roll_deg=roll,
        camera_roll_source=roll_source,  # type: ignore[arg-type]
        level=level_mode,  # type: ignore[arg-type]
        overlay=True,
    )


@dataclass
class _Change:
    total: float = 0.0
    n: int = 0
    changed: int = 0


@dataclass
class Reanalysis:
    """One run: `plan()`, then per candidate `prepare()` (a job, or None when it cannot run) and
    `finish()` with the worker's result; `report()` at any time."""

    db: Session
    store: FileStore
    method: str
    candidates: int = 0
    reanalysed: int = 0
    changed: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: {"photo_not_stored": 0, "photo_missing": 0})
    refused: dict[str, int] = field(default_factory=dict)
    gone: int = 0
    _changes: dict[str, _Change] = field(default_factory=lambda: {name: _Change() for name in stats.TRACKED})
    _before: dict[uuid.UUID, dict[str, object]] = field(default_factory=dict)

    def plan(
        self, subject_ids: Sequence[uuid.UUID] | None, *, force: bool = False
    ) -> list[repository.Reanalysable]:
        todo = repository.reanalysis_candidates(self.db, subject_ids, self.method, force=force)
        self.candidates = len(todo)
        return todo

    def prepare(self, candidate: repository.Reanalysable) -> Job | None:
        if candidate.photo_sha256 is None:
            return self._skip(candidate, "photo_not_stored")
        data = self.store.read(FileKind.PHOTO, candidate.photo_sha256)
        if data is None:
            return self._skip(candidate, "photo_missing")
        record = self.db.get(AnalysisRecord, candidate.id)
        document = record.result if record is not None else None
        self.db.rollback()  # the analysis runs outside any transaction
        if document is None:
            self.gone += 1
            return None
        self._before[candidate.id] = document
        return Job(data, document.get("source"), options_for(document))  # type: ignore[arg-type]

    def finish(self, candidate: repository.Reanalysable, outcome: JobResult) -> None:
        before = self._before.pop(candidate.id)
        analysis = outcome.analysis
        if not analysis.ok:
            code = analysis.error.code if analysis.error else "analysis_failed"
            self.refused[code] = self.refused.get(code, 0) + 1
            repository.mark_reanalysis_skipped(self.db, candidate.id, "refused")
            return
        # What the stored copy cannot carry: the file's name and its EXIF capture time.
        old_image = before.get("image") if isinstance(before.get("image"), dict) else {}
        taken = ImageInfo.model_validate({"taken_at": old_image.get("taken_at")}).taken_at  # type: ignore[union-attr]
        analysis = analysis.model_copy(
            update={
                "source": before.get("source"),
                "image": analysis.image.model_copy(update={"taken_at": taken}),
            }
        )
        replaced = repository.replace_analysis(
            self.db,
            self.store,
            candidate.id,
            JobResult(outcome.index, analysis, overlay_png=outcome.overlay_png),
        )
        if replaced is None:
            self.gone += 1
            return
        self.reanalysed += 1
        self._count_changes(before, replaced.result)

    def _skip(self, candidate: repository.Reanalysable, reason: str) -> None:
        self.skipped[reason] += 1
        repository.mark_reanalysis_skipped(self.db, candidate.id, reason)
        return None

    def _count_changes(self, before: dict[str, object], after: dict[str, object]) -> None:
        old = stats.tracked_values(before.get("measures") or {}, before.get("scores") or {})  # type: ignore[arg-type]
        new = stats.tracked_values(after.get("measures") or {}, after.get("scores") or {})  # type: ignore[arg-type]
        moved = False
        for name in stats.TRACKED:
            a, b = old[name], new[name]
            if a is None or b is None:
                moved |= (a is None) != (b is None)
                continue
            change = self._changes[name]
            delta = abs(b - a)
            change.total += delta
            change.n += 1
            if delta > CHANGE_EPSILON:
                change.changed += 1
                moved = True
        self.changed += moved

    def report(self) -> ReanalysisReport:
        return ReanalysisReport(
            method=self.method,
            candidates=self.candidates,
            reanalysed=self.reanalysed,
            changed=self.changed,
            photo_not_stored=self.skipped["photo_not_stored"],
            photo_missing=self.skipped["photo_missing"],
            refused=sum(self.refused.values()),
            gone=self.gone,
            measures={
                name: MeasureChange(
                    n=c.n, mean_abs_change=round(c.total / c.n, 3) if c.n else None, changed=c.changed
                )
                for name, c in self._changes.items()
            },
            refusals=dict(self.refused),
        )


def reanalyze(
    db: Session,
    store: FileStore,
    run: Callable[[Job], JobResult],
    method: str,
    subject_ids: Sequence[uuid.UUID] | None,
    *,
    force: bool = False,
    on_start: Callable[[int], None] = lambda total: None,
    on_done: Callable[[], None] = lambda: None,
) -> ReanalysisReport:
    """Re-analyse one analysis at a time with `run` (a `posture.worker.Worker`'s), for the CLI."""
    job = Reanalysis(db, store, method)
    todo = job.plan(subject_ids, force=force)
    on_start(len(todo))
    for candidate in todo:
        prepared = job.prepare(candidate)
        if prepared is not None:
            job.finish(candidate, run(prepared))
        on_done()
    return job.report()


async def reanalyze_async(
    db: Session,
    store: FileStore,
    analyzer: Analyzer,
    method: str,
    subject_ids: Sequence[uuid.UUID] | None,
    *,
    force: bool = False,
    concurrency: int = 2,
) -> ReanalysisReport:
    """Re-analyse through the server's analyzer pool, `concurrency` photos at once (one session: its
    database steps take turns)."""
    job = Reanalysis(db, store, method)
    todo = await run_in_threadpool(job.plan, subject_ids, force=force)
    turn = asyncio.Lock()
    slots = asyncio.Semaphore(max(1, concurrency))

    async def one(candidate: repository.Reanalysable) -> None:
        async with slots:
            async with turn:
                prepared = await run_in_threadpool(job.prepare, candidate)
            if prepared is None:
                return
            outcome = await analyzer.run(prepared)
            async with turn:
                await run_in_threadpool(job.finish, candidate, outcome)

    tasks = [asyncio.ensure_future(one(c)) for c in todo]
    try:
        await asyncio.gather(*tasks)
    except BaseException:  # a refusal of the pool (busy, unavailable): stop the rest, then answer it
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return job.report()


def summary_lines(report: ReanalysisReport) -> list[str]:
    """The report in words, for the command line."""
    lines = [
        f"{report.candidates} analyses not made by the current method ({report.method}):",
        f"  {report.reanalysed} re-analysed, {report.changed} of them with a changed measure or score",
    ]
    kept = report.photo_not_stored + report.photo_missing + report.refused
    if kept:
        lines.append(
            f"  {kept} kept their old version (marked): {report.photo_not_stored} without a stored photo, "
            f"{report.photo_missing} with the photo file missing, {report.refused} refused now"
            + (
                f" ({', '.join(f'{k} {v}' for k, v in sorted(report.refusals.items()))})"
                if report.refusals
                else ""
            )
        )
    if report.gone:
        lines.append(f"  {report.gone} deleted meanwhile")
    changes = [(name, m) for name, m in report.measures.items() if m.n and m.mean_abs_change]
    if changes:
        lines.append("  mean absolute change per measure (re-analysed analyses that have it):")
        width = max(len(name) for name, _ in changes)
        for name, m in changes:
            lines.append(f"    {name:<{width}}  {m.mean_abs_change:8.3f}  ({m.changed} of {m.n} changed)")
    return lines
