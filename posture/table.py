"""Plain-text rendering of analyses for terminals."""

from __future__ import annotations

from .result import Analysis

# (measure key, column title, width) shown in the table when present.
_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("pelvic_tilt_deg", "pelvis°", 8),
    ("lumbar_lordosis_deg", "lumbar°", 8),
    ("shank_angle_deg", "shank°", 7),
    ("knee_angle_deg", "knee°", 6),
    ("trunk_lean_deg", "trunk°", 7),
    ("head_forward_deg", "head°", 6),
)


def table_header() -> str:
    cols = "".join(f"{title:>{width}}" for _, title, width in _COLUMNS)
    return f"{'photo':<28} {'status':<9} {'facing':<6}{cols} {'overall':>7}  notes"


def format_table_row(result: Analysis) -> str:
    name = (result.source or "-").rsplit("/", 1)[-1][:28]
    if not result.ok:
        assert result.error is not None
        return f"{name:<28} {'rejected':<9} {'-':<6} {result.error.code}: {result.error.message}"
    cells = "".join(_cell(result.measures.get(key), width) for key, _, width in _COLUMNS)
    overall = result.scores.get("overall")
    overall_cell = f"{overall:>7}" if overall is not None else f"{'-':>7}"
    notes = ", ".join(result.warnings)
    return f"{name:<28} {'ok':<9} {result.facing or '-':<6}{cells} {overall_cell}  {notes}"


def _cell(value: float | None, width: int) -> str:
    return f"{value:>{width}.1f}" if value is not None else f"{'-':>{width}}"
