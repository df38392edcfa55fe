"""Worker functions for the process-pool tests (top level, so spawned workers can import them)."""

from __future__ import annotations

import os
import time


def init_state(arg: str) -> dict[str, int]:
    if arg == "fail":
        raise ValueError("initialiser failed on purpose")
    if arg == "die":
        os._exit(9)
    return {"pid": os.getpid()}


def task(state: dict[str, int], job: tuple[str, float]) -> float:
    """`("sleep", s)` returns s after sleeping s; `("crash", _)` kills the worker; `("raise", _)` raises."""
    kind, value = job
    if kind == "crash":
        os._exit(7)
    if kind == "raise":
        raise RuntimeError("task failed on purpose")
    time.sleep(value)
    return value


def on_failure(job: tuple[str, float], detail: str, *, crashed: bool) -> str:
    return f"{'crashed' if crashed else 'raised'}:{job[0]}"
