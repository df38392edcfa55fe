"""MediaPipe's native logs (LiteRT, TFLite, absl), muted unless asked for.

The landmarker's C++ side writes straight to file descriptor 2, past Python's logging, and
`GLOG_minloglevel`/`TF_CPP_MIN_LOG_LEVEL` do not reach LiteRT's own logger: each landmarker made prints
about thirty lines ("Sparsity tensors may not yet be fully supported", "XNNPACK CPU accelerator
registered", …) and its first frame a few more ("Logging before InitGoogle()", …). `quiet_native()`
points fd 2 at /dev/null for the time of such a call only, so the user's own output and Python's
tracebacks are untouched around it. It is process-wide and counted: threads that overlap restore fd 2
once, at the last exit (Python writing to stderr from another thread inside that moment is lost with
it). `POSTURE_NATIVE_LOGS=1` turns it off: the CLI's and `posture serve`'s `--verbose` set it, and the
worker processes they start inherit it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

NATIVE_LOGS_ENV = "POSTURE_NATIVE_LOGS"

_lock = threading.Lock()
_depth = 0
_saved_fd = -1


def native_logs_wanted() -> bool:
    return os.environ.get(NATIVE_LOGS_ENV, "").strip().lower() not in ("", "0", "false", "no")


def show_native_logs() -> None:
    """Let the native logs through, in this process and the worker processes it starts from now on."""
    os.environ[NATIVE_LOGS_ENV] = "1"


@contextmanager
def quiet_native() -> Iterator[None]:
    """Mute fd 2 around a native call that logs on its own (a landmarker made, its first frame)."""
    if native_logs_wanted():
        yield
        return
    entered = _enter()
    try:
        yield
    finally:
        if entered:
            _exit()


def _enter() -> bool:
    global _depth, _saved_fd
    with _lock:
        if _depth == 0:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
                devnull = os.open(os.devnull, os.O_WRONLY)
            except (OSError, AttributeError, ValueError):  # no usable fd 2 (embedded, closed): leave it
                return False
            os.dup2(devnull, 2)
            os.close(devnull)
            _saved_fd = saved
        _depth += 1
        return True


def _exit() -> None:
    global _depth, _saved_fd
    with _lock:
        _depth -= 1
        if _depth == 0 and _saved_fd >= 0:
            os.dup2(_saved_fd, 2)
            os.close(_saved_fd)
            _saved_fd = -1
