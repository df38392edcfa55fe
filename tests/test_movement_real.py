"""End to end on real footage with the real model in VIDEO mode: the sports2d demo's walking woman
(sample_images/clips/walk_side.mp4, see sample_images/ATTRIBUTION.md). No licensed squat or lunge
clip exists (docs/accuracy.md), so the lunge test runs on her steps: each double support is a dip of
the hip with one leg in front, and the legs take turns in front."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import cv2
import pytest
from PIL import Image

from posture import ClipOptions, VideoPoseModel, analyze_clip
from posture.errors import ErrorCode

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "sample_images" / "clips" / "walk_side.mp4"
FIRST_FRAME = 122  # the demo frame the clip starts at (sample_images/extract_clips.py)
# Her double-support frames in the demo (both feet down, legs apart), found from the photo pipeline's
# landmarks for the repeatability set (sample_images/ATTRIBUTION.md), independent of this code.
DOUBLE_SUPPORT = ((131, 134), (150, 151), (168, 172))


@pytest.fixture(scope="module")
def video_model() -> VideoPoseModel:
    with VideoPoseModel() as model:
        yield model


@pytest.fixture(scope="module")
def lunge(video_model: VideoPoseModel):
    return analyze_clip(CLIP, ClipOptions(test="lunge", overlay=True), model=video_model)


def test_walking_steps_are_counted_as_reps(lunge) -> None:
    assert lunge.status == "ok", lunge.error
    assert lunge.facing == "left"
    assert len(lunge.reps) == len(DOUBLE_SUPPORT)
    for rep, (first, last) in zip(lunge.reps, DOUBLE_SUPPORT, strict=True):
        start_s, end_s = (first - FIRST_FRAME) / 30, (last - FIRST_FRAME) / 30
        # The hip is lowest at the double support or just after it, as the weight comes onto the front leg.
        assert start_s - 0.1 <= rep.bottom_s <= end_s + 0.25, (rep.bottom_s, first, last)
        assert rep.start_s < rep.bottom_s < rep.end_s


def test_the_front_leg_alternates_and_both_sides_are_measured(lunge) -> None:
    sides = [r.side for r in lunge.reps]
    assert all(a != b for a, b in itertools.pairwise(sides)), sides
    m = lunge.measures
    assert m["lunge_shin_peak_left_deg"] is not None and m["lunge_shin_peak_right_deg"] is not None
    assert m["lunge_shin_peak_deg"] == min(m["lunge_shin_peak_left_deg"], m["lunge_shin_peak_right_deg"])
    assert m["lunge_asymmetry_deg"] == pytest.approx(
        abs(m["lunge_shin_peak_left_deg"] - m["lunge_shin_peak_right_deg"]), abs=0.02
    )
    # Walking is no lunge: the shin stays within a few tens of degrees of vertical.
    assert all(-40 < (r.measures["lunge_shin_peak_deg"] or 0) < 40 for r in lunge.reps)
    # Walking lifts the heel of the front foot in each step: flagged, and left out of the peak.
    assert "heel_lifted" in lunge.warnings and all(r.heel_lifted_frames for r in lunge.reps)


def test_frames_with_her_partly_outside_are_named(lunge) -> None:
    n = lunge.clip.frames_sampled
    assert n == pytest.approx(65 / 30 * 15, abs=1)
    for f in lunge.failed_frames:
        assert f.reason in ("out_of_frame", "no_person", "low_visibility")
        assert f.index <= 2 or f.index >= n - 3  # she enters and leaves at the clip's edges
    assert bool(lunge.failed_frames) == ("frames_failed" in lunge.warnings)


def test_the_deepest_frame_overlay_and_series(lunge) -> None:
    image = Image.open(io.BytesIO(lunge.deepest_png))
    assert image.format == "PNG" and image.width <= 640 and len(lunge.deepest_png) < 600_000
    assert lunge.deepest_frame is not None and 0 <= lunge.deepest_frame.index < lunge.clip.frames_sampled
    assert len(lunge.series["shin_deg"]) == lunge.clip.frames_sampled
    assert "deepest_png" not in lunge.to_dict()
    assert lunge.findings[-1].startswith("These are estimates from a video")


def test_walking_is_no_squat(video_model: VideoPoseModel) -> None:
    result = analyze_clip(CLIP, ClipOptions(test="squat"), model=video_model)
    assert result.error.code == ErrorCode.NO_MOVEMENT


def test_a_person_walking_into_the_picture_is_refused_with_the_frames_named(
    tmp_path: Path, video_model: VideoPoseModel
) -> None:
    """The clip's left third only: she is outside it for its first half."""
    cap = cv2.VideoCapture(str(CLIP))
    out = tmp_path / "left_third.mp4"
    writer = None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        cut = frame[:, :280]
        if writer is None:
            writer = cv2.VideoWriter(
                str(out), cv2.VideoWriter_fourcc(*"mp4v"), 30, (cut.shape[1], cut.shape[0])
            )
        writer.write(cut)
    writer.release()
    cap.release()
    result = analyze_clip(out, ClipOptions(test="lunge"), model=video_model)
    assert result.error.code == ErrorCode.PERSON_LEFT_FRAME
    assert len(result.failed_frames) > 0.25 * result.clip.frames_sampled
    assert result.failed_frames[0].index == 0


def test_the_cli_routes_clips_by_extension(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from posture.cli import main

    bad = tmp_path / "broken.mov"
    bad.write_bytes(b"\x00\x00\x00\x18ftypqt  " + bytes(200))
    code = main(["analyze", str(CLIP), str(bad), "--test", "lunge", "--json", "--overlay", str(tmp_path)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1  # one clip refused
    assert [d["status"] for d in lines] == ["ok", "rejected"]
    assert lines[0]["test"] == "lunge" and len(lines[0]["reps"]) == 3
    assert lines[1]["error"]["code"] == "clip_unreadable"
    assert (tmp_path / "walk_side.deepest.png").stat().st_size > 1000
    assert main(["analyze", str(CLIP), "--test", "squat"]) == 1
    table = capsys.readouterr().out
    assert "no_movement" in table and table.splitlines()[0].startswith("clip")


def test_the_mirror_pass_on_real_footage(video_model: VideoPoseModel, lunge) -> None:
    fused = analyze_clip(CLIP, ClipOptions(test="lunge", mirror_pass=True), model=video_model)
    assert fused.ok and len(fused.reps) == len(lunge.reps) and fused.facing == "left"
    assert [r.side for r in fused.reps] == [r.side for r in lunge.reps]


def test_a_phone_rotated_copy_gives_the_same_reps(tmp_path: Path, video_model: VideoPoseModel, lunge) -> None:
    """The clip stored as a phone stores a clip filmed sideways (frames turned, a 90° display matrix)."""
    from .synthetic_clip import set_mp4_rotation

    cap = cv2.VideoCapture(str(CLIP))
    out = tmp_path / "rotated.mp4"
    writer = None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        stored = cv2.rotate(frame, cv2.ROTATE_90_COUNTERCLOCKWISE)
        if writer is None:
            size = (stored.shape[1], stored.shape[0])
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 30, size)
        writer.write(stored)
    writer.release()
    cap.release()
    set_mp4_rotation(out, 90)
    result = analyze_clip(out, ClipOptions(test="lunge"), model=video_model)
    assert result.ok, result.error
    assert (result.clip.width, result.clip.height) == (lunge.clip.width, lunge.clip.height)
    assert result.clip.rotation_deg in (90, 270) and result.facing == "left"
    assert len(result.reps) == len(lunge.reps)
