"""The deepest frame's overlay is drawn in the coordinates it was measured in, at any clip size and
rotation: the frame is reduced for the model (≤ 960 px) and again for the overlay (≤ 640 px), and the
landmarks are kept in clip pixels, so the drawn joints must land where the landmarks are. Synthetic clips
of known geometry (tests/synthetic_clip.py, real FFmpeg decoding) from 720p to 4K, landscape and
portrait, and a phone's rotation metadata; the real walking clip upscaled to 1920 px with the real model
(tests/test_movement_real.py covers its refusal)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from posture import ClipOptions, analyze_clip
from posture.landmarks import INDEX

from .synthetic_clip import FakeVideoModel, Movement, set_mp4_rotation, write_clip

_JOINT = np.array([0, 200, 255])
_DRAWN = ("right_knee", "right_ankle", "right_heel", "right_foot_index", "right_hip", "right_shoulder")


def joint_pixels(png: bytes) -> tuple[np.ndarray, int]:
    """The (x, y) of every pixel in the joints' colour, and the frame part's height (above the panel)."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    hit = np.all(np.abs(rgb - _JOINT) <= 12, axis=2)
    ys, xs = np.nonzero(hit)
    return np.stack([xs, ys], axis=1).astype(float), rgb.shape[0]


def assert_joints_on_landmarks(png: bytes, lm: np.ndarray, clip_width: int, names=_DRAWN) -> None:
    width = Image.open(io.BytesIO(png)).width
    scale = width / clip_width  # the overlay keeps the clip's aspect: thumbnail px per clip px
    pts, _ = joint_pixels(png)
    assert len(pts), "no joint drawn"
    for name in names:
        want = lm[INDEX[name], :2] * scale
        nearest = float(np.min(np.hypot(*(pts - want).T)))
        assert nearest <= 2.5, (name, want, nearest)


def _small(m: Movement) -> Movement:
    return replace(m, reps=1, pause_s=0.3, rep_s=1.2, fps=15.0)


@pytest.mark.parametrize(
    ("width", "height", "ankle_x", "floor_y"),
    [
        (1280, 720, 400.0, 650.0),  # 720p landscape
        (1920, 1080, 900.0, 1000.0),  # 1080p: the size that drew off the body
        (1080, 1920, 500.0, 1700.0),  # 1080p portrait
        (3840, 2160, 2000.0, 2000.0),  # 4K
        (2160, 3840, 1200.0, 3500.0),  # 4K portrait
    ],
)
def test_the_overlay_joints_land_on_the_landmarks(
    tmp_path: Path, width: int, height: int, ankle_x: float, floor_y: float
) -> None:
    m = _small(Movement(width=width, height=height, ankle_x=ankle_x, floor_y=floor_y))
    path = write_clip(tmp_path / "squat.mp4", m)
    result = analyze_clip(path, ClipOptions(test="squat", overlay=True, level="off"), model=FakeVideoModel(m))
    assert result.ok, result.error
    assert result.deepest_png is not None and result.deepest_frame is not None
    lm = m.landmarks(result.deepest_frame.time_s)
    assert_joints_on_landmarks(result.deepest_png, lm, width)


def test_the_overlay_is_right_on_a_clip_turned_by_rotation_metadata(tmp_path: Path) -> None:
    """A portrait 1080×1920 scene stored as landscape frames with a 90° display matrix, as phones do."""
    m = _small(Movement(width=1080, height=1920, ankle_x=500.0, floor_y=1700.0))
    path = tmp_path / "rot.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), m.fps, (m.height, m.width))
    from .synthetic_clip import _draw

    for k in range(round(m.duration_s * m.fps)):
        upright = cv2.cvtColor(_draw(m.landmarks(k / m.fps), m.width, m.height), cv2.COLOR_RGB2BGR)
        writer.write(cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE))
    writer.release()
    set_mp4_rotation(path, 90)
    result = analyze_clip(path, ClipOptions(test="squat", overlay=True, level="off"), model=FakeVideoModel(m))
    assert result.ok, result.error
    assert result.clip.rotation_deg in (90, 270) and (result.clip.width, result.clip.height) == (1080, 1920)
    assert_joints_on_landmarks(result.deepest_png, m.landmarks(result.deepest_frame.time_s), 1080)


def _text_boxes(texts, font) -> list[tuple[float, float, float, float]]:
    return [(t.x, t.y, t.x + font.getlength(t.text), t.y + 18) for t in texts]


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(160, 1280),
    caption=st.text(st.sampled_from("abcdefghij ·%°()0123456789"), max_size=120),
    values=st.lists(st.floats(-999, 999, allow_nan=False), min_size=0, max_size=6),
)
def test_the_panel_s_text_stays_inside_the_frame_and_no_line_covers_another(width, caption, values) -> None:
    """At any frame width (a portrait phone clip's overlay is 360 px wide) the caption and the measure
    rows are wrapped, never drawn past the right edge or over each other, and the panel holds them."""
    from PIL import ImageFont

    from posture.movement.overlay import FONT_PX, panel_layout, panel_rows

    font = ImageFont.load_default(size=FONT_PX)
    names = ("squat_shin_peak_deg", "squat_depth_pct", "squat_heel_lift_pct", "squat_trunk_lean_deg")
    names += ("squat_pelvic_change_deg", "squat_knee_past_toe_pct")
    rows = panel_rows("squat", dict(zip(names, values, strict=False)), withheld=names[:1])
    texts, height = panel_layout(width, caption, rows, font)
    boxes = _text_boxes(texts, font)
    for x0, y0, x1, y1 in boxes:
        assert x0 >= 0 and x1 <= width - 4, (width, x0, x1)
        assert y0 >= 0 and y1 <= height, (height, y0, y1)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert abs(a[1] - b[1]) >= 18 or a[2] <= b[0] or b[2] <= a[0], (a, b)
    # Wrapping moves words to the next line, never drops one: all the text is drawn, in order.
    squeezed = "".join(t.text for t in texts).replace(" ", "")
    assert squeezed.startswith("".join([caption, *rows]).replace(" ", ""))


def test_a_portrait_clip_s_panel_is_readable_and_a_withheld_number_is_marked(tmp_path: Path) -> None:
    """A 1080×1920 phone clip's overlay is 360 px wide: the caption and the lunge's numbers were drawn
    past its right edge and over each other. Its text now wraps inside the frame (the panel's last
    columns stay black), and a number outside what the test can give says it is not scored, as the
    findings do."""
    from posture.movement.overlay import render_deepest, thumbnail

    m = _small(Movement(width=1080, height=1920, ankle_x=500.0, floor_y=1700.0, lunge=True))
    path = write_clip(tmp_path / "lunge.mp4", m)
    result = analyze_clip(path, ClipOptions(test="lunge", overlay=True, level="off"), model=FakeVideoModel(m))
    assert result.ok, result.error
    png = Image.open(io.BytesIO(result.deepest_png)).convert("RGB")
    assert png.width == 360
    frame_h = round(1920 * 360 / 1080)
    panel = np.asarray(png).astype(int)[frame_h:]
    assert panel.max() > 200  # the text is there
    assert panel[:, -6:].max() < 60, "text drawn to the right edge of the panel"

    # The same frame with the headline withheld (a negative shin angle, as on a real three-quarter clip).
    jpeg, k = thumbnail(np.zeros((1920, 1080, 3), np.uint8), frame_scale=1.0)
    lm = m.landmarks(result.deepest_frame.time_s)
    caption = "lunge rep 1 of 1 · 1.27 s · numbers: the clip's (median of 1)"
    measures = {"lunge_shin_peak_deg": -4.46, "lunge_heel_lift_pct": 27.2}
    marked = render_deepest(
        jpeg, k, lm, "right", "right", "lunge", measures, caption, withheld=["lunge_shin_peak_deg"]
    )
    plain = render_deepest(jpeg, k, lm, "right", "right", "lunge", measures, caption)
    marked_px = np.asarray(Image.open(io.BytesIO(marked)).convert("RGB")).astype(int)
    assert marked_px[frame_h:, -6:].max() < 60
    assert Image.open(io.BytesIO(marked)).size == Image.open(io.BytesIO(plain)).size
    assert not np.array_equal(marked_px, np.asarray(Image.open(io.BytesIO(plain)).convert("RGB")).astype(int))


def test_the_withheld_mark_is_on_the_withheld_number_only() -> None:
    from posture.movement.overlay import panel_rows

    rows = panel_rows(
        "lunge", {"lunge_shin_peak_deg": -4.46, "lunge_heel_lift_pct": 27.2}, withheld=["lunge_shin_peak_deg"]
    )
    assert rows == ["Peak shin (heel down): -4.5° (not scored)", "Heel lift: +27.2 %"]
