"""The deepest frame of a movement clip, drawn: the frame with the measured leg, shin and trunk lines and
the rep's numbers in a panel below it (the photo overlay's colours, `posture.overlay`). Small: the
frame at most `MAX_SIDE_PX` on its long side.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..geometry import rotate_clockwise
from ..landmarks import Side, side_index

MAX_SIDE_PX = 640
PANEL_PX = 120
_WHITE, _JOINT, _SHIN, _TRUNK = (255, 255, 255), (0, 200, 255), (0, 200, 255), (255, 130, 255)
_CHAIN = ("shoulder", "hip", "knee", "ankle", "heel", "foot_index", "ankle")
_LABELS = {
    "squat": (
        ("squat_shin_peak_deg", "Peak shin", "°"),
        ("squat_depth_pct", "Depth", " %"),
        ("squat_heel_lift_pct", "Heel lift", " %"),
        ("squat_trunk_lean_deg", "Trunk lean", "°"),
        ("squat_pelvic_change_deg", "Pelvic change (est.)", "°"),
        ("squat_knee_past_toe_pct", "Knee past toe", " %"),
    ),
    "lunge": (
        ("lunge_shin_peak_deg", "Peak shin (heel down)", "°"),
        ("lunge_heel_lift_pct", "Heel lift", " %"),
    ),
}


def thumbnail(rgb: np.ndarray, frame_scale: float = 1.0) -> tuple[bytes, float]:
    """A frame reduced for the overlay, JPEG-encoded (kept per frame, so any frame can be drawn later
    without decoding the clip again), and its scale in thumbnail pixels per *clip* pixel, the unit the
    landmarks are kept in. `frame_scale` is what `rgb` already is of the clip (`ClipFrame.scale`: the
    working frame of a 1080p clip is half its size), so the two reductions compose."""
    height, width = rgb.shape[:2]
    k = min(1.0, MAX_SIDE_PX / max(height, width))
    small = cv2.resize(
        rgb, (max(1, round(width * k)), max(1, round(height * k))), interpolation=cv2.INTER_AREA
    )
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return (data.tobytes() if ok else b""), k * float(frame_scale)


def overlay_point(landmarks: np.ndarray, index: int, scale: float) -> tuple[float, float]:
    """Where landmark `index` (clip pixels) is drawn on a thumbnail of `scale` (thumbnail px per clip px)."""
    x, y = landmarks[index, :2] * scale
    return float(x), float(y)


def render_deepest(
    jpeg: bytes,
    scale: float,
    landmarks: np.ndarray,
    side: Side,
    trunk_side: Side,
    test: str,
    measures: dict[str, float | None],
    caption: str,
    camera_roll_deg: float = 0.0,
) -> bytes:
    """PNG bytes: the thumbnail `jpeg` (clip pixels × `scale`, as `thumbnail()` gives it) with `side`'s
    leg and `trunk_side`'s trunk (the near side) drawn from `landmarks` (clip pixels), the true
    vertical the angles are measured from (the frame's vertical turned by `camera_roll_deg`, sign of
    `posture.geometry.to_canonical`), and the clip's `measures` below."""
    frame = Image.open(io.BytesIO(jpeg)).convert("RGB")
    canvas = Image.new("RGB", (frame.width, frame.height + PANEL_PX), (0, 0, 0))
    canvas.paste(frame, (0, 0))
    draw = ImageDraw.Draw(canvas)

    def pt(part: str, sd: Side = side) -> tuple[float, float]:
        return overlay_point(landmarks, side_index(part, sd), scale)

    width = max(2, round(frame.height / 160))
    draw.line([pt(p) for p in _CHAIN[2:]], fill=_WHITE, width=width)
    draw.line([pt("shoulder", trunk_side), pt("hip", trunk_side), pt("knee")], fill=_WHITE, width=width)
    draw.line([pt("ankle"), pt("knee")], fill=_SHIN, width=width + 2)
    draw.line([pt("hip", trunk_side), pt("shoulder", trunk_side)], fill=_TRUNK, width=width + 2)
    ankle = pt("ankle")
    top = rotate_clockwise(np.array([ankle[0], ankle[1] - 0.4 * frame.height]), camera_roll_deg, ankle)
    draw.line([ankle, (float(top[0]), float(top[1]))], fill=(255, 220, 0), width=1)  # true vertical
    for part, sd in (("shoulder", trunk_side), ("hip", trunk_side), *((p, side) for p in _CHAIN[2:6])):
        x, y = pt(part, sd)
        draw.ellipse(
            (x - width - 2, y - width - 2, x + width + 2, y + width + 2), fill=_JOINT, outline=(0, 0, 0)
        )
    font = ImageFont.load_default(size=16)
    draw.text((10, frame.height + 8), caption, font=font, fill=_WHITE)
    rows = [(t, measures.get(k), u) for k, t, u in _LABELS.get(test, ()) if measures.get(k) is not None]
    col = canvas.width // 2
    for i, (title, value, unit) in enumerate(rows):
        x, y = 10 + col * (i % 2), frame.height + 32 + 22 * (i // 2)
        draw.text((x, y), f"{title}: {value:+.1f}{unit}", font=font, fill=(220, 220, 220))
    draw.text(
        (10, canvas.height - 20), "+ = forward · estimates, not a diagnosis", font=font, fill=(180, 180, 180)
    )
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()
