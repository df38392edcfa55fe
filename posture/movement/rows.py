"""One flat row per movement clip: the CSV form of `MovementAnalysis.to_dict()` (batch `.clips.csv`).

The photo rows' conventions (`posture.rows`): nested fields joined with `_`, each measure its own column
under its own name, lists `;`-joined, plus the file's `sha256` and `subject`.
"""

from __future__ import annotations

from typing import Any

from ..rows import LIST_SEPARATOR
from .measures import MOVEMENT_MEASURE_NAMES
from .result import MovementAnalysis

CLIP_CSV_COLUMNS: tuple[str, ...] = (
    "source",
    "sha256",
    "subject",
    "status",
    "error_code",
    "error_message",
    "test",
    "facing",
    "side",
    "reps",
    "clip_duration_s",
    "clip_frames_sampled",
    "failed_frames",
    "camera_roll_deg",
    "camera_level_source",
    *MOVEMENT_MEASURE_NAMES,
    "score_overall",
    "band_overall",
    "warnings",
    "package",
    "model_sha256",
    "rules",
    # The measures shown but not scored (`MovementAnalysis.withheld`): last, so columns keep their place.
    "withheld",
)


def clip_record(analysis: MovementAnalysis, *, sha256: str | None, subject: str | None) -> dict[str, Any]:
    """`analysis.to_dict()` plus the file's `sha256` and `subject` (the JSONL line)."""
    record = analysis.to_dict()
    record["sha256"] = sha256
    record["subject"] = subject
    return record


def flatten_clip(analysis: MovementAnalysis, *, sha256: str | None, subject: str | None) -> dict[str, Any]:
    """A flat row keyed by `CLIP_CSV_COLUMNS`; None where a value is absent."""
    error = analysis.error
    row: dict[str, Any] = {
        "source": analysis.source,
        "sha256": sha256,
        "subject": subject,
        "status": analysis.status,
        "error_code": error.code if error else None,
        "error_message": error.message if error else None,
        "test": analysis.test,
        "facing": analysis.facing,
        "side": analysis.side,
        "reps": len(analysis.reps) if analysis.ok else None,
        "clip_duration_s": analysis.clip.duration_s,
        "clip_frames_sampled": analysis.clip.frames_sampled,
        "failed_frames": LIST_SEPARATOR.join(str(f.index) for f in analysis.failed_frames) or None,
        "camera_roll_deg": analysis.camera_roll_deg if analysis.ok else None,
        "camera_level_source": analysis.camera_level.source if analysis.ok else None,
    }
    row.update({name: analysis.measures.get(name) for name in MOVEMENT_MEASURE_NAMES})
    row["score_overall"] = analysis.scores.get("overall")
    row["band_overall"] = analysis.bands.get("overall")
    row["warnings"] = LIST_SEPARATOR.join(analysis.warnings) or None
    row["package"] = analysis.versions.package
    row["model_sha256"] = analysis.versions.model_sha256
    row["rules"] = analysis.versions.rules
    row["withheld"] = LIST_SEPARATOR.join(analysis.withheld) or None
    return row
