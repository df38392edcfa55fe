"""Running the analysis off the event loop: a bounded pool of `posture.worker` workers.

MediaPipe inference is CPU-bound and one landmarker must not serve two threads at once, so each
worker owns a model (created on the worker's first job and kept). Two pool kinds run the same worker:

- `process` (default): spawned processes. Measures, silhouette and overlay drawing are partly pure
  Python and hold the GIL; separate processes scale to the cores (docs/benchmarks.md).
- `thread`: threads; MediaPipe's C calls release the GIL, the Python parts do not.

One inference keeps a single core busy (MediaPipe gives XNNPACK one thread outside mobile platforms:
CPU time equals wall time), so the default is one worker per core, with OpenCV kept to one thread per
worker. Jobs beyond the workers wait in the pool's queue; beyond `max_queued` more, the service
answers 503 `busy` instead of piling up photos in memory.

Each worker is a *lane*: a one-worker executor of its own. A job waits in the pool's queue (first
come, first served) until a lane is free, then runs on it. A worker that dies (killed, out of memory,
a native crash) breaks only its own lane: the one job it was running fails (`analysis_unavailable`),
the jobs still waiting go to the other lanes, and the lane is replaced by a fresh worker whose model
loads in the background. The dead lane's process is reaped (killed if it does not end), never left
behind. Workers also end by themselves when the server process dies (`posture.worker.init_process`).

The service runs two pools (app.main): one for photos and one for movement clips, so a clip, which
keeps its worker busy for seconds to a minute, never holds a photo's worker or its queue.

Movement clips (`run_clip`) report progress on one queue per lane (a `multiprocessing` queue for
processes, a plain one for threads), given to the lane's worker at start-up: a listener thread reads
`(job key, done, total)` from it and calls the callback that `run_clip` registered for that key. A
replaced lane gets a new queue, since a worker killed mid-write can leave a queue's pipe unreadable.

`close(kill_running=True)` (the server's stop) does not wait for a running job whose answer nobody
will read: a process lane's worker is terminated (then killed after `STOP_GRACE_S`); thread lanes
cannot be interrupted and are waited for.
"""

from __future__ import annotations

import asyncio
import collections
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


class _Lane:
    """One worker: a one-worker executor, its progress queue, and what it is running."""

    def __init__(self, executor: Executor, progress: Any, number: int) -> None:
        self.executor = executor
        self.progress = progress
        self.number = number
        self.pid: int | None = None
        self.key: str | None = None  # the key of the clip job it runs (None: a photo, or idle)
        self.broken = False


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
        name: str = "photo",
    ) -> None:
        self.workers = workers
        self.kind = kind
        self.max_queued = max_queued
        self.model_options = model_options or PoseModelOptions()
        self.name = name
        # Reentrant: a warm-up callback may run at once, in the thread that holds the lock.
        self._lock = threading.RLock()
        self._lanes: list[_Lane] = []
        self._free: list[_Lane] = []
        self._waiters: collections.deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[_Lane]]] = (
            collections.deque()
        )
        self._closed = False
        self._broken_starts = 0
        self._state: State = "starting"
        self._detail: str | None = None
        self._in_flight = 0
        self.worker_pids: set[int] = set()
        self._listeners: dict[str, Callable[[int, int], None]] = {}

    @property
    def state(self) -> State:
        return self._state

    @property
    def detail(self) -> str | None:
        return self._detail

    def start(self) -> None:
        with self._lock:
            if not self._lanes:
                self._closed = False
                for number in range(self.workers):
                    lane = self._new_lane(number)
                    self._lanes.append(lane)
                    self._free.append(lane)

    # --- lanes ---

    def _new_lane(self, number: int) -> _Lane:
        config = WorkerConfig(model=self.model_options, photos=self.name != "clip")
        context = get_context("spawn")
        progress: Any = queue.SimpleQueue() if self.kind == "thread" else context.Queue()
        threading.Thread(
            target=self._listen, args=(progress,), name=f"posture-{self.name}-progress-{number}", daemon=True
        ).start()
        executor: Executor
        if self.kind == "thread":
            executor = ThreadPoolExecutor(
                1,
                thread_name_prefix=f"posture-{self.name}-{number}",
                initializer=worker.init_process,
                initargs=(config, progress),
            )
        else:
            # spawn, not fork: the server process has threads (event loop, DB pool) a fork would copy.
            executor = ProcessPoolExecutor(
                1, mp_context=context, initializer=worker.init_process, initargs=(config, progress)
            )
        lane = _Lane(executor, progress, number)
        executor.submit(worker.warm_up).add_done_callback(functools.partial(self._warmed, lane))
        return lane

    def _warmed(self, lane: _Lane, future: Future[int]) -> None:
        if future.cancelled() or lane.broken:
            return  # a replaced lane's warm-up says nothing about the pool
        error = future.exception()
        if error is None:
            lane.pid = future.result()
            self.worker_pids.add(lane.pid)
            self._state, self._detail, self._broken_starts = "ok", None, 0
        elif isinstance(error, BrokenProcessPool) and self._broken_starts < MAX_BROKEN_STARTS * self.workers:
            # A worker died while loading its model (killed, out of memory): try a fresh one.
            self._broken_starts += 1
            self._replace(lane)
        elif self._state != "ok":
            self._state, self._detail = "unavailable", str(error)
            log.error("the pose model cannot be loaded: %s", error)

    def _listen(self, progress: Any) -> None:
        """Pass a lane's progress reports to the callbacks of their jobs, until told to stop (None)."""
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

    def _replace(self, lane: _Lane) -> _Lane | None:
        """Put a fresh worker in place of `lane`'s dead one (None once the pool is closed)."""
        with self._lock:
            if lane.broken:
                return None
            lane.broken = True
            if lane.pid is not None:
                self.worker_pids.discard(lane.pid)
            processes = _processes_of(lane.executor)
            if lane in self._free:
                self._free.remove(lane)
            fresh = None
            if not self._closed and lane in self._lanes:
                fresh = self._new_lane(lane.number)
                self._lanes[self._lanes.index(lane)] = fresh
                if not self.worker_pids:
                    self._state = "starting"
                    self._detail = "An analysis worker stopped; a fresh worker is loading the pose model."
        _stop_queue(lane.progress)
        lane.executor.shutdown(wait=False, cancel_futures=True)
        threading.Thread(
            target=_reap, args=(processes, REAP_GRACE_S), name="posture-pool-reaper", daemon=True
        ).start()
        if fresh is not None:
            self._release(fresh)  # the waiting jobs go on: to it, or to the other lanes meanwhile
        return fresh

    def _after(self, lane: _Lane, future: Future[Any]) -> None:
        """A job on `lane` ended: its lane is free again, or replaced if its worker died."""
        lane.key = None
        if not future.cancelled() and isinstance(future.exception(), BrokenProcessPool):
            if not self._closed:
                log.error("an inference worker (%s pool) died; starting a fresh one", self.name)
            self._replace(lane)
        else:
            self._release(lane)

    async def _acquire(self) -> _Lane:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._free and not self._waiters:
                return self._free.pop(0)
            waiter: asyncio.Future[_Lane] = loop.create_future()
            self._waiters.append((loop, waiter))
        try:
            return await waiter
        except asyncio.CancelledError:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove((loop, waiter))
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())  # given a lane just as it was cancelled: pass it on
            raise

    def _release(self, lane: _Lane) -> None:
        """`lane` is free again: to the longest waiting job, else back to the free list."""
        with self._lock:
            if lane.broken or self._closed or lane not in self._lanes:
                return
            while self._waiters:
                loop, waiter = self._waiters.popleft()
                if waiter.done():
                    continue
                try:
                    loop.call_soon_threadsafe(self._give, waiter, lane)
                    return
                except RuntimeError:  # that loop is closed
                    continue
            self._free.append(lane)

    def worker_of(self, key: str) -> int | None:
        """The process id of the worker running the clip job `key` (None: not running, or threads)."""
        with self._lock:
            return next((lane.pid for lane in self._lanes if key and lane.key == key), None)

    def _give(self, waiter: asyncio.Future[_Lane], lane: _Lane) -> None:
        """In the waiter's loop: hand it `lane`, or, cancelled meanwhile, pass the lane on."""
        if waiter.done():
            self._release(lane)
        else:
            waiter.set_result(lane)

    # --- jobs ---

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
            if self._closed:
                raise ServiceUnavailable("job_interrupted", "The server is stopping.")
            if self._in_flight >= self.workers + self.max_queued:
                what = "clips" if self.name == "clip" else "photos"
                raise ServiceUnavailable("busy", f"Too many {what} are being analysed; retry in a moment.")
            self._in_flight += 1
        try:
            self.start()
            for attempt in range(self.workers + 1):
                lane = await self._acquire()
                try:
                    future = lane.executor.submit(task, job)
                    lane.key = getattr(job, "key", None)
                    break
                except BrokenProcessPool:  # its worker died while idle: this job goes to another lane
                    self._replace(lane)
                    if attempt == self.workers:
                        raise ServiceUnavailable(
                            "analysis_unavailable", "The analysis workers keep stopping; please retry."
                        ) from None
                except BaseException:
                    self._release(lane)
                    raise
            # The lane is free when its worker is, not when this caller stops waiting (a cancelled
            # request's photo still occupies the worker until it is done).
            future.add_done_callback(functools.partial(self._after, lane))
            try:
                return await asyncio.wrap_future(future)
            except BrokenProcessPool:
                # This job's worker died (killed, out of memory, a native crash): only this job fails;
                # `_after` has put a fresh worker in its place.
                if self._closed:
                    raise ServiceUnavailable("job_interrupted", "The server is stopping.") from None
                raise ServiceUnavailable(
                    "analysis_unavailable", "The analysis worker stopped unexpectedly; please retry."
                ) from None
        finally:
            with self._lock:
                self._in_flight -= 1

    def close(self, *, kill_running: bool = True) -> None:
        """Stop every worker. `kill_running`: a process worker still running a job is terminated
        rather than waited for (its answer would go nowhere); threads are always waited for."""
        with self._lock:
            self._closed = True
            lanes, self._lanes, self._free = self._lanes, [], []
            waiters, self._waiters = list(self._waiters), collections.deque()
        for loop, waiter in waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_fail_waiter, waiter)
        processes: list[BaseProcess] = []
        for lane in lanes:
            lane.broken = True
            if kill_running and self.kind == "process":
                for process in _processes_of(lane.executor):
                    with contextlib.suppress(Exception):
                        process.terminate()
                    processes.append(process)
                lane.executor.shutdown(wait=False, cancel_futures=True)
            else:
                lane.executor.shutdown(wait=True, cancel_futures=True)
            _stop_queue(lane.progress)
        if processes:
            _reap(processes, STOP_GRACE_S)
        self.worker_pids.clear()


def _fail_waiter(waiter: asyncio.Future[_Lane]) -> None:
    if not waiter.done():
        waiter.set_exception(ServiceUnavailable("job_interrupted", "The server is stopping."))


def _stop_queue(progress: Any) -> None:
    with contextlib.suppress(OSError, ValueError):  # closed already
        progress.put(None)


MAX_BROKEN_STARTS = 3
"""Pools in a row whose workers die while loading before the model is declared unavailable."""
REAP_GRACE_S = 5.0
STOP_GRACE_S = 2.0
"""Seconds a terminated worker has to end at the server's stop before it is killed."""


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
