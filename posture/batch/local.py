"""A small process pool for long-lived, stateful workers: ordered, bounded, crash-tolerant.

Why not `multiprocessing.Pool` or `ProcessPoolExecutor`: `Pool.imap` drains its input eagerly (no
memory bound on a folder of 100 000 photos), neither tells which job a crashed worker was running, and
neither can be terminated promptly on Ctrl-C in Python 3.11. Here each worker has its own pipe and at
most one job at a time, so the driver always knows who holds what:

- a worker that dies (a native crash in the model, the OOM killer) costs exactly the job it was on,
  which is reported through `on_failure`, and a fresh worker takes its place;
- results come back in input order, with at most `max_pending` jobs read but not yet yielded;
- workers ignore SIGINT: Ctrl-C reaches the driver only, which terminates them.

Workers are started with `spawn` (or `forkserver`), never `fork`: the driver may already hold a
MediaPipe graph with running threads, and a forked copy of those is not safe.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import traceback
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from typing import Any, Generic, Protocol, TypeVar

S = TypeVar("S")  # worker state
A = TypeVar("A")  # initialiser argument
J = TypeVar("J")  # job
R = TypeVar("R")  # result

_READY, _DONE, _FAILED, _INIT_FAILED = "ready", "done", "failed", "init_failed"


class _OnFailure(Protocol[J, R]):
    def __call__(self, job: J, detail: str, *, crashed: bool) -> R: ...


class WorkerStartError(RuntimeError):
    """A worker could not start (its initialiser raised or the process died before it was ready)."""


def _worker_main(
    conn: Connection, init: Callable[[A], S], init_arg: A, task: Callable[[S, J], R]
) -> None:  # pragma: no cover - runs in the child process
    # Ctrl-C is the driver's to handle: it reaches the whole process group, and a worker dying of it
    # mid-photo would only print a traceback and lose the job.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        try:
            state = init(init_arg)
        except BaseException as exc:
            conn.send((_INIT_FAILED, _picklable(exc)))
            return
        conn.send((_READY, None))
        while (job := conn.recv()) is not None:
            try:
                message = (_DONE, task(state, job))
            except Exception:
                message = (_FAILED, traceback.format_exc(limit=8))
            conn.send(message)
        close = getattr(state, "close", None)
        if callable(close):
            close()
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return  # the driver is gone (killed, or terminated the pool): nothing left to report to


def _picklable(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a RuntimeError carrying its text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


class _Worker(Generic[J]):
    def __init__(self, ctx: BaseContext, target: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=target, args=(child, *args), daemon=True)
        self.process.start()
        child.close()  # so EOF on our end means the worker is gone
        self.ready = False
        self.job: tuple[int, J] | None = None


class ProcessPool(Generic[A, S, J, R]):
    """`workers` processes, each running `state = init(init_arg)` once, then `task(state, job)` per job.

    Use as a context manager; `imap` may be called again once the previous one is exhausted. Leaving
    the block normally stops the workers gracefully; leaving it by an exception (Ctrl-C included)
    terminates them.
    """

    def __init__(
        self,
        workers: int,
        init: Callable[[A], S],
        init_arg: A,
        task: Callable[[S, J], R],
        *,
        start_method: str = "spawn",
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if start_method == "fork":
            raise ValueError("the 'fork' start method is not safe with MediaPipe; use spawn or forkserver")
        self._ctx = multiprocessing.get_context(start_method)
        self._args = (init, init_arg, task)
        self._workers: list[_Worker[J]] = [self._spawn() for _ in range(workers)]
        self.restarts = 0

    def _spawn(self) -> _Worker[J]:
        return _Worker(self._ctx, _worker_main, self._args)

    @property
    def size(self) -> int:
        return len(self._workers)

    def imap(
        self,
        jobs: Iterable[J],
        *,
        on_failure: _OnFailure[J, R],
        max_pending: int | None = None,
    ) -> Iterator[R]:
        """Results of `task` for each job, in input order.

        A job whose task raised yields `on_failure(job, traceback, crashed=False)` instead; one whose
        worker died, `on_failure(job, exit_code_text, crashed=True)`.
        `max_pending` (default 4 per worker) bounds jobs taken from `jobs` but not yet yielded, which
        bounds memory when one slow job holds up the ones behind it.
        """
        limit = max(max_pending or 4 * self.size, self.size)
        source = iter(enumerate(jobs))
        ahead: tuple[int, J] | None = None  # the next job, read while the workers are busy
        exhausted = False
        taken = 0  # jobs taken from `jobs` and not yet yielded
        done: dict[int, R] = {}
        next_out = 0

        def take() -> tuple[int, J] | None:
            nonlocal exhausted, taken
            if exhausted or taken >= limit:
                return None
            try:
                item = next(source)
            except StopIteration:
                exhausted = True
                return None
            taken += 1
            return item

        while True:
            # Hand a job to every idle worker.
            for worker in self._workers:
                if worker.ready and worker.job is None:
                    item, ahead = ahead or take(), None
                    if item is None:
                        break
                    worker.job = item
                    worker.conn.send(item[1])
            if ahead is None:
                ahead = take()

            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
                taken -= 1

            busy = [w for w in self._workers if w.job is not None or not w.ready]
            if not busy:
                if ahead is None and exhausted:
                    return
                # The pending bound stopped the hand-out before the yields above made room: go again.
                continue

            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                if worker.conn in ready or worker.process.sentinel in ready:
                    finished = self._service(worker, on_failure)
                    if finished is not None:
                        done[finished[0]] = finished[1]

    def _service(self, worker: _Worker[J], on_failure: _OnFailure[J, R]) -> tuple[int, R] | None:
        """Handle one worker's message or death; returns a finished (index, result) if any."""
        try:
            if worker.conn.poll():
                kind, payload = worker.conn.recv()
                return self._on_message(worker, kind, payload, on_failure)
        except (EOFError, OSError):
            pass  # fall through: the worker is gone
        if worker.process.is_alive():
            return None
        # The worker died: its job (if any) is lost with it; replace the worker.
        worker.process.join()
        code = worker.process.exitcode
        if not worker.ready:
            self.terminate()
            raise WorkerStartError(f"a worker process exited while starting (exit code {code})")
        lost = worker.job
        self._replace(worker)
        if lost is None:
            return None
        return lost[0], on_failure(lost[1], f"the worker process died (exit code {code})", crashed=True)

    def _on_message(
        self, worker: _Worker[J], kind: str, payload: Any, on_failure: _OnFailure[J, R]
    ) -> tuple[int, R] | None:
        if kind == _READY:
            worker.ready = True
            return None
        if kind == _INIT_FAILED:
            self.terminate()
            raise payload
        assert worker.job is not None
        index, job = worker.job
        worker.job = None
        if kind == _DONE:
            return index, payload
        return index, on_failure(job, payload, crashed=False)

    def _replace(self, worker: _Worker[J]) -> None:
        worker.conn.close()
        self._workers[self._workers.index(worker)] = self._spawn()
        self.restarts += 1

    def close(self, timeout: float = 10.0) -> None:
        """Ask idle workers to stop, wait up to `timeout` s for them, then terminate any left."""
        for worker in self._workers:
            with contextlib.suppress(OSError, ValueError):  # already gone
                worker.conn.send(None)
        for worker in self._workers:
            worker.process.join(timeout)
        self.terminate()

    def terminate(self) -> None:
        """Stop every worker now (SIGTERM), whatever it is doing."""
        for worker in self._workers:
            if worker.process.is_alive():
                worker.process.terminate()
        for worker in self._workers:
            worker.process.join(5)
            if worker.process.is_alive():  # pragma: no cover - SIGTERM ignored
                worker.process.kill()
                worker.process.join()
            worker.conn.close()

    def __enter__(self) -> ProcessPool[A, S, J, R]:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.terminate()
