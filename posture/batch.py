"""Batch scoring: folders of photos to CSV or JSON Lines (and the history), in parallel.

    posture batch photos/ manifest.csv --out results.csv --workers 2
    posture batch photos/ --out results.jsonl --engine ray --address auto

From Python (under `if __name__ == "__main__":` in a script: workers are started with `spawn`):

    from posture.batch import score
    for result in score(["photos/"], workers=2):
        print(result.source, result.analysis.status, result.analysis.scores.get("overall"))

One `PoseModel` per worker process (or Ray actor); the driver reads the photos, hashes them (the hash
is what a re-run uses to skip photos already in the output), and writes one row per photo in input
order as results arrive. See docs/batch.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from .analysis import package_version
from .batching.inputs import (
    MANIFEST_EXTENSIONS,
    PHOTO_EXTENSIONS,
    BatchInputError,
    BatchItem,
    Job,
    SubjectRule,
    discover,
    read_job,
    resume_key,
    subject_rule,
)
from .batching.rows import CSV_COLUMNS, analysis_record, flatten_analysis
from .batching.worker import FailureHandler, JobResult, WorkerOptions
from .errors import ErrorCode
from .facing import Facing
from .model import PoseModelOptions
from .result import Analysis, ErrorInfo, Mode, Versions
from .rules import rules_version

__all__ = [
    "CSV_COLUMNS",
    "MANIFEST_EXTENSIONS",
    "PHOTO_EXTENSIONS",
    "BatchInputError",
    "BatchItem",
    "BatchResult",
    "RunStats",
    "discover",
    "flatten_analysis",
    "register",
    "score",
    "store_results",
]

log = logging.getLogger(__name__)

Engine = Literal["local", "ray"]
ENGINES: tuple[Engine, ...] = ("local", "ray")


@dataclass(frozen=True)
class BatchResult:
    """One scored photo: where it came from, its content hash and its analysis."""

    item: BatchItem
    sha256: str | None
    analysis: Analysis
    photo_copy: bytes | None = field(default=None, repr=False)
    """What `photo_copier` made of the photo's bytes (accepted photos only)."""

    @property
    def source(self) -> str:
        return self.item.source

    @property
    def subject(self) -> str | None:
        return self.item.subject

    @property
    def taken_at(self) -> datetime | None:
        """The manifest's capture time, else the photo's EXIF time."""
        return self.item.taken_at or self.analysis.image.taken_at

    def row(self) -> dict[str, Any]:
        """The flat CSV row (`CSV_COLUMNS`)."""
        return flatten_analysis(
            self.analysis, sha256=self.sha256, subject=self.subject, taken_at=self.taken_at
        )

    def record(self) -> dict[str, Any]:
        """The JSONL record: `Analysis.to_dict()` plus `sha256`, `subject` and `taken_at`."""
        return analysis_record(
            self.analysis, sha256=self.sha256, subject=self.subject, taken_at=self.taken_at
        )


@dataclass
class RunStats:
    """Filled in by `score()` as it runs: counts, and each worker's peak resident memory (MiB)."""

    scored: int = 0
    rejected: int = 0
    skipped: int = 0  # resume keys given in `skip` (already in the output)
    repeated: int = 0  # same content (or same unreadable path) as an earlier photo of this run
    failed: int = 0  # worker crashes and unexpected errors (also counted in `rejected`)
    worker_peak_rss_mb: dict[str, float] = field(default_factory=dict)


def default_workers() -> int:
    """The CPUs this process may run on (its affinity mask, which respects container CPU pinning)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def score(
    inputs: Iterable[str | os.PathLike[str] | BatchItem],
    *,
    workers: int | None = None,
    engine: Engine = "local",
    address: str | None = None,
    facing: Facing | None = None,
    mode: Mode = "standing",
    camera_roll_deg: float | None = None,
    overlay: bool = False,
    subject_from: str | SubjectRule | None = None,
    skip: Iterable[str] = (),
    on_skip: Callable[[BatchItem], None] | None = None,
    model_options: PoseModelOptions | None = None,
    photo_copier: Callable[[bytes], bytes] | None = None,
    max_pending: int | None = None,
    stats: RunStats | None = None,
) -> Iterator[BatchResult]:
    """Score photos in parallel and yield one `BatchResult` per photo, in input order.

    `inputs`: photo files, folders (searched recursively for photo types), CSV manifests, or
    `BatchItem`s from `discover()`. `workers`: processes (local) or actors (Ray); default one per
    CPU. `engine="ray"` connects to `address` (`auto`, `ray://head:10001`) or starts a local Ray.
    `subject_from`: `"folder"`, `"regex:PATTERN"` or a function of the item.

    `photo_copier`: a module-level function run in the workers on each accepted photo's bytes; its
    output is `BatchResult.photo_copy` (the history store uses it for the metadata-free copy).

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
    options = WorkerOptions(
        model=model_options or PoseModelOptions(),
        facing=facing,
        mode=mode,
        camera_roll_deg=camera_roll_deg,
        overlay=overlay,
        photo_copier=photo_copier,
    )
    stats = stats if stats is not None else RunStats()
    return _run(items, options, engine, workers, address, frozenset(skip), on_skip, max_pending, stats)


def _items(inputs: Iterable[str | os.PathLike[str] | BatchItem], rule: SubjectRule | None) -> list[BatchItem]:
    given = list(inputs)
    if all(isinstance(x, BatchItem) for x in given):
        return given  # type: ignore[return-value]
    items: list[BatchItem] = []
    for x in given:
        items.extend([x] if isinstance(x, BatchItem) else discover([x], rule))
    return items


def _run(
    items: list[BatchItem],
    options: WorkerOptions,
    engine: Engine,
    workers: int | None,
    address: str | None,
    skip: frozenset[str],
    on_skip: Callable[[BatchItem], None] | None,
    max_pending: int | None,
    stats: RunStats,
) -> Iterator[BatchResult]:
    hashes: dict[int, str | None] = {}  # job index -> content hash, until its result is yielded
    seen: set[str] = set()

    def jobs() -> Iterator[Job]:
        for index, item in enumerate(items):
            job = read_job(index, item)
            key = resume_key(job.sha256, item.source)
            if key in skip or key in seen:
                if key in skip:
                    stats.skipped += 1
                else:
                    stats.repeated += 1
                if on_skip is not None:
                    on_skip(item)
                continue
            seen.add(key)
            hashes[index] = job.sha256
            yield job

    def on_failure(job: Job, detail: str, *, crashed: bool) -> JobResult:
        log.error("%s: %s", job.source, detail)
        stats.failed += 1
        return JobResult(job.index, _failed_analysis(job.source, crashed, options), "-", 0.0)

    # Start no workers (seconds of model loading, or a Ray cluster) when every photo is skipped.
    first, pending = _peek(jobs())
    if first is None:
        return
    if engine == "ray":
        from .batching.ray_engine import ray_imap

        results = ray_imap(
            pending,
            options=options,
            on_failure=on_failure,
            actors=workers,
            address=address,
            max_pending=max_pending,
        )
    else:
        results = _local_imap(pending, options, workers or default_workers(), on_failure, max_pending)

    with contextlib.closing(results):
        for result in results:
            stats.scored += 1
            stats.rejected += not result.analysis.ok
            if result.worker != "-":
                peak = stats.worker_peak_rss_mb.get(result.worker, 0.0)
                stats.worker_peak_rss_mb[result.worker] = max(peak, result.peak_rss_mb)
            yield BatchResult(
                items[result.index], hashes.pop(result.index), result.analysis, result.photo_copy
            )


def _local_imap(
    jobs: Iterable[Job],
    options: WorkerOptions,
    workers: int,
    on_failure: FailureHandler,
    max_pending: int | None,
) -> Iterator[JobResult]:
    from .batching.local import ProcessPool
    from .batching.worker import init_scorer, run_job

    with ProcessPool(workers, init_scorer, options, run_job) as pool:
        yield from pool.imap(jobs, on_failure=on_failure, max_pending=max_pending)


def _peek(jobs: Iterable[Job]) -> tuple[Job | None, Iterator[Job]]:
    """The first job (None if there is none) and an iterator that still yields it."""
    it = iter(jobs)
    first = next(it, None)
    return first, it if first is None else itertools.chain([first], it)


def _failed_analysis(source: str, crashed: bool, options: WorkerOptions) -> Analysis:
    """The rejected result for a photo whose worker crashed or raised: the run goes on without it."""
    message = (
        "The worker analysing this photo crashed; the photo may be malformed in a way the model "
        "cannot handle."
        if crashed
        else "The analysis failed unexpectedly; this is a bug."
    )
    return Analysis(
        source=source,
        status="rejected",
        error=ErrorInfo(code=ErrorCode.ANALYSIS_FAILED.value, message=message),
        versions=Versions(
            package=package_version(), model_sha256=options.model.expected_sha256, rules=rules_version()
        ),
        mode=options.mode,
    )


# --- history store --------------------------------------------------------------------------------


def store_results(
    results: Iterable[BatchResult],
    data_dir: Path | None = None,
    subject_for: Callable[[BatchResult], str | None] | None = None,
    *,
    user: str | None = None,
) -> int:
    """Add accepted results to the history database the API uses; returns how many were added.

    Settings are the service's (`POSTURE_DATABASE_URL`, `POSTURE_DATA_DIR`; `data_dir` overrides the
    latter). `subject_for` names each result's subject (default: `result.subject`); results without
    one, and rejected photos, are not stored. `user` is the account owning the subjects (optional
    when there is only one). Score with `overlay=True` to store overlays, as uploads do.
    """
    from .batching.history import HistoryStore

    with HistoryStore(data_dir, user) as store:
        for result in results:
            store.add(result, subject_for(result) if subject_for is not None else None)
        return store.added


# --- command line ---------------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `batch` command to the `posture` CLI."""
    p = sub.add_parser(
        "batch",
        help="score folders of photos to CSV or JSONL, in parallel",
        description=(
            "Score photos, folders (searched recursively) and CSV manifests (path, subject, taken_at) "
            "into one row per photo. Re-running with the same --out skips photos already in it. "
            "Exit status: 0 all accepted, 1 some photos rejected, 2 usage error, 3 damaged model, "
            "4 the history store failed, 130 interrupted."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="photo, folder or manifest .csv")
    p.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="results .csv or .jsonl (appended to)"
    )
    p.add_argument(
        "--workers", type=_positive_int, metavar="N", help="worker processes or Ray actors (default: CPUs)"
    )
    p.add_argument("--engine", choices=ENGINES, default="local", help="local process pool (default) or Ray")
    p.add_argument(
        "--address", metavar="ADDR", help="Ray cluster: auto or ray://HOST:10001 (default: a local Ray)"
    )
    p.add_argument(
        "--subject-from",
        metavar="RULE",
        help="subject of each photo: 'folder' or 'regex:PATTERN' (a manifest's subject column wins)",
    )
    p.add_argument("--subject", metavar="NAME", help="subject of the photos that get none otherwise")
    p.add_argument("--facing", choices=["left", "right"], help="override the detected facing side")
    p.add_argument("--mode", choices=["standing", "lunge"], default="standing")
    p.add_argument("--camera-roll", type=float, default=None, metavar="DEG", help="camera roll in degrees")
    p.add_argument("--overlay", type=Path, metavar="DIR", help="write annotated PNGs to DIR")
    p.add_argument(
        "--store", action="store_true", help="also add accepted photos to the history database (as uploads)"
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="with --store: the service's data folder (POSTURE_DATA_DIR)",
    )
    p.add_argument(
        "--user", metavar="NAME", help="with --store: the account owning the subjects (if there are several)"
    )
    p.add_argument(
        "--progress",
        choices=["auto", "bar", "lines", "none"],
        default="auto",
        help="a bar on a terminal, a line every 10 s otherwise (default: auto)",
    )
    p.set_defaults(func=_cmd_batch)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


class _StoreFailed(Exception):
    pass


def _cmd_batch(args: argparse.Namespace) -> int:
    from .batching.history import HistoryStore
    from .batching.output import ResultWriter, open_writer
    from .batching.progress import Progress
    from .batching.ray_engine import EngineUnavailableError

    if args.address and args.engine != "ray":
        return _usage("--address needs --engine ray")
    if (args.data_dir or args.user) and not args.store:
        return _usage("--data-dir and --user need --store")
    store: HistoryStore | None = None
    writer: ResultWriter | None = None
    try:
        items = discover(args.inputs, _subject_rule(args.subject_from, args.subject))
        if not items:
            kinds = ", ".join(sorted(PHOTO_EXTENSIONS))
            return _usage(f"no photos ({kinds}) found in {' '.join(args.inputs)}")
        if args.store:
            _check_subjects(items)
            store = HistoryStore(args.data_dir, args.user)
        writer = open_writer(args.out)
    except BatchInputError as exc:
        if store is not None:
            store.close()
        return _usage(str(exc))
    if args.overlay:
        args.overlay.mkdir(parents=True, exist_ok=True)

    progress = Progress(len(items), mode=args.progress)
    stats = RunStats()
    keep_files = store is not None and store.keep_files
    results = score(
        items,
        workers=args.workers,
        engine=args.engine,
        address=args.address,
        facing=args.facing,
        mode=args.mode,
        camera_roll_deg=args.camera_roll,
        overlay=bool(args.overlay) or keep_files,  # the history keeps an overlay per photo, as uploads do
        photo_copier=store.photo_copier if store is not None else None,
        skip=writer.done,
        on_skip=lambda _item: progress.skipped_one(),
        stats=stats,
    )
    interrupted = False
    failure: tuple[int, str] | None = None  # (exit status, message)
    try:
        with _sigterm_as_interrupt(), contextlib.closing(results):
            for result in results:
                # A row in the output means "finished": it is written after the history record, and a
                # Ctrl-C waits for both, so a resumed run neither skips nor stores a photo twice.
                with _interrupts_deferred():
                    if store is not None:
                        try:
                            store.add(result)
                        except Exception as exc:
                            raise _StoreFailed(
                                f"storing {result.source} in the history failed: {exc}"
                            ) from exc
                    writer.write(result)
                if args.overlay and result.analysis.overlay_png and result.sha256:
                    name = f"{Path(result.source).stem}.{result.sha256[:12]}.overlay.png"
                    (args.overlay / name).write_bytes(result.analysis.overlay_png)
                progress.scored(result.analysis.ok)
    except KeyboardInterrupt:
        interrupted = True
    except EngineUnavailableError as exc:
        failure = (2, str(exc))
    except _StoreFailed as exc:
        failure = (4, str(exc))
    finally:
        progress.close()
        writer.close()
        if store is not None:
            store.close()

    if interrupted:
        print(
            f"posture batch: interrupted after {stats.scored} photos; {writer.path} holds every finished "
            "row. Run the same command again to resume.",
            file=sys.stderr,
        )
        return 130
    if failure is not None:
        print(f"posture batch: {failure[1]}", file=sys.stderr)
        return failure[0]
    print(_summary(stats, progress.elapsed_s, writer.path, store), file=sys.stderr)
    return 1 if stats.rejected else 0


def _subject_rule(subject_from: str | None, default: str | None) -> SubjectRule | None:
    rule = subject_rule(subject_from)
    if default is None:
        return rule
    return lambda item: (rule(item) if rule is not None else None) or default


def _check_subjects(items: list[BatchItem]) -> None:
    """With --store every photo needs a subject; say so before any work rather than skip photos."""
    missing = [item.source for item in items if not item.subject]
    if missing:
        raise BatchInputError(
            f"--store: {len(missing)} photos have no subject (first: {missing[0]}); name them with "
            "--subject-from, --subject or a manifest's subject column"
        )


def _summary(stats: RunStats, elapsed: float, out: Path, store: Any) -> str:
    rate = f" ({stats.scored / elapsed:.2f} photos/s)" if stats.scored and elapsed > 0 else ""
    text = f"posture batch: scored {stats.scored} photos ({stats.rejected} rejected) in {elapsed:.1f} s{rate}"
    text += f"; skipped {stats.skipped} already in {out}"
    if stats.repeated:
        text += f", {stats.repeated} repeated"
    if store is not None:
        text += f"; {store.added} added to the history in {store.location}"
    return text


def _usage(message: str) -> int:
    print(f"posture batch: {message}", file=sys.stderr)
    return 2


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a scheduler stopping the job) like Ctrl-C: stop workers, keep a valid file."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done, then raise KeyboardInterrupt."""
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    try:
        previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise KeyboardInterrupt
