"""The worker side, shared by every engine: one `PoseModel` per worker, one `Job` in, one result out."""

from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from ..analysis import analyze
from ..errors import ErrorCode
from ..facing import Facing
from ..model import PoseModel, PoseModelOptions
from ..result import Analysis, ErrorInfo, Mode
from .inputs import Job

log = logging.getLogger("posture.batch")


@dataclass(frozen=True)
class WorkerOptions:
    """Everything a worker needs to build its model and analyse photos (picklable).

    `model_bytes` ships the model file itself, for workers on other machines (Ray); its SHA-256 is
    still checked against `model.expected_sha256` on arrival. `photo_copier`, a module-level function
    (it is pickled by name), makes a copy of each accepted photo's bytes in the worker, where the CPU
    time is parallel: the history store keeps a metadata-free re-encoding, as the API does.
    """

    model: PoseModelOptions = field(default_factory=PoseModelOptions)
    model_bytes: bytes | None = None
    facing: Facing | None = None
    mode: Mode = "standing"
    camera_roll_deg: float | None = None
    overlay: bool = False
    photo_copier: Callable[[bytes], bytes] | None = None
    mute_native_startup: bool = True


@dataclass(frozen=True)
class JobResult:
    """A worker's answer: the analysis, and who produced it (`host:pid`) at what peak memory."""

    index: int
    analysis: Analysis
    worker: str
    peak_rss_mb: float
    photo_copy: bytes | None = None


class FailureHandler(Protocol):
    """Makes the result of a job that produced none: its task raised (`crashed=False`; `detail` is
    the traceback) or its worker process died (`crashed=True`)."""

    def __call__(self, job: Job, detail: str, *, crashed: bool) -> JobResult: ...


class Scorer:
    """A worker's state: its own model, created once (loading it costs far more than one photo)."""

    def __init__(self, options: WorkerOptions) -> None:
        _one_thread_for_opencv()
        self.options = options
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        # MediaPipe's native start-up messages (delegate created, feedback tensors, NORM_RECT) go
        # straight to fd 2, once per worker at load and first inference; N workers would bury the
        # progress bar under them. Mute them until the first photo is done.
        self._muted = _NativeStderrMute() if options.mute_native_startup else None
        self.model = _build_model(options)

    def score(self, job: Job) -> JobResult:
        opts = self.options
        analysis = analyze(
            job.data if job.data is not None else Path(job.source),
            facing=opts.facing,
            mode=opts.mode,
            camera_roll_deg=opts.camera_roll_deg,
            overlay=opts.overlay,
            model=self.model,
            source_name=job.source,
        )
        if self._muted is not None:
            self._muted.restore()
            self._muted = None
        copy = None
        if analysis.ok and opts.photo_copier is not None and job.data is not None:
            try:
                copy = opts.photo_copier(job.data)
            except Exception:  # the photo decoded for the analysis, so this is a bug: refuse it
                log.exception("copying %s failed", job.source)
                error = ErrorInfo(
                    code=ErrorCode.ANALYSIS_FAILED.value,
                    message="The photo could not be copied for storage; this is a bug.",
                )
                analysis = analysis.model_copy(update={"status": "rejected", "error": error})
        return JobResult(job.index, analysis, self.name, peak_rss_mb(), copy)

    def close(self) -> None:
        self.model.close()


def _build_model(options: WorkerOptions) -> PoseModel:
    if options.model_bytes is None:
        return PoseModel(options.model)
    # PoseModel reads a path; the shipped bytes go to a private temporary file, removed once loaded.
    with tempfile.TemporaryDirectory(prefix="posture-model-") as tmp:
        path = Path(tmp) / "pose_landmarker.task"
        path.write_bytes(options.model_bytes)
        return PoseModel(replace(options.model, model_path=path))


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


def _one_thread_for_opencv() -> None:
    """Each worker is meant to keep one core busy; OpenCV's own thread pool (resizes, contours) would
    otherwise start one thread per core in every worker and make them compete."""
    import cv2

    cv2.setNumThreads(1)


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def init_scorer(options: WorkerOptions) -> Scorer:
    return Scorer(options)


def run_job(scorer: Scorer, job: Job) -> JobResult:
    return scorer.score(job)
