"""The annotated overlay: the photo around the person with the measured geometry drawn on it.

Every overlay has the same size and scale: the person's standing height spans `BODY_PX`, the floor
under the near ankle sits at the same place. Two overlays side by side are therefore at the same
scale and aligned at the ankle, whatever the photos' resolution or framing.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .geometry import from_canonical
from .intake import Photo
from .landmarks import side_index
from .result import Analysis

CANVAS_W, CANVAS_H = 720, 1280
BODY_PX = 860  # standing height on the canvas
ANKLE_AT = (CANVAS_W / 2, 960)  # canvas position of (near ankle x, floor y)
PANEL_Y = 1000  # the legend panel fills the canvas below this

_SKELETON = ("ear", "shoulder", "hip", "knee", "ankle", "heel", "foot_index", "ankle")
_ARM = ("shoulder", "elbow", "wrist")
_COLOURS = {
    "skeleton": (255, 255, 255),
    "joint": (0, 200, 255),
    "plumb": (255, 220, 0),
    "back": (80, 255, 120),
    "chord": (255, 90, 90),
    "pelvis": (255, 130, 255),
    "tibia": (0, 200, 255),
    "level": (120, 200, 255),
}
_LABELS = (
    ("pelvic_tilt_deg", "Pelvic tilt (est.)", "°"),
    ("lumbar_lordosis_deg", "Lumbar curve (est.)", "°"),
    ("shank_angle_deg", "Shin angle", "°"),
    ("knee_angle_deg", "Knee angle", "°"),
    ("trunk_lean_deg", "Trunk lean", "°"),
    ("head_forward_deg", "Head forward", "°"),
    ("body_line_deg", "Body line", "°"),
    ("lunge_tibia_deg", "Lunge tibia", "°"),
)


def render_overlay(photo: Photo, result: Analysis, drawing: dict[str, np.ndarray], frame: dict) -> bytes:
    """PNG bytes of the overlay for an analysed photo; `drawing` holds canonical-frame primitives."""
    lm = np.array([[p.x, p.y] for p in result.landmarks.values()])
    side = result.side or "left"
    ankle = lm[side_index("ankle", side)]
    floor_y = max(lm[side_index(p, side), 1] for p in ("heel", "foot_index", "ankle"))
    plumb = drawing.get("plumb")
    height_px = float(abs(plumb[0, 1] - plumb[1, 1])) if plumb is not None else float(np.ptp(lm[:, 1]))
    s = BODY_PX / max(height_px, 1.0)  # canvas px per full-size photo px

    def to_canvas(points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, float) - (ankle[0], floor_y)) * s + ANKLE_AT

    # Background: the working image mapped onto the canvas by the same similarity transform.
    k = s / photo.scale
    matrix = np.array([[k, 0, ANKLE_AT[0] - ankle[0] * s], [0, k, ANKLE_AT[1] - floor_y * s]])
    canvas = cv2.warpAffine(
        photo.rgb, matrix, (CANVAS_W, CANVAS_H), flags=cv2.INTER_LINEAR, borderValue=(24, 24, 24)
    )
    image = Image.fromarray((canvas * 0.65).astype(np.uint8))  # dimmed so the drawing stands out
    draw = ImageDraw.Draw(image)

    def canon_to_canvas(points: np.ndarray) -> np.ndarray:
        return to_canvas(from_canonical(points, **frame))

    def line(points: np.ndarray, colour: tuple[int, int, int], width: int = 4) -> None:
        draw.line([tuple(p) for p in points], fill=colour, width=width, joint="curve")

    # The level reference: the room's lines the camera's roll was read from (full-size photo pixels).
    for x1, y1, x2, y2 in drawing.get("level_segments", np.zeros((0, 4))):
        line(to_canvas(np.array([[x1, y1], [x2, y2]])), _COLOURS["level"], 2)
    if plumb is not None:
        line(canon_to_canvas(plumb), _COLOURS["plumb"], 3)
    if "back_profile" in drawing:
        line(canon_to_canvas(drawing["back_profile"]), _COLOURS["back"], 4)
    if "lumbar_chord" in drawing:
        line(canon_to_canvas(drawing["lumbar_chord"]), _COLOURS["chord"], 3)
        line(canon_to_canvas(drawing["lumbar_depth"]), _COLOURS["chord"], 3)
    if "pelvis" in drawing:
        a, b = drawing["pelvis"]
        d = b - a
        line(canon_to_canvas(np.array([a - 0.6 * d, b + 0.6 * d])), _COLOURS["pelvis"], 5)
    if "lunge_tibia" in drawing:
        line(canon_to_canvas(drawing["lunge_tibia"]), _COLOURS["tibia"], 5)

    chain = to_canvas(np.array([lm[side_index(p, side)] for p in _SKELETON]))
    arm = to_canvas(np.array([lm[side_index(p, side)] for p in _ARM]))
    line(chain, _COLOURS["skeleton"], 4)
    line(arm, _COLOURS["skeleton"], 3)
    for x, y in np.vstack([chain, arm[1:]]):
        draw.ellipse((x - 6, y - 6, x + 6, y + 6), fill=_COLOURS["joint"], outline=(0, 0, 0))

    _legend(draw, result, len(drawing.get("level_segments", ())))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def _legend(draw: ImageDraw.ImageDraw, result: Analysis, n_level: int) -> None:
    """Values in a panel below the figure (never over the body), two columns, phone-legible."""
    font = ImageFont.load_default(size=30)
    small = ImageFont.load_default(size=24)
    draw.rectangle((0, PANEL_Y, CANVAS_W, CANVAS_H), fill=(0, 0, 0))
    overall = result.scores.get("overall")
    # The default font has no en dash; a photo not scored says why in words.
    if overall is not None:
        head = f"Overall {overall}/100"
    elif "not_standing_still" in result.warnings:
        head = "Not scored: not standing still"
    else:
        head = "Overall -"
    draw.text((24, PANEL_Y + 14), head, font=font, fill=(255, 255, 255))
    rows = [(title, result.measures.get(key), unit) for key, title, unit in _LABELS]
    rows = [r for r in rows if r[1] is not None]
    col_w = CANVAS_W // 2
    for i, (title, value, unit) in enumerate(rows):
        x = 24 + col_w * (i % 2)
        y = PANEL_Y + 60 + 34 * (i // 2)
        draw.text((x, y), title, font=small, fill=(210, 210, 210))
        draw.text((x + col_w - 44, y), f"{value:+.1f}{unit}", font=small, fill=(255, 255, 255), anchor="ra")
    note_font = ImageFont.load_default(size=20)
    draw.text((24, CANVAS_H - 62), _level_note(result, n_level), font=note_font, fill=_COLOURS["level"])
    draw.text(
        (CANVAS_W / 2, CANVAS_H - 16),
        "+ = forward · estimates for tracking change, not a diagnosis",
        font=ImageFont.load_default(size=20),
        fill=(200, 200, 200),
        anchor="ms",
    )


def _level_note(result: Analysis, n_lines: int) -> str:
    """Where the vertical of the drawing comes from, in words; the lines it was read from are drawn in
    light blue where they fall on the canvas."""
    level = result.camera_level
    roll = result.camera_roll_deg
    if level.source == "given":
        return f"Level: camera roll {roll:+.1f}° as given"
    if level.source == "device":
        return f"Level: camera roll {roll:+.1f}° from the phone's sensor"
    if level.source in ("background", "floor"):
        where = f"{n_lines} room lines (blue)" if level.source == "background" else "the floor under the feet"
        share = 1.0 if level.applied_share is None else level.applied_share
        if share >= 1.0 or level.roll_deg is None:
            return f"Level: camera roll {roll:+.1f}° read from {where}"
        # A partial correction (confidence below the rules' full_confidence): both figures, one answer.
        return f"Level: roll {level.roll_deg:+.1f}° read from {where}, {roll:+.1f}° of it corrected"
    if "camera_level_unknown" in result.warnings:
        return "Level: no reference found; the photo's frame is taken as upright"
    return "Level: the photo's frame is taken as upright"
