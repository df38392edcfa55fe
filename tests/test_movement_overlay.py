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
