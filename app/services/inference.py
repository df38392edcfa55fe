"""Running the analysis off the event loop: a bounded pool of `posture.worker` workers.

MediaPipe inference is CPU-bound and one landmarker must not serve two threads at once, so each
worker owns a model (created on the worker's first job and kept). Two pool kinds run the same worker:

- `process` (default): a `ProcessPoolExecutor` (spawn). Measures, silhouette and overlay drawing are
  partly pure Python and hold the GIL; separate processes scale to the cores (docs/benchmarks.md).
- `thread`: a `ThreadPoolExecutor`; MediaPipe's C calls release the GIL, the Python parts do not.

One inference keeps a single core busy (MediaPipe gives XNNPACK one thread outside mobile platforms:
CPU time equals wall time), so the default is one worker per core, with OpenCV kept to one thread per
worker. Jobs beyond the workers wait in the pool's queue; beyond `max_queued` more, the service
answers 503 `busy` instead of piling up photos in memory.

A worker that dies (killed, out of memory, a native crash) breaks its process pool: the pool is
replaced by a fresh one, whose models load in the background (`state` is "starting" again until one
has), and the broken pool's processes are ended, killed if they do not stop, never left behind.
Workers also end by themselves when the server process dies (`posture.worker.init_process`).

Movement clips (`run_clip`) run on the same workers. Their progress comes back on one queue per pool
(a `multiprocessing` queue for processes, a plain one for threads), given to every worker at start-up:
a listener thread reads `(job key, done, total)` from it and calls the callback that `run_clip`
registered for that key. A replaced pool gets a new queue, since a worker killed mid-write can leave a
queue's pipe unreadable.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from multiprocessing import get_context
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any, Literal, Protocol

from app.core.errors import ServiceUnavailable
from app.core.settings import PoolKind
from posture import worker
from posture.model import PoseModelOptions
from posture.worker import ClipJob, ClipResult, Job, JobResult, WorkerConfig

log = logging.getLogger(__name__)

State = Literal["starting", "ok", "unavailable"]


class Analyzer(Protocol):
    """What the API needs from the inference side (the tests substitute a fake)."""

    @property
    def state(self) -> State: ...

    @property
    def detail(self) -> str | None: ...

    def start(self) -> None: ...

    async def run(self, job: Job) -> JobResult: ...

    async def run_clip(self, job: ClipJob, progress: Callable[[int, int], None] | None = None) -> ClipResult:
        """Analyse a clip; `progress(done, total)` is called (from another thread) as frames are done."""
        ...

    def close(self) -> None: ...


class InferencePool:
    """The analyzer used by the service. `start()` loads a model in every worker in the background;
    `state` is "ok" once one has loaded (and stays "starting" until then)."""

    def __init__(
        self,
        workers: int,
        *,
        kind: PoolKind = "process",
        max_queued: int = 32,
        model_options: PoseModelOptions | None = None,
    ) -> None:
        self.workers = workers
        self.kind = kind
        self.max_queued = max_queued
        self.model_options = model_options or PoseModelOptions()
        # Reentrant: a warm-up callback may run at once, in the thread that holds the lock.
        self._lock = threading.RLock()
        self._executor: Executor | None = None
        self._generation = 0  # bumped with each replaced pool: callbacks of an older one are ignored
        self._broken_starts = 0
        self._state: State = "starting"
        self._detail: str | None = None
        self._in_flight = 0
        self.worker_pids: set[int] = set()
        self._progress: Any = None  # the current pool's progress queue
        self._listeners: dict[str, Callable[[int, int], None]] = {}

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
        config = WorkerConfig(model=self.model_options)
        context = get_context("spawn")
        progress: Any = queue.SimpleQueue() if self.kind == "thread" else context.Queue()
        self._stop_listening()
        self._progress = progress
        threading.Thread(
            target=self._listen, args=(progress,), name="posture-clip-progress", daemon=True
        ).start()
        if self.kind == "thread":
            return ThreadPoolExecutor(
                self.workers,
                thread_name_prefix="posture-inference",
                initializer=worker.init_process,
                initargs=(config, progress),
            )
        # spawn, not fork: the server process has threads (event loop, DB pool) a fork would copy mid-state.
        return ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=worker.init_process,
            initargs=(config, progress),
        )

    def _listen(self, progress: Any) -> None:
        """Pass a pool's progress reports to the callbacks of their jobs, until told to stop (None)."""
        while True:
            try:
                item = progress.get()
            except (EOFError, OSError, ValueError):  # the queue was closed, or a dead writer broke it
                return
            if item is None:
                return
            key, done, total = item
            callback = self._listeners.get(key)
            if callback is not None:
                try:
                    callback(done, total)
                except Exception:
                    log.warning("a clip progress callback failed", exc_info=True)

    def _stop_listening(self) -> None:
        if self._progress is not None:
            with contextlib.suppress(OSError, ValueError):  # closed already
                self._progress.put(None)
            self._progress = None

    def _warm_up(self, executor: Executor) -> None:
        # All submitted at once, so a process pool starts every worker instead of reusing the first.
        warmed = functools.partial(self._warmed, self._generation, executor)
        for _ in range(self.workers):
            executor.submit(worker.warm_up).add_done_callback(warmed)

    def _warmed(self, generation: int, executor: Executor, future: Future[int]) -> None:
        if future.cancelled() or generation != self._generation:
            return  # a replaced pool's warm-up: it says nothing about the current pool
        error = future.exception()
        if error is None:
            self.worker_pids.add(future.result())
            self._state, self._detail, self._broken_starts = "ok", None, 0
        elif isinstance(error, BrokenProcessPool) and self._broken_starts < MAX_BROKEN_STARTS:
            # A worker died while loading its model (killed, out of memory): try a fresh pool.
            self._broken_starts += 1
            self._replace_broken(executor)
        elif self._state != "ok":
            self._state, self._detail = "unavailable", str(error)
            log.error("the pose model cannot be loaded: %s", error)

    async def run(self, job: Job) -> JobResult:
        return await self._submit(worker.run, job)

    async def run_clip(self, job: ClipJob, progress: Callable[[int, int], None] | None = None) -> ClipResult:
        if progress is not None:
            job = replace(job, key=job.key or uuid.uuid4().hex)
            self._listeners[job.key] = progress
        try:
            return await self._submit(worker.run_clip, job)
        finally:
            if progress is not None:
                self._listeners.pop(job.key, None)

    async def _submit(self, task: Callable[[Any], Any], job: Any) -> Any:
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
            return await asyncio.wrap_future(executor.submit(task, job))
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
            if self._executor is not broken:
                return  # replaced already, by the request (or warm-up) that saw the break first
            processes = _processes_of(broken)
            self._generation += 1
            self._state = "starting"
            self._detail = "An analysis worker stopped; fresh workers are loading the pose model."
            self.worker_pids.clear()
            self._executor = self._new_executor()
            self._warm_up(self._executor)
        broken.shutdown(wait=False, cancel_futures=True)
        # The executor terminates a broken pool's other workers itself; one that does not end (a
        # signal handler, a hung native call) is killed, so no process outlives its pool.
        threading.Thread(
            target=_reap, args=(processes, REAP_GRACE_S), name="posture-pool-reaper", daemon=True
        ).start()

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._stop_listening()


MAX_BROKEN_STARTS = 3
"""Pools in a row whose workers die while loading before the model is declared unavailable."""
REAP_GRACE_S = 5.0


def _processes_of(executor: Executor) -> list[BaseProcess]:
    """The worker processes of a process pool (none for threads). `_processes` is private, but it is
    the only handle on them, and stable across Python versions."""
    processes = getattr(executor, "_processes", None) or {}
    return list(processes.values())


def _reap(processes: list[BaseProcess], grace_s: float) -> None:
    """Wait up to `grace_s` for `processes` to end, then kill those still running. Watches their
    sentinels (readable once a process has ended), not their exit status, which the executor's own
    thread may be collecting at the same time."""
    sentinels: dict[int, BaseProcess] = {}
    for process in processes:
        try:
            sentinels[process.sentinel] = process
        except ValueError:  # closed: long gone
            continue
    deadline = time.monotonic() + grace_s
    while sentinels and (left := deadline - time.monotonic()) > 0:
        for ended in wait(list(sentinels), timeout=left):
            sentinels.pop(ended)  # type: ignore[call-overload]
    for process in sentinels.values():
        log.warning("killing inference worker %s of a broken pool: it did not stop", process.pid)
        process.kill()
