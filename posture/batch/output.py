"""Result files that survive interruption: CSV or JSON Lines, appended one whole row at a time.

Every row is written with a single `write` and flushed, so Ctrl-C (or a crash) leaves a file whose
rows are all complete; a row cut short by a hard kill is trimmed on the next open. Opening an
existing file collects the keys of the rows already in it (content hashes), which is what makes a
re-run resume instead of starting over. A CSV run's movement clips have their own columns, so they go
to a second file beside it, `<name>.clips.csv` (JSON Lines hold both kinds in one file).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from ..movement.rows import CLIP_CSV_COLUMNS
from ..rows import CSV_COLUMNS, csv_cell, csv_text
from .inputs import BatchInputError, resume_key

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class Writable(Protocol):
    """A scored photo as the writers need it (`posture.batch.BatchResult`)."""

    def row(self) -> Mapping[str, Any]: ...

    def record(self) -> Mapping[str, Any]: ...


class ResultWriter(Protocol):
    path: Path
    done: set[str]
    """Resume keys of the rows already in the file when it was opened."""

    def write(self, result: Writable) -> None: ...

    def close(self) -> None: ...


class ResultSink(Protocol):
    """Where else a run's results go, written beside the file (the service's history store).

    `keep_photos`: the sink stores the metadata-free photo and the overlay, so the workers make them.
    `added` and `location` go into the run's summary line.
    """

    keep_photos: bool
    added: int
    location: str

    def write(self, result: Any) -> None: ...

    def close(self) -> None: ...


def open_writer(path: Path) -> ResultWriter:
    """Open `path` for appending (CSV or JSONL by its suffix), creating it and its folder if needed."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise BatchInputError(f"--out must end in .csv or .jsonl, not {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _trim_partial_row(path)
    return CsvWriter(path) if kind == "csv" else JsonlWriter(path)


def clips_path(path: Path) -> Path:
    """Where a CSV run writes its clips' rows: `out.csv` → `out.clips.csv`."""
    return path.with_name(f"{path.stem}.clips.csv")


class CsvWriter:
    """`CSV_COLUMNS`, header written once; refuses a file with other columns rather than mixing them.
    Clips' rows (`CLIP_CSV_COLUMNS`) go to `clips_path(path)`, opened when the first clip comes (or at
    once when it exists, for its resume keys)."""

    def __init__(self, path: Path, columns: tuple[str, ...] = CSV_COLUMNS, *, clips: bool = True) -> None:
        self.path = path
        self.columns = columns
        self.done: set[str] = set()
        self._clips: CsvWriter | None = None
        self._with_clips = clips
        has_rows = path.exists() and path.stat().st_size > 0
        if has_rows:
            with path.open(newline="", encoding="utf-8") as f:
                reader = csv.reader(f)
                header = next(reader, [])
                if tuple(header) != columns:
                    raise BatchInputError(
                        f"{path} exists with different columns (written by another version?); "
                        "write to a new file or move it away"
                    )
                i_sha, i_src = header.index("sha256"), header.index("source")
                for row in reader:
                    if len(row) == len(header):
                        self.done.add(resume_key(row[i_sha], csv_text(row[i_src])))
        # The clips' file only once the main file is known to be ours: a refused run touches neither.
        if clips and clips_path(path).exists():
            _trim_partial_row(clips_path(path))
            self._clips = CsvWriter(clips_path(path), CLIP_CSV_COLUMNS, clips=False)
            self.done |= self._clips.done
        self._file = path.open("a", newline="", encoding="utf-8")
        if not has_rows:
            self._emit(columns)

    def write(self, result: Writable) -> None:
        if self._with_clips and getattr(result, "is_clip", False):
            if self._clips is None:
                self._clips = CsvWriter(clips_path(self.path), CLIP_CSV_COLUMNS, clips=False)
            self._clips.write(result)
            return
        row = result.row()
        self._emit([csv_cell(row[c]) for c in self.columns])

    def _emit(self, cells: Any) -> None:
        buf = io.StringIO()
        csv.writer(buf).writerow(cells)
        self._file.write(buf.getvalue())
        self._file.flush()

    def close(self) -> None:
        self._file.close()
        if self._clips is not None:
            self._clips.close()


class JsonlWriter:
    """One `Analysis.to_dict()` (plus `sha256`, `subject`, `taken_at`) per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: set[str] = set()
        if path.exists():
            with path.open(encoding="utf-8") as f:
                for n, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        raise BatchInputError(
                            f"{path}:{n} is not a JSON line; is this a batch output file?"
                        ) from None
                    self.done.add(resume_key(row.get("sha256"), row.get("source") or ""))
        self._file = path.open("a", encoding="utf-8")

    def write(self, result: Writable) -> None:
        self._file.write(json.dumps(result.record(), ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _trim_partial_row(path: Path) -> None:
    """Cut a last row left without its newline by a hard kill; it is scored again on this run."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with path.open("rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
        # Walk back to the last newline (rows are short: read the tail in blocks).
        pos = size
        while pos > 0:
            step = min(65536, pos)
            f.seek(pos - step)
            block = f.read(step)
            cut = block.rfind(b"\n")
            if cut >= 0:
                f.truncate(pos - step + cut + 1)
                return
            pos -= step
        f.truncate(0)
