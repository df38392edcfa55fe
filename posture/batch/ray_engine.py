"""The Ray engine: the same workers as actors, one `PoseModel` per actor, on a laptop or a cluster.

Ray is imported only here and only when this engine runs, so it stays an optional dependency.
The driver reads the photos and ships their bytes (and the model file, checked by SHA-256 on arrival),
so worker nodes need the posture-profile package but neither the photos' file system nor `models/`.
"""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from ..errors import ModelIntegrityError
from ..model import load_model_bytes
from ..worker import FailureHandler, Job, JobResult, Worker, WorkerConfig

# Jobs queued on one actor: one running and one waiting, so an actor never idles for a round trip.
_PER_ACTOR = 2


class EngineUnavailableError(RuntimeError):
    """The requested engine cannot run here (Ray not installed, cluster unreachable)."""


class RayWorker(Worker):
    """`posture.worker.Worker` as a Ray actor (the actor class is made with `ray.remote` at run time)."""

    def ready(self) -> str:
        return self.model.sha256


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise EngineUnavailableError(
            "the Ray engine needs Ray: pip install 'posture-profile[ray]' (for ray:// addresses, "
            "'ray[client]' as well)"
        ) from None
    return ray


def ray_imap(
    jobs: Iterable[Job],
    *,
    config: WorkerConfig,
    on_failure: FailureHandler,
    actors: int | None = None,
    address: str | None = None,
    max_pending: int | None = None,
) -> Iterator[JobResult]:
    """Score `jobs` on Ray actors; results in input order.

    Connects to `address` (`auto`, `ray://host:10001`, …) or starts a local Ray instance, unless Ray is
    already initialised in this process (then that connection is used and left open). `actors`
    defaults to the cluster's CPU count. A local instance started here is shut down at the end.
    """
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        _check_reachable(address)
        try:
            ray.init(address=address, include_dashboard=False, logging_level="warning")
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = address or "a new local instance"
            raise EngineUnavailableError(f"cannot start or reach Ray at {where}: {exc}") from exc
    pool: _ActorPool | None = None
    try:
        n = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        # The driver's model goes to the object store once; every actor reads the same copy.
        model_bytes = load_model_bytes(config.model.model_path, config.model.expected_sha256)
        pool = _ActorPool(ray, ray.put(replace(config, model_bytes=model_bytes)), n)
        yield from pool.imap(jobs, on_failure, max(max_pending or 4 * n, n))
    finally:
        if pool is not None:
            pool.kill()
        if started_here:
            ray.shutdown()


def _check_reachable(address: str | None, timeout_s: float = 5.0) -> None:
    """Fail in seconds, not minutes, when nothing listens at an explicit `host:port` address (Ray
    itself keeps retrying a missing head node for a long time)."""
    if not address or address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # not host:port; let Ray judge it
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise EngineUnavailableError(f"no Ray cluster answers at {address}: {exc}") from None


class _ActorPool:
    """Actors kept fed (`_PER_ACTOR` jobs each), results yielded in input order.

    Ray's own `ActorPool.get_next` frees an actor only when its result is consumed in order, so one
    slow photo idles the others; here results are collected as they finish and reordered. Actors are
    not restarted by Ray: when one dies, the oldest job it held (the one it was running) is reported
    through `on_failure`, the jobs queued behind it go to other actors, and a new actor takes its slot
    — the same rule as the local pool.
    """

    def __init__(self, ray: Any, config_ref: Any, size: int) -> None:
        self.ray = ray
        self.config_ref = config_ref  # held for the whole run: replacement actors read it
        self.actor_class = ray.remote(num_cpus=1, max_restarts=0)(RayWorker)
        self.actors = [self.actor_class.remote(config_ref) for _ in range(size)]
        self._wait_ready(self.actors)
        self.restarts = 0

    def _wait_ready(self, actors: list[Any]) -> None:
        """A model that fails its integrity check fails the run, as it does locally."""
        ray = self.ray
        try:
            ray.get([actor.ready.remote() for actor in actors])
        except ray.exceptions.RayActorError as exc:
            text = str(getattr(exc, "cause", None) or exc)
            if "ModelIntegrityError" in text:
                raise ModelIntegrityError(text) from None
            raise EngineUnavailableError(f"Ray actors failed to start: {text}") from None

    def imap(self, jobs: Iterable[Job], on_failure: FailureHandler, limit: int) -> Iterator[JobResult]:
        ray = self.ray
        source = iter(jobs)
        exhausted = False
        queues: list[deque[Any]] = [deque() for _ in self.actors]  # refs per actor, oldest first
        pending: dict[Any, tuple[Job, int]] = {}  # ObjectRef -> (job, actor slot)
        retry: deque[Job] = deque()  # jobs queued on an actor that died before running them
        done: dict[int, JobResult] = {}
        order: deque[int] = deque()  # job indices in input order
        while True:
            while retry or (not exhausted and len(pending) + len(done) < limit):
                slot = min(range(len(self.actors)), key=lambda i: len(queues[i]))
                if len(queues[slot]) >= _PER_ACTOR:
                    break
                if retry:
                    job = retry.popleft()
                else:
                    try:
                        job = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    order.append(job.index)
                ref = self.actors[slot].run.remote(job)
                pending[ref] = (job, slot)
                queues[slot].append(ref)
            while order and order[0] in done:
                yield done.pop(order.popleft())
            if not pending:
                if exhausted and not retry:
                    return
                continue
            ready, _ = ray.wait(list(pending), num_returns=1)
            ref = ready[0]
            if ref not in pending:  # handled with its dead actor's other jobs
                continue
            job, slot = pending[ref]
            try:
                result = ray.get(ref)
            except ray.exceptions.RayActorError:
                self._actor_died(slot, queues[slot], pending, retry, done, on_failure)
                continue
            except ray.exceptions.RayTaskError as exc:
                result = on_failure(job, str(exc), crashed=False)
            del pending[ref]
            queues[slot].remove(ref)
            done[job.index] = result

    def _actor_died(
        self,
        slot: int,
        queue: deque[Any],
        pending: dict[Any, tuple[Job, int]],
        retry: deque[Job],
        done: dict[int, JobResult],
        on_failure: FailureHandler,
    ) -> None:
        ray = self.ray
        blamed = False
        while queue:
            ref = queue.popleft()
            job, _ = pending.pop(ref)
            if blamed:
                retry.append(job)
                continue
            try:  # it may have finished before the actor died
                done[job.index] = ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                blamed = True
                done[job.index] = on_failure(job, f"the Ray actor died: {exc}", crashed=True)
            except ray.exceptions.RayTaskError as exc:
                done[job.index] = on_failure(job, str(exc), crashed=False)
        self.restarts += 1
        # Kill it even if Ray only calls it unavailable: a half-alive actor would keep its CPU and
        # could leave none for its replacement.
        ray.kill(self.actors[slot])
        replacement = self.actor_class.remote(self.config_ref)
        self._wait_ready([replacement])
        self.actors[slot] = replacement

    def kill(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
