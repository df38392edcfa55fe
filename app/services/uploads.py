"""The upload pipeline between the route and the worker pool: read the photo part, analyse it off the
event loop, turn a refusal into its 422, and decide `taken_at`."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime

from fastapi import UploadFile

from app.core.errors import ApiError
from app.core.settings import Settings
from app.schemas import BIDI_CONTROLS
from app.services.inference import Analyzer
from posture.intake import IntakeLimits
from posture.options import AnalysisOptions
from posture.worker import Job, JobResult

# Declared part types we accept; anything else (text/plain, application/json...) is 415. The bytes
# themselves decide the image format, so a mislabelled image still works.
_ACCEPTED_PART_TYPES = ("image/", "application/octet-stream")
_EARLIEST, _LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)
# C0 and C1 controls and DEL, and the bidirectional controls (a file name such as "photo\u202egpj.exe").
_UNSAFE_NAME_CHARS = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{BIDI_CONTROLS}]")


def check_taken_at(value: datetime | None) -> datetime | None:
    """Form validator: a plausible time, naive read as UTC."""
    if value is None:
        return None
    value = as_utc(value)
    if value is None:
        raise ValueError("taken_at must lie between 1900 and 2200")
    return value


def as_utc(value: datetime) -> datetime | None:
    """`value` in UTC (naive means UTC), or None when outside 1900–2200 (EXIF clocks can be absurd)."""
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return utc if _EARLIEST <= utc < _LATEST else None


def source_name(filename: str | None) -> str | None:
    """The client's file name (a photo's or a clip's) without directories, control, bidirectional,
    zero-width or other invisible format characters (it is stored and echoed), nor surrounding blanks."""
    if not filename:
        return None
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME_CHARS.sub("", name)
    # Unicode's format (Cf: zero-width space and joiners, BOM, soft hyphen, bidi), control, surrogate
    # and line/paragraph separator characters: invisible, or able to disguise one name as another.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _INVISIBLE_CATEGORIES)
    name = name.encode("utf-8", "replace").decode("utf-8").strip()[:255]
    return name or None


_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def check_part_type(part: UploadFile, accepted: tuple[str, ...], what: str, send: str) -> None:
    """415 for a part declared as another type than `accepted` (prefixes). An undeclared or generic
    part is accepted: the bytes decide the format, so a mislabelled file still works."""
    declared = (part.content_type or "").lower()
    if declared and not declared.startswith(accepted):
        raise ApiError(
            415, "unsupported_media_type", f"The {what} part is declared as {declared[:80]!r}; send {send}."
        )


async def read_part(part: UploadFile, accepted: tuple[str, ...], what: str, send: str) -> bytes:
    """A file part's bytes, whole (photos: they are decoded whole anyway), after `check_part_type`."""
    check_part_type(part, accepted, what, send)
    return await part.read()


async def read_photo(photo: UploadFile) -> bytes:
    return await read_part(photo, _ACCEPTED_PART_TYPES, "photo", "a JPEG, PNG, WebP or HEIC image")


async def analyze_photo(analyzer: Analyzer, job: Job) -> JobResult:
    """Run the analysis in the pool; a refused photo raises 422 with the quality gate's code."""
    outcome = await analyzer.run(job)
    analysis = outcome.analysis
    if not analysis.ok:
        assert analysis.error is not None
        raise ApiError(422, analysis.error.code, analysis.error.message)
    return outcome


def make_job(
    settings: Settings, data: bytes, filename: str | None, options: AnalysisOptions, *, keep_files: bool
) -> Job:
    """The worker's job for an upload; `keep_files` (when the server keeps photos) asks for the
    metadata-free copy and the overlay that the history stores."""
    keep = keep_files and settings.store_photos
    return Job(
        data,
        source_name(filename),
        replace(options, overlay=True) if keep else options,
        keep_photo=keep,
        limits=IntakeLimits(max_file_bytes=settings.max_upload_bytes),
    )


def resolve_taken_at(form_value: datetime | None, outcome: JobResult, now: datetime) -> datetime:
    """The form's value, else the photo's EXIF capture time, else the upload time."""
    if form_value is not None:
        return form_value
    exif = outcome.analysis.image.taken_at
    if exif is not None and (utc := as_utc(exif)) is not None:
        return utc
    return now
