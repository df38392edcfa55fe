"""A process with its own model: the one worker that the API's pool and both batch engines run.

A worker owns one `PoseModel` (loading it costs far more than one photo, and one landmarker must not
serve two threads), keeps OpenCV to one thread (parallelism comes from the workers, and OpenCV would
otherwise start a thread per core in each one), ignores SIGINT when it is a child process (Ctrl-C
reaches the whole process group; the parent stops its workers itself), and turns one `Job` into one
`JobResult`: the analysis, and for photos to be kept the metadata-free copy and the overlay. Anything
unexpected becomes an `analysis_failed` rejection, never an exception that would lose the job.

Two kinds of job: a photo (`Job` → `JobResult`, `run`) and a movement clip (`ClipJob` → `ClipResult`,
`run_clip`), analysed by `posture.analyze_clip` with a video-mode model that the worker creates on its
first clip (a worker that only ever sees photos never loads it). A clip takes seconds, so its progress
(frames done of frames to do) is reported as it goes: to a callback given to `Worker.run_clip`, or, for
a worker in an executor, as `(job key, done, total)` tuples put on the queue given to `init_process`
(the caller reads them on its side: `app.services.inference`). Reports are spaced by
`PROGRESS_INTERVAL_S`, plus the last one.

Three ways to run it:
- `Worker(config)` directly (the batch engines' process pool and Ray actors hold one each);
- `init_process(config)` as an executor's initializer, then `warm_up()` and `run(job)` submitted to
  it (the API's `ProcessPoolExecutor` or `ThreadPoolExecutor`: one worker per process or thread).
  A worker process started so ends when its parent ends, however that ends (`kill -9` included):
  nothing else would stop it, and each crash and restart of a server would leave its workers behind.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .analysis import analyze, package_version, rejected
from .errors import ErrorCode
from .intake import IntakeLimits
from .model import PoseModel, PoseModelOptions
from .options import AnalysisOptions
from .photo_copy import strip_metadata
from .result import Analysis, ErrorInfo, Versions
from .rules import rules_version

if TYPE_CHECKING:
    from .movement.options import ClipOptions
    from .movement.result import MovementAnalysis

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.25
"""Least time between two progress reports of one clip (the frames of a clip come every few ms)."""


def default_workers(maximum: int | None = None) -> int:
    """The CPUs this process may run on (its affinity mask, which respects container CPU pinning),
    at most `maximum`: one inference keeps one core busy."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, maximum) if maximum else cpus)


@dataclass(frozen=True)
class WorkerConfig:
    """How to build a worker (picklable: it crosses to child processes and Ray actors).

    `model_bytes` ships the model file itself, for workers on other machines (Ray); its SHA-256 is
    still checked against `model.expected_sha256` on arrival. `mute_native_startup` silences
    MediaPipe's native start-up lines on fd 2 until the first photo is done (N batch workers would
    bury the progress bar under them).
    """

    model: PoseModelOptions = field(default_factory=PoseModelOptions)
    model_bytes: bytes | None = field(default=None, repr=False)
    mute_native_startup: bool = False
    # A worker kept for clips (the service's clip pool) loads the video model at warm-up and the photo
    # model only if a photo ever comes: a model is ~100 MB of a worker's memory (docs/benchmarks.md).
    photos: bool = True


@dataclass(frozen=True)
class Job:
    """One photo to analyse. `data` holds its bytes; when it is None the worker opens `path` (a file
    the caller could not or would not read, so that the rejection carries the intake's own code).
    `keep_photo` asks for the metadata-free copy of an accepted photo (the history stores it)."""

    data: bytes | None
    source: str | None = None
    options: AnalysisOptions = field(default_factory=AnalysisOptions)
    keep_photo: bool = False
    limits: IntakeLimits | None = None
    path: Path | None = None
    index: int = 0


@dataclass(frozen=True)
class JobResult:
    """A worker's answer. `analysis.overlay_png` is moved to `overlay_png` (sent once, not twice)."""

    index: int
    analysis: Analysis
    photo_jpeg: bytes | None = field(default=None, repr=False)
    overlay_png: bytes | None = field(default=None, repr=False)
    worker: str = "-"
    peak_rss_mb: float = 0.0


@dataclass(frozen=True)
class ClipJob:
    """One movement clip to analyse, read by the worker from `path` (a clip is too big to send whole
    through a pipe). `key` names the job in its progress reports."""

    path: Path
    options: ClipOptions | None = None
    source: str | None = None
    key: str = ""


@dataclass(frozen=True)
class ClipResult:
    """A worker's answer for a clip: the analysis (accepted or rejected with the library's code, its
    `deepest_png` moved to `deepest_png`), or `error` when the analysis itself broke (a bug)."""

    key: str
    analysis: MovementAnalysis | None
    deepest_png: bytes | None = field(default=None, repr=False)
    error: ErrorInfo | None = None
    worker: str = "-"
    peak_rss_mb: float = 0.0


ProgressCallback = Callable[[int, int], None]
"""`progress(done, total)`: frames of the clip analysed so far, of those to analyse."""


class ProgressQueue(Protocol):
    """Where an executor's worker puts `(job key, done, total)`: a `multiprocessing` or `queue` queue."""

    def put(self, item: tuple[str, int, int]) -> None: ...


class Worker:
    """A worker's state: its own model, created once, and the video-mode model of its first clip."""

    def __init__(self, config: WorkerConfig | None = None) -> None:
        config = config or WorkerConfig()
        _one_thread_for_opencv()
        _leave_sigint_to_parent()
        self.config = config
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._muted = _NativeStderrMute() if config.mute_native_startup else None
        self._model: PoseModel | None = _build_model(config) if config.photos else None
        self._video_model: Any = None

    @property
    def model(self) -> PoseModel:
        """The photo model (loaded here on first use by a clip worker)."""
        if self._model is None:
            self._model = _build_model(self.config)
        return self._model

    def warm(self) -> None:
        """Load the model this worker's jobs need: the photos', or for a clip worker the video model."""
        if self.config.photos:
            _ = self.model
        elif self._video_model is None:
            self._video_model = _build_video_model(self.config)

    def run(self, job: Job) -> JobResult:
        source = job.data if job.data is not None else job.path
        if source is None:
            raise ValueError("a job needs data or a path")
        analysis = analyze(source, job.options, model=self.model, source_name=job.source, limits=job.limits)
        if self._muted is not None:
            self._muted.restore()
            self._muted = None
        overlay = analysis.overlay_png
        analysis = analysis.model_copy(update={"overlay_png": None})
        photo = None
        if analysis.ok and job.keep_photo and job.data is not None:
            try:
                photo = strip_metadata(job.data)
            except Exception:  # the photo decoded for the analysis, so this is a bug: refuse it
                log.exception("re-encoding %s for storage failed", job.source)
                analysis = _refused(analysis, "The photo could not be re-encoded for storage; this is a bug.")
                overlay = None
        return JobResult(job.index, analysis, photo, overlay, self.name, peak_rss_mb())

    def run_clip(self, job: ClipJob, progress: ProgressCallback | None = None) -> ClipResult:
        """Analyse one clip. A bad clip is a rejected analysis with the library's code; anything else
        that goes wrong is `error` (`analysis_failed`), never an exception that would lose the job."""
        try:
            from .movement.analysis import analyze_clip  # photo-only workers never load the video side

            if self._video_model is None:
                self._video_model = _build_video_model(self.config)
            analysis = analyze_clip(
                job.path, job.options, model=self._video_model, source_name=job.source, progress=progress
            )
        except Exception:
            log.exception("analysing clip %s failed", job.source)
            error = ErrorInfo(
                code=ErrorCode.ANALYSIS_FAILED.value,
                message="The clip's analysis failed unexpectedly; this is a bug.",
            )
            return ClipResult(job.key, None, error=error, worker=self.name, peak_rss_mb=peak_rss_mb())
        finally:
            if self._muted is not None:
                self._muted.restore()
                self._muted = None
        deepest = analysis.deepest_png
        analysis = analysis.model_copy(update={"deepest_png": None})
        return ClipResult(job.key, analysis, deepest, worker=self.name, peak_rss_mb=peak_rss_mb())

    def close(self) -> None:
        if self._model is not None:
            self._model.close()
        if self._video_model is not None:
            self._video_model.close()


class FailureHandler(Protocol):
    """Makes the result of a job that produced none: its task raised (`crashed=False`; `detail` is
    the traceback) or its worker process died (`crashed=True`)."""

    def __call__(self, job: Job, detail: str, *, crashed: bool) -> JobResult: ...


def failed_result(job: Job, *, crashed: bool, model_sha256: str | None = None) -> JobResult:
    """The rejected result of a job whose worker crashed (`crashed`) or raised: the run goes on."""
    message = (
        "The worker analysing this photo crashed; the photo may be malformed in a way the model "
        "cannot handle."
        if crashed
        else "The analysis failed unexpectedly; this is a bug."
    )
    base = {
        "source": job.source,
        "versions": Versions(package=package_version(), model_sha256=model_sha256, rules=rules_version()),
        "mode": job.options.safe_mode,
        "camera_roll_deg": job.options.applied_roll_deg,
    }
    return JobResult(job.index, rejected(base, ErrorCode.ANALYSIS_FAILED, message))


def _refused(analysis: Analysis, message: str) -> Analysis:
    error = ErrorInfo(code=ErrorCode.ANALYSIS_FAILED.value, message=message)
    return analysis.model_copy(update={"status": "rejected", "error": error})


# --- one worker per executor process or thread -----------------------------------------------------

_config: WorkerConfig | None = None
_progress: ProgressQueue | None = None
_local = threading.local()


def init_process(config: WorkerConfig, progress: ProgressQueue | None = None) -> None:
    """Executor initializer: remember the config (the model loads on the first `warm_up` or `run`) and
    the queue that clips' progress goes to."""
    global _config, _progress
    _config = config
    _progress = progress
    _one_thread_for_opencv()
    _leave_sigint_to_parent()
    _exit_with_parent()
    os.environ.setdefault("GLOG_minloglevel", "2")


PARENT_POLL_S = 0.5
_PARENT_DEATH_SIGNAL = signal.SIGUSR1 if hasattr(signal, "SIGUSR1") else None
_PR_SET_PDEATHSIG = 1


def _exit_with_parent() -> None:
    """In a child process, exit as soon as the parent process is gone.

    Two ways, because either alone can miss: on Linux the kernel signals us when our parent dies
    (`prctl(PR_SET_PDEATHSIG)`), and a watchdog thread compares `os.getppid()` with the parent's pid
    every `PARENT_POLL_S` (other systems, or a signal that arrives while Python cannot run its
    handler). The kernel also sends that signal when only the *thread* that started us ends, so the
    handler checks the parent's pid before exiting rather than dying on it (hence not SIGKILL).
    """
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None or threading.current_thread() is not threading.main_thread():
        return  # not a child process (library use, or a thread pool): there is no parent to outlive
    parent_pid = parent.pid

    def gone() -> bool:
        return os.getppid() != parent_pid

    def exit_if_orphaned(*_args: object) -> None:
        if gone():
            os._exit(1)  # no clean-up: the parent that would read our results is dead

    if sys.platform.startswith("linux") and _PARENT_DEATH_SIGNAL is not None:
        signal.signal(_PARENT_DEATH_SIGNAL, exit_if_orphaned)
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(_PARENT_DEATH_SIGNAL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog below still ends us
    exit_if_orphaned()  # the parent may have died before the signal was asked for

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            exit_if_orphaned()

    threading.Thread(target=watch, name="posture-parent-watch", daemon=True).start()


def _current() -> Worker:
    worker = getattr(_local, "worker", None)
    if worker is None:
        worker = _local.worker = Worker(_config)
    return worker


def warm_up() -> int:
    """Load this worker's model (raises `ModelIntegrityError`); returns the process id."""
    _current().warm()
    return os.getpid()


def run(job: Job) -> JobResult:
    """Analyse `job` on this process's (or thread's) worker."""
    return _current().run(job)


def run_clip(job: ClipJob) -> ClipResult:
    """Analyse the clip of `job` on this process's (or thread's) worker, its progress put on the
    queue given to `init_process` (if any)."""
    queue = _progress
    report = None if queue is None else _Throttled(lambda done, total: queue.put((job.key, done, total)))
    return _current().run_clip(job, report)


class _Throttled:
    """A progress callback passed on at most every `PROGRESS_INTERVAL_S`, and always at the end. A
    failing report (the reader gone) is dropped: progress is news, never a reason to lose the job."""

    def __init__(self, forward: ProgressCallback) -> None:
        self._forward = forward
        self._last = float("-inf")

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        try:
            self._forward(done, total)
        except Exception:
            log.debug("progress report dropped", exc_info=True)


# --- helpers ----------------------------------------------------------------------------------------


def _build_model(config: WorkerConfig) -> PoseModel:
    if config.model_bytes is None:
        return PoseModel(config.model)
    # PoseModel reads a path; the shipped bytes go to a private temporary file, removed once loaded.
    with tempfile.TemporaryDirectory(prefix="posture-model-") as tmp:
        path = Path(tmp) / "pose_landmarker.task"
        path.write_bytes(config.model_bytes)
        return PoseModel(replace(config.model, model_path=path))


def _build_video_model(config: WorkerConfig) -> Any:
    """The video-mode (tracking) pose model of the clips, from the same model file as the photos'. Two
    poses, as the library's own default video model: a clip's subject is tracked, so a third candidate
    (which the photos' model needs to pick the subject among bystanders) only costs time."""
    from .model import VideoPoseModel

    options = replace(config.model, num_poses=min(config.model.num_poses, 2))
    if config.model_bytes is None:
        return VideoPoseModel(options)
    # VideoPoseModel keeps the model's bytes in memory: the temporary file is only read once.
    with tempfile.TemporaryDirectory(prefix="posture-model-") as tmp:
        path = Path(tmp) / "pose_landmarker.task"
        path.write_bytes(config.model_bytes)
        return VideoPoseModel(replace(options, model_path=path))


def _one_thread_for_opencv() -> None:
    import cv2

    cv2.setNumThreads(1)


def _leave_sigint_to_parent() -> None:
    """In a child process, Ctrl-C is the parent's to handle: a worker dying of it mid-photo would
    only print a traceback and lose the job. The main process (library use) keeps its handler."""
    import multiprocessing

    if multiprocessing.parent_process() is None or threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _NativeStderrMute:
    """Points fd 2 at /dev/null while Python's own `sys.stderr` keeps writing to the real stream, so
    tracebacks and log records still show; `restore()` puts fd 2 back."""

    def __init__(self) -> None:
        try:
            sys.stderr.flush()
            self._saved_fd = os.dup(2)
            self._python_stderr = sys.stderr
            python_fd = os.dup(self._saved_fd)
            sys.stderr = open(python_fd, "w", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        except (OSError, AttributeError, ValueError):  # no usable fd 2 (pythonw, embedded): nothing to do
            self._saved_fd = -1

    def restore(self) -> None:
        if self._saved_fd < 0:
            return
        sys.stderr.flush()
        os.dup2(self._saved_fd, 2)
        os.close(self._saved_fd)
        self._saved_fd = -1
        mine, sys.stderr = sys.stderr, self._python_stderr
        mine.close()


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB.

    On Linux from /proc/self/status (VmHWM): `ru_maxrss` starts a process started by fork and exec (a
    spawned worker) at its parent's peak, which would report a big parent's memory as the worker's.
    Elsewhere `ru_maxrss` (KiB on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
