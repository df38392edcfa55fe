"""`score()`: photos in, one `BatchResult` per photo out, in input order, on local processes or Ray.

One `posture.worker.Worker` per worker process (or Ray actor); the driver reads the photos and hashes
them (the hash is what a re-run uses to skip photos already in the output). Movement clips among the
inputs go to the same workers as clip jobs (`Worker.run_clip`, local engine): their results carry a
`MovementAnalysis`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ..errors import ErrorCode
from ..model import PoseModelOptions
from ..movement.options import ClipOptions
from ..movement.result import MovementAnalysis
from ..movement.rows import clip_record, flatten_clip
from ..native_logs import native_logs_wanted
from ..options import AnalysisOptions
from ..result import Analysis, ErrorInfo, Versions
from ..rows import analysis_record, flatten_analysis
from ..rules import rules_version
from ..worker import (
    ClipJob,
    ClipResult,
    FailureHandler,
    Job,
    JobResult,
    Worker,
    WorkerConfig,
    default_workers,
    failed_result,
)
from .inputs import BatchItem, SubjectRule, discover, read_clip_job, read_job, resume_key, subject_rule

log = logging.getLogger("posture.batch")

Engine = Literal["local", "ray"]
ENGINES: tuple[Engine, ...] = ("local", "ray")


@dataclass(frozen=True)
class BatchResult:
    """One scored photo: where it came from, its content hash, its analysis (with `overlay_png` when
    overlays were asked for) and, with `keep_photos`, the metadata-free copy of an accepted photo."""

    item: BatchItem
    sha256: str | None
    analysis: Analysis | MovementAnalysis
    photo_jpeg: bytes | None = field(default=None, repr=False)

    @property
    def is_clip(self) -> bool:
        """A movement clip's result (`analysis` is a `MovementAnalysis`, its PNG `deepest_png`)."""
        return isinstance(self.analysis, MovementAnalysis)

    @property
    def source(self) -> str:
        return self.item.source

    @property
    def subject(self) -> str | None:
        return self.item.subject

    @property
    def taken_at(self) -> datetime | None:
        """The manifest's capture time, else the photo's EXIF time."""
        if isinstance(self.analysis, MovementAnalysis):
            return self.item.taken_at
        return self.item.taken_at or self.analysis.image.taken_at

    def row(self) -> dict[str, Any]:
        """The flat CSV row (`posture.rows.CSV_COLUMNS`; a clip's `movement.rows.CLIP_CSV_COLUMNS`)."""
        if isinstance(self.analysis, MovementAnalysis):
            return flatten_clip(self.analysis, sha256=self.sha256, subject=self.subject)
        return flatten_analysis(
            self.analysis, sha256=self.sha256, subject=self.subject, taken_at=self.taken_at
        )

    def record(self) -> dict[str, Any]:
        """The JSONL record: `to_dict()` plus `sha256`, `subject` (and for a photo `taken_at`)."""
        if isinstance(self.analysis, MovementAnalysis):
            return clip_record(self.analysis, sha256=self.sha256, subject=self.subject)
        return analysis_record(
            self.analysis, sha256=self.sha256, subject=self.subject, taken_at=self.taken_at
        )


@dataclass(frozen=True)
class ClipOutcome:
    """A clip job's answer in the shape the run reads (`JobResult`'s fields): its `MovementAnalysis`,
    the deepest frame PNG as `overlay_png`."""

    index: int
    analysis: MovementAnalysis
    overlay_png: bytes | None = field(default=None, repr=False)
    photo_jpeg: None = None
    worker: str = "-"
    peak_rss_mb: float = 0.0


def run_batch_job(worker: Worker, job: Job | ClipJob) -> JobResult | ClipOutcome:
    """The pool's task: a photo through `Worker.run`, a clip through `Worker.run_clip`."""
    if isinstance(job, ClipJob):
        return _clip_outcome(job, worker.run_clip(job))
    return worker.run(job)


def _clip_outcome(job: ClipJob, result: ClipResult) -> ClipOutcome:
    analysis = result.analysis
    if analysis is None:  # the analysis itself broke: a refused result, as for a photo
        error = result.error or ErrorInfo(
            code=ErrorCode.ANALYSIS_FAILED.value, message="The analysis failed."
        )
        analysis = _refused_clip(job, error)
    return ClipOutcome(int(job.key), analysis, result.deepest_png, None, result.worker, result.peak_rss_mb)


def _refused_clip(job: ClipJob, error: ErrorInfo, model_sha256: str | None = None) -> MovementAnalysis:
    from ..analysis import package_version

    test = job.options.safe_test if job.options is not None else "squat"
    versions = Versions(package=package_version(), model_sha256=model_sha256, rules=rules_version())
    return MovementAnalysis(source=job.source, status="rejected", error=error, test=test, versions=versions)


@dataclass
class RunStats:
    """Filled in by `score()` as it runs: counts, and each worker's peak resident memory (MiB)."""

    scored: int = 0
    rejected: int = 0
    skipped: int = 0  # resume keys given in `skip` (already in the output)
    repeated: int = 0  # same content (or same unreadable path) as an earlier photo of this run
    failed: int = 0  # worker crashes and unexpected errors (also counted in `rejected`)
    worker_peak_rss_mb: dict[str, float] = field(default_factory=dict)


def score(
    inputs: Iterable[str | os.PathLike[str] | BatchItem],
    options: AnalysisOptions | None = None,
    *,
    workers: int | None = None,
    engine: Engine = "local",
    address: str | None = None,
    subject_from: str | SubjectRule | None = None,
    keep_photos: bool = False,
    skip: Iterable[str] = (),
    on_skip: Callable[[BatchItem], None] | None = None,
    model_options: PoseModelOptions | None = None,
    max_pending: int | None = None,
    stats: RunStats | None = None,
    clip_options: ClipOptions | None = None,
) -> Iterator[BatchResult]:
    """Score photos (and movement clips) in parallel and yield one `BatchResult` per input, in order.

    Clips (MP4, MOV, WebM) are analysed with `clip_options` (default: the squat); only the local
    engine scores them (`engine="ray"` with clips raises `ValueError`).

    `inputs`: photo files, folders (searched recursively for photo types), CSV manifests, or
    `BatchItem`s from `discover()`. `options`: how to analyse each photo (`AnalysisOptions`).
    `workers`: processes (local) or actors (Ray); default one per CPU. `engine="ray"` connects to
    `address` (`auto`, `ray://head:10001`) or starts a local Ray. `subject_from`: `"folder"`,
    `"regex:PATTERN"` or a function of the item. `keep_photos`: make the metadata-free copy of each
    accepted photo in the workers (`BatchResult.photo_jpeg`), as the history stores it.

    Photos whose resume key (content hash, or path when unreadable) is in `skip`, or repeats an
    earlier photo of this run, are not scored: `on_skip(item)` is called instead. A rejected photo
    is a result with `status == "rejected"`; nothing about a single photo raises. A damaged model
    raises `ModelIntegrityError`; Ray missing or unreachable raises `EngineUnavailableError`.

    Close the iterator (or exhaust it) to stop the workers; breaking out of a `for` loop over it in
    CPython closes it when it is garbage-collected, `contextlib.closing` makes that immediate.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if workers is not None and workers < 1:
        raise ValueError("workers must be at least 1")
    if address is not None and engine != "ray":
        raise ValueError("address is only used by the Ray engine")
    rule = subject_from if callable(subject_from) else subject_rule(subject_from)
    items = _items(inputs, rule)
    if engine == "ray" and any(item.is_clip for item in items):
        raise ValueError("movement clips are scored by the local engine only")
    run = _Run(
        items,
        options or AnalysisOptions(),
        clip_options or ClipOptions(),
        WorkerConfig(model=model_options or PoseModelOptions(), mute_native_startup=not native_logs_wanted()),
        keep_photos,
        frozenset(skip),
        on_skip,
        stats if stats is not None else RunStats(),
    )
    return run.results(engine, workers, address, max_pending)


def _items(inputs: Iterable[str | os.PathLike[str] | BatchItem], rule: SubjectRule | None) -> list[BatchItem]:
    given = list(inputs)
    if all(isinstance(x, BatchItem) for x in given):
        return given  # type: ignore[return-value]
    items: list[BatchItem] = []
    for x in given:
        items.extend([x] if isinstance(x, BatchItem) else discover([x], rule))
    return items


@dataclass
class _Run:
    items: list[BatchItem]
    options: AnalysisOptions
    clip_options: ClipOptions
    config: WorkerConfig
    keep_photos: bool
    skip: frozenset[str]
    on_skip: Callable[[BatchItem], None] | None
    stats: RunStats
    hashes: dict[int, str | None] = field(default_factory=dict)  # job index -> hash, until yielded

    def jobs(self) -> Iterator[Job | ClipJob]:
        seen: set[str] = set()
        for index, item in enumerate(self.items):
            job: Any = (
                read_clip_job(index, item, self.clip_options)
                if item.is_clip
                else read_job(index, item, self.options, keep_photo=self.keep_photos)
            )
            key = resume_key(job.sha256, item.source)
            if key in self.skip or key in seen:
                if key in self.skip:
                    self.stats.skipped += 1
                else:
                    self.stats.repeated += 1
                if self.on_skip is not None:
                    self.on_skip(item)
                continue
            seen.add(key)
            self.hashes[index] = job.sha256
            yield job.job

    def on_failure(self, job: Job | ClipJob, detail: str, *, crashed: bool) -> JobResult | ClipOutcome:
        log.error("%s: %s", job.source, detail)
        self.stats.failed += 1
        sha = self.config.model.expected_sha256
        if isinstance(job, ClipJob):
            what = "The worker analysing this clip stopped" if crashed else "The clip's analysis failed"
            error = ErrorInfo(
                code=ErrorCode.ANALYSIS_FAILED.value, message=f"{what} unexpectedly; this is a bug."
            )
            return ClipOutcome(int(job.key), _refused_clip(job, error, sha))
        return failed_result(job, crashed=crashed, model_sha256=sha)

    def results(
        self, engine: Engine, workers: int | None, address: str | None, max_pending: int | None
    ) -> Iterator[BatchResult]:
        # Start no workers (seconds of model loading, or a Ray cluster) when every photo is skipped.
        first, pending = _peek(self.jobs())
        if first is None:
            return
        if engine == "ray":
            from .ray_engine import ray_imap

            results = ray_imap(
                pending,
                config=self.config,
                on_failure=self.on_failure,
                actors=workers,
                address=address,
                max_pending=max_pending,
            )
        else:
            results = _local_imap(
                pending, self.config, workers or default_workers(), self.on_failure, max_pending
            )
        stats = self.stats
        with contextlib.closing(results):
            for result in results:
                stats.scored += 1
                stats.rejected += not result.analysis.ok
                if result.worker != "-":
                    peak = stats.worker_peak_rss_mb.get(result.worker, 0.0)
                    stats.worker_peak_rss_mb[result.worker] = max(peak, result.peak_rss_mb)
                analysis = result.analysis
                if result.overlay_png is not None:
                    png_field = "deepest_png" if isinstance(analysis, MovementAnalysis) else "overlay_png"
                    analysis = analysis.model_copy(update={png_field: result.overlay_png})
                yield BatchResult(
                    self.items[result.index], self.hashes.pop(result.index), analysis, result.photo_jpeg
                )


def _local_imap(
    jobs: Iterable[Job],
    config: WorkerConfig,
    workers: int,
    on_failure: FailureHandler,
    max_pending: int | None,
) -> Iterator[JobResult]:
    from .local import ProcessPool

    with ProcessPool(workers, Worker, config, run_batch_job) as pool:
        yield from pool.imap(jobs, on_failure=on_failure, max_pending=max_pending)


def _peek(jobs: Iterable[Job]) -> tuple[Job | None, Iterator[Job]]:
    """The first job (None if there is none) and an iterator that still yields it."""
    it = iter(jobs)
    first = next(it, None)
    return first, it if first is None else itertools.chain([first], it)
