"""Plain-text rows of movement results for terminals (`posture analyze clip.mp4 --test squat`)."""

from __future__ import annotations

from .result import MovementAnalysis

_COLUMNS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "squat": (
        ("squat_shin_peak_deg", "shin°", 7),
        ("squat_depth_pct", "depth%", 7),
        ("squat_heel_lift_pct", "heel%", 7),
        ("squat_trunk_lean_deg", "trunk°", 7),
        ("squat_pelvic_change_deg", "pelvis°", 8),
    ),
    "lunge": (
        ("lunge_shin_peak_deg", "shin°", 7),
        ("lunge_shin_peak_left_deg", "left°", 7),
        ("lunge_shin_peak_right_deg", "right°", 7),
        ("lunge_asymmetry_deg", "diff°", 7),
        ("lunge_heel_lift_pct", "heel%", 7),
    ),
}


def clip_table_header(test: str) -> str:
    cols = "".join(f"{title:>{width}}" for _, title, width in _COLUMNS[test])
    return f"{'clip':<28} {'status':<9} {'reps':>4}{cols} {'overall':>7}  notes"


def format_clip_row(result: MovementAnalysis) -> str:
    name = (result.source or "-").rsplit("/", 1)[-1][:28]
    if not result.ok:
        assert result.error is not None
        failed = f" ({len(result.failed_frames)} frames failed)" if result.failed_frames else ""
        return f"{name:<28} {'rejected':<9} {'-':>4} {result.error.code}: {result.error.message}{failed}"
    cells = "".join(
        f"{v:>{w}.1f}" if (v := result.measures.get(key)) is not None else f"{'-':>{w}}"
        for key, _, w in _COLUMNS[result.test]
    )
    overall = result.scores.get("overall")
    overall_cell = f"{overall:>7}" if overall is not None else f"{'-':>7}"
    return f"{name:<28} {'ok':<9} {len(result.reps):>4}{cells} {overall_cell}  {', '.join(result.warnings)}"
