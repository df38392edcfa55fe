"""What a clip may cost and what its container may claim (issue 23): frame-size limits read from the
container before any frame is decoded, the frames × pixels budget, clips too short to hold a rep, a clip
whose decoding stops early, and rotation metadata that is not a quarter turn. Real clips, written by
OpenCV at test time and decoded by FFmpeg; the fake pose model stands in for MediaPipe where a whole
analysis runs."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from posture.errors import ErrorCode, PostureError, WarningCode
from posture.movement.analysis import analyze_clip
from posture.movement.clip import Clip, ClipLimits, open_clip

from .synthetic_clip import FakeVideoModel, Movement, write_clip

RULES = ClipLimits.from_rules()


def _noise_clip(path: Path, frames: int, width: int = 160, height: int = 120, fps: float = 30.0) -> Path:
    fourcc = "VP80" if path.suffix == ".webm" else "mp4v"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
    writer.release()
    return path


def _open(path: Path, limits: ClipLimits | None = None) -> Clip:
    return open_clip(path, sample_fps=15, max_duration_s=30, max_side_px=960, limits=limits)


def _refusal(path: Path, limits: ClipLimits | None = None) -> PostureError:
    with pytest.raises(PostureError) as caught, _open(path, limits) as clip:
        for _ in clip.frames():
            pass
    return caught.value


def test_the_rules_state_the_limits() -> None:
    assert RULES.max_frame_side_px >= 3840 and RULES.max_frame_pixels >= 3840 * 2160  # phones' 4K passes
    assert RULES.max_frame_pixels < 7680 * 4320  # 8K does not
    assert RULES.max_decoded_megapixels >= 900 * 3840 * 2160 / 1e6  # 30 s of 4K at 30 fps


def test_a_frame_wider_than_the_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    path = _noise_clip(tmp_path / "wide.mp4", 40, width=RULES.max_frame_side_px + 64, height=64)
    error = _refusal(path)
    assert error.code is ErrorCode.CLIP_FRAME_TOO_LARGE
    assert f"{RULES.max_frame_side_px + 64}×64" in error.message


def test_frame_pixels_are_limited_and_checked_from_the_container(tmp_path: Path) -> None:
    path = _noise_clip(tmp_path / "big.webm", 40, width=320, height=320)
    limits = ClipLimits(max_frame_pixels=320 * 320 - 1)
    error = _refusal(path, limits)
    assert error.code is ErrorCode.CLIP_FRAME_TOO_LARGE
    with _open(path, ClipLimits(max_frame_pixels=320 * 320)) as clip:  # at the limit: accepted
        assert sum(1 for _ in clip.frames()) == 20  # 40 frames at 30 fps, sampled at 15


def test_the_decoding_budget_is_frames_times_pixels(tmp_path: Path) -> None:
    path = _noise_clip(tmp_path / "long.mp4", 60, width=200, height=100)
    error = _refusal(path, ClipLimits(max_decoded_megapixels=60 * 200 * 100 / 1e6 - 0.01))
    assert error.code is ErrorCode.CLIP_TOO_HEAVY
    with _open(path, ClipLimits(max_decoded_megapixels=60 * 200 * 100 / 1e6)) as clip:
        assert sum(1 for _ in clip.frames()) == 30


def test_the_budget_holds_while_decoding_when_the_container_gives_no_count(tmp_path: Path) -> None:
    """A container that does not state its frame count is stopped as the decoded frames reach the budget."""
    path = _noise_clip(tmp_path / "n.webm", 60, width=200, height=100)
    limits = ClipLimits(max_decoded_megapixels=20 * 200 * 100 / 1e6)
    with _open(path) as clip:
        count = clip.info.frames_total
    if count:  # this container gives it: the refusal comes from the container, before decoding
        assert _refusal(path, limits).code is ErrorCode.CLIP_TOO_HEAVY
    else:
        with pytest.raises(PostureError) as caught, _open(path, limits) as clip:
            list(clip.frames())
        assert caught.value.code is ErrorCode.CLIP_TOO_HEAVY


@pytest.mark.parametrize(("frames", "fps", "said"), [(1, 30.0, "1 frame at 30 fps"), (30, 1000.0, "0.03 s")])
def test_a_clip_too_short_for_a_rep_says_so(tmp_path: Path, frames: int, fps: float, said: str) -> None:
    """A single frame, or 30 frames at 1000 fps (0.03 s), is `clip_too_short`, not `person_left_frame`."""
    path = _noise_clip(tmp_path / "short.mp4", frames, fps=fps)
    result = analyze_clip(path, model=FakeVideoModel(Movement()))
    assert result.error is not None and result.error.code == ErrorCode.CLIP_TOO_SHORT.value
    assert said in result.error.message


def _insert_garbage(path: Path, out: Path, at: float = 0.5) -> Path:
    data = path.read_bytes()
    cut = int(len(data) * at)
    garbage = np.random.default_rng(1).integers(0, 255, len(data) // 3, dtype=np.uint8).tobytes()
    out.write_bytes(data[:cut] + garbage + data[cut:])
    return out


def test_a_clip_that_breaks_mid_stream_is_marked_truncated(tmp_path: Path) -> None:
    whole = _noise_clip(tmp_path / "whole.webm", 60)
    with _open(whole) as clip:
        list(clip.frames())
        assert (clip.frames_read, clip.truncated) == (60, False)
    broken = _insert_garbage(whole, tmp_path / "broken.webm")
    with _open(broken) as clip:
        sampled = len(list(clip.frames()))
        assert clip.truncated and RULES.min_frames <= clip.frames_read < 60
        assert sampled < 30


def test_a_truncated_clip_analysed_carries_the_warning_and_frames_read(tmp_path: Path) -> None:
    movement = Movement(reps=3)
    path = write_clip(tmp_path / "m.webm", movement, fourcc="VP80")
    broken = _insert_garbage(path, tmp_path / "broken.webm", at=0.7)
    result = analyze_clip(broken, model=FakeVideoModel(movement))
    assert result.clip.frames_read is not None and result.clip.frames_total is not None
    assert result.clip.frames_read < result.clip.frames_total
    if result.status == "ok":
        assert WarningCode.CLIP_TRUNCATED.value in result.warnings
    else:  # what remains may hold too few reps: still a code, never a silent success
        assert result.error is not None and result.error.code != ErrorCode.ANALYSIS_FAILED.value


def test_a_clip_cut_short_near_its_start_is_refused_as_truncated(tmp_path: Path) -> None:
    whole = _noise_clip(tmp_path / "whole.webm", 60)
    cut = tmp_path / "cut.webm"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 10])
    error = _refusal(cut)
    assert error.code is ErrorCode.CLIP_TRUNCATED
    assert "of 60" in error.message


def _with_matrix(path: Path, values: list[int]) -> Path:
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    version = data[at + 4]
    matrix_at = at + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
    data[matrix_at : matrix_at + 36] = struct.pack(">9i", *values)
    out = path.with_name(f"m{abs(hash(tuple(values)))}.mp4")
    out.write_bytes(bytes(data))
    return out


ONE, W = 0x10000, 0x40000000
C45 = round(math.cos(math.pi / 4) * ONE)


@pytest.mark.parametrize(
    "matrix",
    [
        [C45, C45, 0, -C45, C45, 0, 0, 0, W],  # 45°
        [0] * 9,  # all zero
        [2**31 - 1, 2**31 - 1, 0, -(2**31), 2**31 - 1, 0, 0, 0, W],  # overflowing
    ],
    ids=["45deg", "all-zero", "overflow"],
)
def test_a_rotation_that_is_not_a_quarter_turn_is_ignored_and_said(tmp_path: Path, matrix: list[int]) -> None:
    path = _with_matrix(_noise_clip(tmp_path / "r.mp4", 30, width=160, height=120), matrix)
    with _open(path) as clip:
        frame = next(iter(clip.frames()))
        assert clip.info.rotation_deg == 0 and clip.info.rotation_ignored
    assert frame.rgb.shape[:2] == (120, 160)  # analysed as stored: what was recorded is what was applied


def test_a_quarter_turn_is_applied_and_recorded(tmp_path: Path) -> None:
    path = _with_matrix(_noise_clip(tmp_path / "r.mp4", 30), [0, ONE, 0, -ONE, 0, 0, 0, 0, W])
    with _open(path) as clip:
        frame = next(iter(clip.frames()))
        assert clip.info.rotation_deg == 90 and not clip.info.rotation_ignored
    assert frame.rgb.shape[:2] == (160, 120)


def test_an_ignored_rotation_is_a_warning_on_the_result(tmp_path: Path) -> None:
    movement = Movement(reps=2)
    path = write_clip(tmp_path / "m.mp4", movement)
    path = _with_matrix(path, [C45, C45, 0, -C45, C45, 0, 0, 0, W])
    result = analyze_clip(path, model=FakeVideoModel(movement))
    assert result.status == "ok", result.error
    assert result.clip.rotation_deg == 0 and result.clip.rotation_ignored_deg == 45.0
    assert WarningCode.ROTATION_IGNORED.value in result.warnings
