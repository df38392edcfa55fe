"""What a batch run scores: photo files, folders searched recursively, and CSV manifests.

Discovery only lists paths (cheap, so the progress bar knows its total); the photos are read later,
one at a time, by `read_job`, which also takes each file's content hash for resuming. Movement clips
(MP4, MOV, WebM) are listed too: `read_clip_job` hashes one and names it for the worker, which reads
the file itself (a clip is too large to send whole).
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from ..intake import IntakeLimits
from ..movement.clip import VIDEO_SUFFIXES
from ..movement.options import ClipOptions
from ..options import MAX_CAMERA_ROLL_DEG, ROLL_SOURCES, AnalysisOptions, camera_roll_options
from ..trends import visit_label
from ..worker import ClipJob, Job

# Extensions of the formats `posture.intake` reads; a folder search picks these and the clips.
PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif"})
MANIFEST_EXTENSIONS = frozenset({".csv"})
# Movement clips (`posture.analyze_clip`), listed beside the photos.
CLIP_EXTENSIONS = VIDEO_SUFFIXES


class BatchInputError(ValueError):
    """An input the run cannot start with (bad manifest, bad subject rule): a usage error, not a photo's."""


@dataclass(frozen=True)
class BatchItem:
    """One photo to score.

    `source` is the path as the user wrote it (or the manifest's path joined to the manifest's folder);
    it names the photo in every output row. `subject` and `taken_at` come from a manifest or the
    subject rule; None when unknown.
    """

    path: Path
    source: str
    subject: str | None = None
    taken_at: datetime | None = None
    camera_roll: float | str | None = None
    """The manifest's `camera_roll`: degrees, `off`, or None (the run's option)."""
    visit: str | None = None
    """The manifest's `visit` label: with `--store`, photos of one label form one visit."""
    camera_roll_source: str = "given"
    """The manifest's `camera_roll_source`: who read a `camera_roll` in degrees, `given` or `device`."""

    @property
    def is_clip(self) -> bool:
        """A movement clip (by its extension), scored by `analyze_clip` rather than `analyze`."""
        return self.path.suffix.lower() in CLIP_EXTENSIONS


@dataclass(frozen=True)
class ReadClip:
    """A clip named for the worker (which reads it from its path) and its content hash (None when
    unreadable)."""

    job: ClipJob
    sha256: str | None


@dataclass(frozen=True)
class ReadPhoto:
    """A photo read by the driver: the worker's `Job` and the content hash (None when unreadable)."""

    job: Job
    sha256: str | None


SubjectRule = Callable[[BatchItem], str | None]


def subject_rule(spec: str | None) -> SubjectRule | None:
    """Parse `--subject-from`: `folder` (the photo's folder name) or `regex:PATTERN`.

    With a regex, the subject is the named group `subject`, else group 1, else the whole match,
    searched in the photo's path as written (with `/` separators); no match gives no subject.
    """
    if spec is None:
        return None
    if spec == "folder":
        return lambda item: item.path.absolute().parent.name or None
    if spec.startswith("regex:"):
        try:
            pattern = re.compile(spec.removeprefix("regex:"))
        except re.error as exc:
            raise BatchInputError(f"--subject-from: invalid regular expression: {exc}") from exc
        return lambda item: _regex_subject(pattern, item.source.replace(os.sep, "/"))
    raise BatchInputError(f"--subject-from must be 'folder' or 'regex:PATTERN', not {spec!r}")


def _regex_subject(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    if match is None:
        return None
    if "subject" in pattern.groupindex:
        value = match.group("subject")
    elif pattern.groups:
        value = match.group(1)
    else:
        value = match.group(0)
    return value or None


def discover(
    inputs: Iterable[str | os.PathLike[str]], subject_from: SubjectRule | None = None
) -> list[BatchItem]:
    """Every photo named by `inputs`, in order, each file once.

    Folders are searched recursively in sorted order for photo extensions, skipping hidden files and
    folders (`.DS_Store`, `._photo.jpg` resource forks). A `.csv` file is a manifest. Any other path is
    a photo, even one that does not exist: it gets a rejected row rather than stopping the run.
    """
    items: list[BatchItem] = []
    seen: set[Path] = set()

    def add(item: BatchItem) -> None:
        key = _identity(item.path)
        if key in seen:
            return
        seen.add(key)
        if item.subject is None and subject_from is not None:
            item = replace(item, subject=subject_from(item))
        items.append(item)

    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            for photo in _walk(path):
                add(BatchItem(photo, str(photo)))
        elif path.suffix.lower() in MANIFEST_EXTENSIONS and path.is_file():
            for item in read_manifest(path):
                add(item)
        else:
            add(BatchItem(path, str(path)))
    return items


def read_manifest(manifest: Path) -> Iterator[BatchItem]:
    """Rows of a CSV manifest: `path` (required; relative to the manifest's folder), `subject`,
    `taken_at` (ISO 8601 date or date-time), `camera_roll` (degrees, or `off`), `camera_roll_source`
    (`given`, the default, or `device`: the phone's sensor read that roll) and `visit` (a label:
    with `--store`, the photos of one label form one visit) optional; other columns are ignored. A row
    naming a folder stands for every photo in it, with the row's subject, time and visit."""
    try:
        # utf-8-sig: spreadsheets often save CSV with a byte-order mark.
        with manifest.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            fields = [name.strip().lower() for name in reader.fieldnames or []]
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BatchInputError(f"cannot read manifest {manifest}: {exc}") from exc
    if "path" not in fields:
        raise BatchInputError(f"manifest {manifest} has no 'path' column (columns: path, subject, taken_at)")
    base = manifest.parent
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        cells = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        if not cells.get("path"):
            raise BatchInputError(f"{manifest}:{line}: empty path")
        path = Path(cells["path"])
        if not path.is_absolute():
            path = base / path
        subject = cells.get("subject") or None
        taken_at = _parse_time(cells.get("taken_at", ""), f"{manifest}:{line}")
        roll = _parse_roll(cells.get("camera_roll", ""), f"{manifest}:{line}")
        roll_source = _parse_roll_source(cells.get("camera_roll_source", ""), roll, f"{manifest}:{line}")
        visit = _parse_visit(cells.get("visit", ""), f"{manifest}:{line}")
        if path.is_dir():
            for photo in _walk(path):
                yield BatchItem(photo, str(photo), subject, taken_at, roll, visit, roll_source)
        else:
            yield BatchItem(path, str(path), subject, taken_at, roll, visit, roll_source)


def _parse_time(text: str, where: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise BatchInputError(
            f"{where}: taken_at {text!r} is not an ISO 8601 date or time (e.g. 2024-03-01 or "
            "2024-03-01T08:30:00+01:00)"
        ) from None


def _parse_roll(text: str, where: str) -> float | str | None:
    if not text:
        return None
    if text.lower() == "off":
        return "off"
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not abs(value) <= MAX_CAMERA_ROLL_DEG:
        raise BatchInputError(
            f"{where}: camera_roll {text!r} is not a number of degrees between −45 and 45, nor 'off'"
        )
    return value


def _parse_roll_source(text: str, roll: float | str | None, where: str) -> str:
    source = text.lower() or "given"
    if source not in ROLL_SOURCES:
        raise BatchInputError(f"{where}: camera_roll_source {text[:40]!r} is not 'given' nor 'device'")
    if source == "device" and not isinstance(roll, float):
        raise BatchInputError(f"{where}: camera_roll_source 'device' needs a camera_roll in degrees")
    return source


def _parse_visit(text: str, where: str) -> str | None:
    if not text:
        return None
    try:
        return visit_label(text)
    except ValueError as exc:
        raise BatchInputError(f"{where}: visit {text[:80]!r}: {exc}") from None


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            suffix = os.path.splitext(name)[1].lower()
            if not name.startswith(".") and (suffix in PHOTO_EXTENSIONS or suffix in CLIP_EXTENSIONS):
                yield Path(root) / name


def _identity(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def read_job(
    index: int,
    item: BatchItem,
    options: AnalysisOptions,
    *,
    keep_photo: bool = False,
    limits: IntakeLimits | None = None,
) -> ReadPhoto:
    """Read one photo and hash its content. Never raises: a file that cannot or should not be read
    (missing, unreadable, larger than the intake limit) becomes a job that names only its path, so
    the worker's rejection carries the intake's own code and message."""
    max_bytes = (limits or IntakeLimits()).max_file_bytes

    if item.camera_roll is not None:  # the manifest's camera roll wins over the run's option
        roll = camera_roll_options(item.camera_roll, item.camera_roll_source)
        options = replace(options, **roll)  # type: ignore[arg-type]

    def job(data: bytes | None) -> Job:
        return Job(data, item.source, options, keep_photo, limits, item.path, index)

    try:
        with item.path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                # Hash without holding it in memory; the worker rejects it by size from the path.
                return ReadPhoto(job(None), hashlib.file_digest(f, "sha256").hexdigest())
            data = f.read()
    except OSError:
        return ReadPhoto(job(None), None)
    return ReadPhoto(job(data), hashlib.sha256(data).hexdigest())


def read_clip_job(index: int, item: BatchItem, options: ClipOptions) -> ReadClip:
    """Hash one clip (streamed, never held in memory) and name it for the worker. Never raises: a
    missing or unreadable file still becomes a job, which the worker refuses with `clip_unreadable`."""
    if item.camera_roll is not None:  # the manifest's camera roll wins over the run's option
        roll = camera_roll_options(item.camera_roll, item.camera_roll_source)
        options = replace(options, **roll)  # type: ignore[arg-type]
    job = ClipJob(item.path, options, item.source, key=str(index))
    try:
        with item.path.open("rb") as f:
            return ReadClip(job, hashlib.file_digest(f, "sha256").hexdigest())
    except OSError:
        return ReadClip(job, None)


def resume_key(sha256: str | None, source: str) -> str:
    """What identifies a row across runs: the content hash, or for unreadable files the path."""
    return sha256 if sha256 else f"source:{source}"
