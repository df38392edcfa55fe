"""End to end on real footage with the real model in VIDEO mode: the sports2d demo's walking woman
(sample_images/clips/walk_side.mp4, see sample_images/ATTRIBUTION.md). No licensed squat or lunge
clip exists (docs/accuracy.md): a walk is not a lunge, so the walk is the test of the refusal
(`not_the_test`, saying what was seen) as a lunge and as a squat, turned on its side, cut and
upscaled; the knee-to-wall lunge itself is tested on synthetic landmark tracks
(tests/test_movement_shape.py). Her push-offs are real heel lifts; the overlay of a 1920 px copy is
drawn on her body."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from posture import ClipOptions, VideoPoseModel, analyze_clip
from posture.errors import ErrorCode
from posture.landmarks import INDEX

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "sample_images" / "clips" / "walk_side.mp4"


@pytest.fixture(scope="module")
def video_model() -> VideoPoseModel:
    with VideoPoseModel() as model:
        yield model


@pytest.fixture(scope="module")
def lunge(video_model: VideoPoseModel):
    return analyze_clip(CLIP, ClipOptions(test="lunge", overlay=True), model=video_model)


def _derived(tmp_path: Path, name: str, change) -> Path:
    """A copy of the clip with `change(frame)` applied to every frame (mp4v, 30 fps)."""
    cap = cv2.VideoCapture(str(CLIP))
    out = tmp_path / name
    writer = None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frame = change(frame)
        if writer is None:
            size = (frame.shape[1], frame.shape[0])
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 30, size)
        writer.write(frame)
    assert writer is not None
    writer.release()
    cap.release()
    return out


def test_a_walk_is_not_a_lunge(lunge) -> None:
    assert lunge.status == "rejected" and lunge.error.code == ErrorCode.NOT_THE_TEST.value
    message = lunge.error.message
    assert "not a knee-to-wall lunge" in message and "walks across the picture" in message
    assert not lunge.reps and not lunge.findings and not lunge.measures and lunge.deepest_png is None
    assert lunge.clip.frames_sampled > 0


def test_walking_is_no_squat(video_model: VideoPoseModel) -> None:
    result = analyze_clip(CLIP, ClipOptions(test="squat"), model=video_model)
    assert result.error.code == ErrorCode.NOT_THE_TEST.value
    assert "not a squat" in result.error.message and "walks across" in result.error.message


def test_a_body_lying_down_is_refused(tmp_path: Path, video_model: VideoPoseModel) -> None:
    """The clip turned a quarter (no rotation metadata): she lies along the picture."""
    path = _derived(tmp_path, "lying.mp4", lambda f: cv2.rotate(f, cv2.ROTATE_90_CLOCKWISE))
    for test in ("lunge", "squat"):
        result = analyze_clip(path, ClipOptions(test=test), model=video_model)
        assert result.error is not None and result.error.code == ErrorCode.NOT_THE_TEST.value, result.error
        assert "from upright" in result.error.message


def test_frames_with_her_partly_outside_are_named(lunge) -> None:
    n = lunge.clip.frames_sampled
    assert n == pytest.approx(65 / 30 * 15, abs=1)
    for f in lunge.failed_frames:
        assert f.reason in ("out_of_frame", "no_person", "low_visibility")
        assert f.index <= 2 or f.index >= n - 3  # she enters and leaves at the clip's edges


def test_a_1920_px_copy_is_drawn_on_her_body(tmp_path: Path, video_model: VideoPoseModel) -> None:
    """The clip upscaled to 1920 px wide (the size the overlay used to be drawn off the body at): the
    frame the model sees is reduced to 960 px, the overlay to 640 px; every drawn joint lands on the
    landmark it draws and inside her silhouette (the model's own mask)."""
    from posture.movement.clip import open_clip
    from posture.movement.overlay import render_deepest, thumbnail
    from posture.movement.tracking import track

    from .test_movement_overlay import assert_joints_on_landmarks, joint_pixels

    path = _derived(
        tmp_path, "wide.mp4", lambda f: cv2.resize(f, (1920, round(f.shape[0] * 1920 / f.shape[1])))
    )
    with open_clip(path, sample_fps=5, max_duration_s=30, max_side_px=960) as clip:
        assert clip.info.width == 1920
        tracked = [
            t for t in track(clip, video_model, keep_mask=lambda f, lm: True) if t.landmarks is not None
        ]
    middle = tracked[len(tracked) // 2]  # she is whole in the picture mid-clip
    assert middle.frame.scale == pytest.approx(0.5, abs=0.01)
    jpeg, k = thumbnail(middle.frame.rgb, middle.frame.scale)
    png = render_deepest(jpeg, k, middle.landmarks, "left", "left", "squat", {}, "")
    assert_joints_on_landmarks(png, middle.landmarks, 1920, names=("left_knee", "left_ankle", "left_hip"))
    pts, _ = joint_pixels(png)
    mask = middle.mask  # working pixels (960 px wide)
    on_body = 0
    for name in ("left_knee", "left_ankle", "left_hip", "left_shoulder"):
        x, y = middle.landmarks[INDEX[name], :2] * middle.frame.scale
        window = mask[int(y) - 6 : int(y) + 7, int(x) - 6 : int(x) + 7]
        on_body += bool(window.size and window.max() > 0.5)
    assert on_body >= 3, on_body
    assert len(pts) > 20


def test_her_push_offs_are_real_heel_lifts(video_model: VideoPoseModel) -> None:
    """At each push-off (a leg's shin at its most forward before the swing) the heel rises over the toe
    by far more than the 8 % finding threshold; the measure is the one the analysis uses (heel over toe,
    legs tracked by geometry)."""
    from posture.movement.clip import open_clip
    from posture.movement.legs import assign_legs
    from posture.movement.tracking import track

    with open_clip(CLIP, sample_fps=30, max_duration_s=30, max_side_px=960) as clip:
        frames = list(track(clip, video_model))
    lm = np.full((len(frames), 33, 5), np.nan)
    for i, f in enumerate(frames):
        if f.landmarks is not None:
            lm[i] = f.landmarks
    legs = assign_legs(lm, "left")  # she faces left: her left side is the near one
    for sd in ("left", "right"):
        heel, toe = legs[:, INDEX[f"{sd}_heel"], :2], legs[:, INDEX[f"{sd}_foot_index"], :2]
        knee, ankle = legs[:, INDEX[f"{sd}_knee"], :2], legs[:, INDEX[f"{sd}_ankle"], :2]
        foot = float(np.nanmedian(np.hypot(*(toe - heel).T)))
        rise = 100 * (toe[:, 1] - heel[:, 1]) / foot
        rise -= np.nanpercentile(rise, 10)  # beyond the flat foot
        shin = np.degrees(np.arctan2(-(knee[:, 0] - ankle[:, 0]), -(knee[:, 1] - ankle[:, 1])))  # facing left
        push_off = int(np.nanargmax(shin))
        assert shin[push_off] > 40, (sd, shin[push_off])
        assert np.nanmax(rise[max(0, push_off - 2) : push_off + 3]) > 30, (sd, rise[push_off])


def test_a_person_walking_into_the_picture_is_refused_with_the_frames_named(
    tmp_path: Path, video_model: VideoPoseModel
) -> None:
    """The clip's left third only: she is outside it for its first half."""
    out = _derived(tmp_path, "left_third.mp4", lambda f: np.ascontiguousarray(f[:, :280]))
    result = analyze_clip(out, ClipOptions(test="lunge"), model=video_model)
    assert result.error.code in (ErrorCode.PERSON_LEFT_FRAME, ErrorCode.NOT_THE_TEST), result.error
    assert len(result.failed_frames) > 0.25 * result.clip.frames_sampled
    assert result.failed_frames[0].index == 0


def test_the_cli_routes_clips_by_extension(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from posture.cli import main

    bad = tmp_path / "broken.mov"
    bad.write_bytes(b"\x00\x00\x00\x18ftypqt  " + bytes(200))
    code = main(["analyze", str(CLIP), str(bad), "--test", "lunge", "--json", "--overlay", str(tmp_path)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1  # clips refused
    assert [d["status"] for d in lines] == ["rejected", "rejected"]
    assert lines[0]["test"] == "lunge" and lines[0]["error"]["code"] == "not_the_test"
    assert lines[1]["error"]["code"] == "clip_unreadable"
    assert not (tmp_path / "walk_side.deepest.png").exists()
    assert main(["analyze", str(CLIP), "--test", "squat"]) == 1
    table = capsys.readouterr().out
    assert "not_the_test" in table and table.splitlines()[0].startswith("clip")


def test_the_mirror_pass_refuses_the_walk_too(video_model: VideoPoseModel, lunge) -> None:
    fused = analyze_clip(CLIP, ClipOptions(test="lunge", mirror_pass=True), model=video_model)
    assert fused.error.code == lunge.error.code == ErrorCode.NOT_THE_TEST.value


def test_a_phone_rotated_copy_is_read_upright(tmp_path: Path, video_model: VideoPoseModel, lunge) -> None:
    """The clip stored as a phone stores a clip filmed sideways (frames turned, a 90° display matrix):
    read upright, so she walks (refused as a walk), not lies."""
    from .synthetic_clip import set_mp4_rotation

    out = _derived(tmp_path, "rotated.mp4", lambda f: cv2.rotate(f, cv2.ROTATE_90_COUNTERCLOCKWISE))
    set_mp4_rotation(out, 90)
    result = analyze_clip(out, ClipOptions(test="lunge"), model=video_model)
    assert (result.clip.width, result.clip.height) == (lunge.clip.width, lunge.clip.height)
    assert result.clip.rotation_deg in (90, 270)
    assert result.error.code == ErrorCode.NOT_THE_TEST.value and "walks across" in result.error.message
