"""The server's background sweep (`app.storage.sweep`): once at start-up, then every
`POSTURE_SWEEP_INTERVAL_S`. It runs in a worker thread, so requests are served meanwhile, and stops
between batches when the server shuts down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from app.core.db import Database
from app.storage.files import FileStore
from app.storage.sweep import SweepReport, sweep

log = logging.getLogger(__name__)


@dataclass
class _Run:
    """One lifespan's sweeping: its task (in that lifespan's event loop) and how to stop it."""

    task: asyncio.Task[None]
    wake: asyncio.Event
    stop: threading.Event


class Sweeper:
    """Sweeps while an app runs. An app may be started more than once (tests do, each time in a new
    event loop): each start gets its own task, stopped by the same lifespan."""

    def __init__(self, db: Database, store: FileStore, interval_s: float, grace_s: float) -> None:
        self.db = db
        self.store = store
        self.interval_s = interval_s
        self.grace_s = grace_s
        self.last: SweepReport | None = None
        self.runs = 0
        self.first_done = threading.Event()
        """Set once the start-up sweep has ended (successfully or not)."""

    def sweep_once(self, should_stop: Callable[[], bool] = lambda: False) -> SweepReport:
        with self.db.session() as session:
            report = sweep(session, self.store, self.grace_s, should_stop=should_stop)
        self.last, self.runs = report, self.runs + 1
        return report

    def start(self) -> _Run:
        """Start sweeping in the running event loop (the app's lifespan); `stop` it with the result."""
        self.first_done.clear()
        wake, stop = asyncio.Event(), threading.Event()
        task = asyncio.get_running_loop().create_task(self._loop(wake, stop), name="posture-sweeper")
        return _Run(task, wake, stop)

    async def stop(self, run: _Run, timeout_s: float = 10) -> None:
        run.stop.set()
        run.wake.set()
        # A sweep blocked on an unreachable store is abandoned (its thread ends with its request).
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(run.task), timeout_s)

    async def _loop(self, wake: asyncio.Event, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                report = await asyncio.to_thread(self.sweep_once, stop.is_set)
            except Exception:
                log.exception("file sweep failed (retried at the next interval)")
            else:
                if report.acted:
                    log.info("file sweep: %s", report.summary())
            finally:
                self.first_done.set()
            if self.interval_s <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.interval_s)
