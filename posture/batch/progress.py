"""Progress on stderr: a tqdm bar on a terminal, a plain line every few seconds otherwise (CI logs, cron)."""

from __future__ import annotations

import sys
import time
from typing import Any, Literal, TextIO

ProgressMode = Literal["auto", "bar", "lines", "none"]


class Progress:
    """Counts photos scored, rejected and skipped against `total`.

    Skipped photos (already in the output) shrink the total instead of advancing the count, so the
    rate and ETA describe real work, not instant skips.
    """

    def __init__(
        self,
        total: int,
        *,
        mode: ProgressMode = "auto",
        stream: TextIO | None = None,
        interval_s: float = 10.0,
    ) -> None:
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if _is_terminal(self.stream) else "lines"
        self.mode = mode
        self.total = total
        self.done = self.rejected = self.skipped = 0
        self.interval_s = interval_s
        self._start = time.monotonic()
        self._last_line = self._start
        self._bar: Any = None
        if mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, unit="photo", file=self.stream, dynamic_ncols=True, smoothing=0.05, leave=True
            )

    def scored(self, ok: bool) -> None:
        self.done += 1
        self.rejected += not ok
        if self._bar is not None:
            self._bar.update(1)
            self._postfix()
        else:
            self._maybe_line()

    def skipped_one(self) -> None:
        self.skipped += 1
        self.total -= 1
        if self._bar is not None:
            self._bar.total = self.total
            self._postfix()
        else:
            self._maybe_line()

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._start

    def rate(self) -> float:
        elapsed = self.elapsed_s
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        left = self.total - self.done
        eta = _duration(left / rate) if rate > 0 and left > 0 else "-"
        return (
            f"posture batch: {self.done}/{self.total} photos, {self.rejected} rejected, "
            f"{self.skipped} skipped, {rate:.2f} photos/s, ETA {eta}"
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.mode == "lines" and self.done:
            self._write(self.line())

    def _postfix(self) -> None:
        # No forced refresh: tqdm redraws at its own pace, so a burst of skips costs nothing.
        self._bar.set_postfix(rejected=self.rejected, skipped=self.skipped, refresh=False)

    def _maybe_line(self) -> None:
        now = time.monotonic()
        if self.mode == "lines" and now - self._last_line >= self.interval_s:
            self._last_line = now
            self._write(self.line())

    def _write(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
