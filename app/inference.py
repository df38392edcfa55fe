"""Running the analysis off the event loop: a bounded pool of workers, each with its own `PoseModel`.

MediaPipe inference is CPU-bound and one landmarker must not serve two threads at once, so each
worker owns a model (created on the worker's first job and kept). Two pool kinds share the job code:

- `process` (default): a `ProcessPoolExecutor` (spawn). Measures, silhouette and overlay drawing are
  partly pure Python and hold the GIL; separate processes scale to the cores (docs/benchmarks.md).
- `thread`: a `ThreadPoolExecutor`; MediaPipe's C calls release the GIL, the Python parts do not.

One inference keeps a single core busy (MediaPipe gives XNNPACK one thread outside mobile platforms:
CPU time equals wall time), so the default is one worker per core, with OpenCV kept to one thread per
worker. Jobs beyond the workers wait in the pool's queue; beyond `max_queued` more, the service
answers 503 `busy` instead of piling up photos in memory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Literal, Protocol

import cv2

from posture import Analysis, PoseModel, PoseModelOptions, analyze
from posture.errors import ErrorCode
from posture.intake import IntakeLimits
from posture.result import ErrorInfo

from .photos import strip_metadata

log = logging.getLogger(__name__)

State = Literal["starting", "ok", "unavailable"]


@dataclass(frozen=True)
class Job:
    """One photo to analyse, with the options of the upload."""

    photo: bytes
    source_name: str | None = None
    facing: Literal["left", "right"] | None = None
    mode: Literal["standing", "lunge"] = "standing"
    camera_roll_deg: float | None = None
    keep_files: bool = False  # also make the stripped photo and the overlay
    max_file_bytes: int = IntakeLimits().max_file_bytes


@dataclass(frozen=True)
class Outcome:
    analysis: Analysis
    photo_jpeg: bytes | None = None
    overlay_png: bytes | None = None


class ServiceUnavailable(Exception):
    """No analysis can run now (model not loadable, pool broken, too many queued): answered as 503."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Analyzer(Protocol):
    """What the API needs from the inference side (the tests substitute a fake)."""

    @property
    def state(self) -> State: ...

    @property
    def detail(self) -> str | None: ...

    def start(self) -> None: ...

    async def run(self, job: Job) -> Outcome: ...

    def close(self) -> None: ...


# --- worker side (runs in the pool's threads or processes) -------------------------------------------

_local = threading.local()
_model_options: PoseModelOptions | None = None


def _init_worker(model_path: str | None, in_child_process: bool) -> None:
    global _model_options
    _model_options = PoseModelOptions(model_path=Path(model_path)) if model_path else PoseModelOptions()
    # Parallelism comes from the workers: OpenCV would otherwise start a thread per core in each one.
    cv2.setNumThreads(1)
    if in_child_process:
        os.environ.setdefault("GLOG_minloglevel", "2")
        # Ctrl-C goes to the whole process group; the server shuts the pool down itself.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_model() -> PoseModel:
    model = getattr(_local, "model", None)
    if model is None:
        model = _local.model = PoseModel(_model_options or PoseModelOptions())
    return model


def load_model() -> int:
    """Warm-up job: create this worker's model (raises `ModelIntegrityError`); returns the process id."""
    _worker_model()
    return os.getpid()


def run_job(job: Job) -> Outcome:
    analysis = analyze(
        job.photo,
        facing=job.facing,
        mode=job.mode,
        camera_roll_deg=job.camera_roll_deg,
        overlay=job.keep_files,
        model=_worker_model(),
        source_name=job.source_name,
        limits=IntakeLimits(max_file_bytes=job.max_file_bytes),
    )
    overlay = analysis.overlay_png
    analysis = analysis.model_copy(update={"overlay_png": None})
    if not analysis.ok or not job.keep_files:
        return Outcome(analysis)
    try:
        photo = strip_metadata(job.photo)
    except Exception:  # the library decoded it, so this is a bug: refuse the photo, keep the server up
        log.exception("re-encoding an analysed photo failed")
        failed = analysis.model_copy(
            update={
                "status": "rejected",
                "error": ErrorInfo(
                    code=ErrorCode.ANALYSIS_FAILED.value,
                    message="The photo could not be re-encoded for storage; this is a bug.",
                ),
            }
        )
        return Outcome(failed)
    return Outcome(analysis, photo_jpeg=photo, overlay_png=overlay)


# --- server side ----------------------------------------------------------------------------------


class InferencePool:
    """The analyzer used by the service. `start()` loads a model in every worker in the background;
    `state` is "ok" once one has loaded (and stays "starting" until then)."""

    def __init__(
        self,
        workers: int,
        *,
        kind: Literal["process", "thread"] = "process",
        max_queued: int = 32,
        model_path: Path | None = None,
    ) -> None:
        self.workers = workers
        self.kind = kind
        self.max_queued = max_queued
        self.model_path = model_path
        self._lock = threading.Lock()
        self._executor: Executor | None = None
        self._state: State = "starting"
        self._detail: str | None = None
        self._in_flight = 0
        self.worker_pids: set[int] = set()

    @property
    def state(self) -> State:
        return self._state

    @property
    def detail(self) -> str | None:
        return self._detail

    def start(self) -> None:
        with self._lock:
            if self._executor is None:
                self._executor = self._new_executor()
                self._warm_up(self._executor)

    def _new_executor(self) -> Executor:
        model_path = str(self.model_path) if self.model_path else None
        if self.kind == "thread":
            return ThreadPoolExecutor(
                self.workers,
                thread_name_prefix="posture-inference",
                initializer=_init_worker,
                initargs=(model_path, False),
            )
        # spawn, not fork: the server process has threads (event loop, DB pool) a fork would copy mid-state.
        return ProcessPoolExecutor(
            self.workers,
            mp_context=get_context("spawn"),
            initializer=_init_worker,
            initargs=(model_path, True),
        )

    def _warm_up(self, executor: Executor) -> None:
        # All submitted at once, so a process pool starts every worker instead of reusing the first.
        for _ in range(self.workers):
            executor.submit(load_model).add_done_callback(self._warmed)

    def _warmed(self, future: Future[int]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self.worker_pids.add(future.result())
            self._state, self._detail = "ok", None
        elif self._state != "ok":
            self._state, self._detail = "unavailable", str(error)
            log.error("the pose model cannot be loaded: %s", error)

    async def run(self, job: Job) -> Outcome:
        if self._state == "unavailable":
            raise ServiceUnavailable("model_unavailable", f"The pose model is not available: {self._detail}")
        with self._lock:
            if self._in_flight >= self.workers + self.max_queued:
                raise ServiceUnavailable("busy", "Too many photos are being analysed; retry in a moment.")
            self._in_flight += 1
            if self._executor is None:
                self._executor = self._new_executor()
                self._warm_up(self._executor)
            executor = self._executor
        try:
            return await asyncio.wrap_future(executor.submit(run_job, job))
        except BrokenProcessPool:
            # A worker died (killed, out of memory, a native crash): every job in that pool fails.
            # Start a fresh pool for the next request; this one is told to retry.
            log.error("an inference worker died; restarting the pool")
            self._replace_broken(executor)
            raise ServiceUnavailable(
                "analysis_unavailable", "The analysis worker stopped unexpectedly; please retry."
            ) from None
        finally:
            with self._lock:
                self._in_flight -= 1

    def _replace_broken(self, broken: Executor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = self._new_executor()
                self.worker_pids.clear()
                self._warm_up(self._executor)
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
