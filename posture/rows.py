"""One flat row per analysis: the CSV form of `Analysis.to_dict()`, shared by batch CSV and API export.

Column names follow the analysis object: top-level fields keep their names (`source`, `status`,
`facing`…), nested ones are joined with `_` (`error_code`, `image_width`), each measure is its own
column under its own name (`pelvic_tilt_deg`), scores and bands are `score_<area>` and `band_<area>`,
and the versions are `package`, `model_sha256` and `rules`. Three columns are not in the analysis
because they describe the file rather than the picture: `sha256` (content hash), `subject` and
`taken_at` (the manifest's time, else the photo's EXIF time).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .measures import MEASURE_NAMES
from .result import Analysis
from .scoring import AREAS

SCORE_KEYS: tuple[str, ...] = ("overall", *AREAS)

CSV_COLUMNS: tuple[str, ...] = (
    "source",
    "sha256",
    "subject",
    "taken_at",
    "status",
    "error_code",
    "error_message",
    "facing",
    "side",
    "mode",
    "camera_roll_deg",
    "camera_level_roll_deg",
    "camera_level_source",
    "camera_level_confidence",
    "image_width",
    "image_height",
    "image_taken_at",
    *MEASURE_NAMES,
    *(f"score_{key}" for key in SCORE_KEYS),
    *(f"band_{key}" for key in SCORE_KEYS),
    "warnings",
    "not_measured",
    "package",
    "model_sha256",
    "rules",
)

# Lists in one cell: `;` does not occur in warning or reason codes and keeps the CSV comma-free.
LIST_SEPARATOR = ";"

# Text a spreadsheet would run as a formula: a photo named "=HYPERLINK(…).jpg" must stay text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A row value as written to CSV: None as empty, formula-like text behind a `'`, others as is."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(cell: str) -> str:
    """The text `csv_cell` was given, from what it wrote (for reading a result file back)."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] and cell[1:].startswith(_FORMULA_STARTS) else cell


def analysis_record(
    analysis: Analysis,
    *,
    sha256: str | None = None,
    subject: str | None = None,
    taken_at: datetime | None = None,
) -> dict[str, Any]:
    """`analysis.to_dict()` plus the file's `sha256`, `subject` and effective `taken_at` (the JSONL row)."""
    record = analysis.to_dict()
    effective = taken_at or analysis.image.taken_at
    record["sha256"] = sha256
    record["subject"] = subject
    record["taken_at"] = effective.isoformat() if effective else None
    return record


def flatten_analysis(
    analysis: Analysis | Mapping[str, Any],
    *,
    sha256: str | None = None,
    subject: str | None = None,
    taken_at: datetime | str | None = None,
) -> dict[str, Any]:
    """A flat row keyed by `CSV_COLUMNS`, in that order; None where a value is absent.

    `analysis` is an `Analysis` or its `to_dict()` form (for example a stored JSON document or a batch
    JSONL line, whose own `sha256`/`subject`/`taken_at` keys are used when the arguments are None).
    """
    data: Mapping[str, Any] = analysis.to_dict() if isinstance(analysis, Analysis) else analysis
    error = data.get("error") or {}
    image = data.get("image") or {}
    measures = data.get("measures") or {}
    scores = data.get("scores") or {}
    bands = data.get("bands") or {}
    versions = data.get("versions") or {}
    level = data.get("camera_level") or {}
    when = taken_at if taken_at is not None else data.get("taken_at") or image.get("taken_at")
    row: dict[str, Any] = {
        "source": data.get("source"),
        "sha256": sha256 if sha256 is not None else data.get("sha256"),
        "subject": subject if subject is not None else data.get("subject"),
        "taken_at": when.isoformat() if isinstance(when, datetime) else when,
        "status": data.get("status"),
        "error_code": error.get("code"),
        "error_message": error.get("message"),
        "facing": data.get("facing"),
        "side": data.get("side"),
        "mode": data.get("mode"),
        "camera_roll_deg": data.get("camera_roll_deg"),
        "camera_level_roll_deg": level.get("roll_deg"),
        "camera_level_source": level.get("source"),
        "camera_level_confidence": level.get("confidence"),
        "image_width": image.get("width"),
        "image_height": image.get("height"),
        "image_taken_at": image.get("taken_at"),
    }
    row.update({name: measures.get(name) for name in MEASURE_NAMES})
    row.update({f"score_{key}": scores.get(key) for key in SCORE_KEYS})
    row.update({f"band_{key}": bands.get(key) for key in SCORE_KEYS})
    row["warnings"] = LIST_SEPARATOR.join(data.get("warnings") or []) or None
    not_measured = data.get("not_measured") or {}
    row["not_measured"] = LIST_SEPARATOR.join(f"{k}={v}" for k, v in not_measured.items()) or None
    row["package"] = versions.get("package")
    row["model_sha256"] = versions.get("model_sha256")
    row["rules"] = versions.get("rules")
    return row
