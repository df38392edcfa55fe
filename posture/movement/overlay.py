"""The deepest frame of a movement clip, drawn: the frame with the measured leg, shin and trunk lines and
the rep's numbers in a panel below it (the photo overlay's colours, `posture.overlay`). Small: the
frame at most `MAX_SIDE_PX` on its long side, so a portrait phone clip's frame is only 360 px wide: the
panel's text is wrapped to the frame's width and the panel grows to hold it (`panel_layout`).
"""

from __future__ import annotations

import io
from collections.abc import Collection
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..geometry import rotate_clockwise
from ..landmarks import Side, side_index

MAX_SIDE_PX = 640
PANEL_PX = 120  # the panel's least height; it grows when its text wraps
FONT_PX = 16
_MARGIN_PX, _LINE_PX, _ROW_PX, _COLUMN_GAP_PX = 10, 20, 22, 12
_FOOTER = "+ = forward · estimates, not a diagnosis"
_NOT_SCORED = " (not scored)"  # a number outside what the test can give (`score_movement`'s withheld)
_ROW, _NOTE = (220, 220, 220), (180, 180, 180)
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


@dataclass(frozen=True)
class PanelText:
    """One line of the panel's text, at (`x`, `y`) pixels from the panel's top left."""

    x: float
    y: float
    text: str
    fill: tuple[int, int, int]


def panel_rows(test: str, measures: dict[str, float | None], withheld: Collection[str] = ()) -> list[str]:
    """The panel's line per measure of `test` that has a value; one in `withheld` says it is not scored."""
    return [
        f"{title}: {measures[key]:+.1f}{unit}{_NOT_SCORED if key in withheld else ''}"
        for key, title, unit in _LABELS.get(test, ())
        if measures.get(key) is not None
    ]


def _wrap(text: str, font: ImageFont.FreeTypeFont, width_px: float) -> list[str]:
    """`text` in lines no longer than `width_px`, broken between words (a word longer than the line, by
    characters)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= width_px:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        while len(word) > 1 and font.getlength(word) > width_px:
            cut = 1
            while cut < len(word) - 1 and font.getlength(word[: cut + 1]) <= width_px:
                cut += 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines


def panel_layout(
    width_px: int, caption: str, rows: list[str], font: ImageFont.FreeTypeFont
) -> tuple[list[PanelText], int]:
    """Where the panel's text goes on a frame `width_px` wide, and the panel's height: the caption, then
    the measure rows two to a line when each fits half the width (else one to a line, wrapped), then the
    footer; nothing drawn past the right edge, no line over another."""
    avail = max(1.0, width_px - 2 * _MARGIN_PX)
    texts: list[PanelText] = []
    y = 8.0
    for line in _wrap(caption, font, avail):
        texts.append(PanelText(_MARGIN_PX, y, line, _WHITE))
        y += _LINE_PX
    y = max(y, 32.0) if texts else y
    half = (avail - _COLUMN_GAP_PX) / 2
    if rows and all(font.getlength(r) <= half for r in rows):
        for i, row in enumerate(rows):
            texts.append(
                PanelText(_MARGIN_PX + (half + _COLUMN_GAP_PX) * (i % 2), y + _ROW_PX * (i // 2), row, _ROW)
            )
        y += _ROW_PX * ((len(rows) + 1) // 2)
    else:
        for row in rows:
            for line in _wrap(row, font, avail):
                texts.append(PanelText(_MARGIN_PX, y, line, _ROW))
                y += _ROW_PX
    footer = _wrap(_FOOTER, font, avail)
    height = max(PANEL_PX, round(y + 8 + _LINE_PX * len(footer)))
    for k, line in enumerate(footer):
        texts.append(PanelText(_MARGIN_PX, height - _LINE_PX * (len(footer) - k), line, _NOTE))
    return texts, height


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
    withheld: Collection[str] = (),
) -> bytes:
    """PNG bytes: the thumbnail `jpeg` (clip pixels × `scale`, as `thumbnail()` gives it) with `side`'s
    leg and `trunk_side`'s trunk (the near side) drawn from `landmarks` (clip pixels), the true
    vertical the angles are measured from (the frame's vertical turned by `camera_roll_deg`, sign of
    `posture.geometry.to_canonical`), and the clip's `measures` below, those in `withheld` (outside
    what the test can give) marked as not scored, as the findings say."""
    frame = Image.open(io.BytesIO(jpeg)).convert("RGB")
    font = ImageFont.load_default(size=FONT_PX)
    texts, panel_px = panel_layout(frame.width, caption, panel_rows(test, measures, withheld), font)
    canvas = Image.new("RGB", (frame.width, frame.height + panel_px), (0, 0, 0))
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
    for text in texts:
        draw.text((text.x, frame.height + text.y), text.text, font=font, fill=text.fill)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()
