"""Movement clips with known geometry (tests/synthetic_clip.py): real decoding through FFmpeg, a fake
pose model that returns the drawn figure's joints. Reps, measures, sampling, rotation, formats and the
coded errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from posture import ClipOptions, analyze_clip
from posture.errors import ErrorCode
from posture.landmarks import INDEX
from posture.movement import MOVEMENT_MEASURE_NAMES
from posture.movement.clip import open_clip
from posture.movement.reps import find_reps, smooth
from posture.rules import load_rules

from .synthetic_clip import FakeVideoModel, Movement, set_mp4_rotation, write_clip

OFF = {"level": "off"}


def _incl(lower: np.ndarray, upper: np.ndarray) -> float:
    d = upper - lower
    return float(np.degrees(np.arctan2(d[0], -d[1])))


def _expected_squat(m: Movement) -> dict[str, float]:
    """The squat numbers of `m` from its own geometry at the bottom (t at d = 1)."""
    top, bottom = m.landmarks(0.0), m.landmarks(m.pause_s + m.rep_s / 2)
    r = lambda lm, p: lm[INDEX[f"right_{p}"], :2]  # noqa: E731
    floor = m.floor_y
    hip_top = top[[INDEX["left_hip"], INDEX["right_hip"]], 1].mean()
    height = floor - hip_top
    hip_bottom = bottom[[INDEX["left_hip"], INDEX["right_hip"]], 1].mean()
    foot = float(np.hypot(*(r(top, "foot_index") - r(top, "heel"))))
    return {
        "squat_depth_pct": 100 * (hip_bottom - hip_top) / height,
        "squat_hip_below_knee_pct": 100 * (hip_bottom - r(bottom, "knee")[1]) / height,
        "squat_shin_peak_deg": m.shin_peak_deg,
        "squat_trunk_lean_deg": _incl(r(bottom, "hip"), r(bottom, "shoulder")),
        "squat_heel_lift_pct": 100 * m.heel_rise_px / foot,
        "squat_knee_past_toe_pct": 100 * (r(bottom, "knee")[0] - r(bottom, "foot_index")[0]) / foot,
    }


@pytest.fixture(scope="module")
def squat_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Movement]:
    m = Movement(heel_rise_px=10.0)
    return write_clip(tmp_path_factory.mktemp("clips") / "squat.mp4", m), m


def test_squat_reps_and_measures_match_the_drawn_geometry(squat_clip: tuple[Path, Movement]) -> None:
    path, m = squat_clip
    fake = FakeVideoModel(m)
    result = analyze_clip(path, ClipOptions(test="squat", **OFF), model=fake)
    assert result.status == "ok", result.error
    assert len(result.reps) == m.reps
    assert result.facing == "right" and result.side == "right"
    expected = _expected_squat(m)
    for name, value in expected.items():
        # Sampled at 15 fps the bottom frame is 1/30 s off the true bottom (d = 0.995): within 1 unit.
        assert result.measures[name] == pytest.approx(value, abs=1.0), name
        for rep in result.reps:
            assert rep.measures[name] == pytest.approx(value, abs=1.2), (name, rep.index)
    assert result.measures["squat_trunk_shin_diff_deg"] == pytest.approx(
        expected["squat_trunk_lean_deg"] - m.shin_peak_deg, abs=1.5
    )
    # Bottoms at 1.5, 3.5 and 5.5 s, the tops between them.
    assert [round(r.bottom_s, 1) for r in result.reps] == pytest.approx([1.5, 3.5, 5.5], abs=0.1)
    assert set(result.measures) == {n for n in MOVEMENT_MEASURE_NAMES if n.startswith("squat_")}
    assert result.deepest_frame is not None and result.failed_frames == []
    assert set(result.series) >= {"time_s", "hip_height_pct", "shin_deg", "trunk_lean_deg", "heel_rise_pct"}
    assert len(result.series["shin_deg"]) == result.clip.frames_sampled
    assert max(v for v in result.series["shin_deg"] if v is not None) == pytest.approx(
        m.shin_peak_deg, abs=1.0
    )
    assert result.noise["squat_shin_peak_deg"] > 0 and result.noise_source["squat_shin_peak_deg"]


def test_frames_are_streamed_at_the_sample_rate_with_increasing_timestamps(squat_clip) -> None:
    path, m = squat_clip
    fake = FakeVideoModel(m)
    result = analyze_clip(path, ClipOptions(test="squat", sample_fps=10, **OFF), model=fake)
    assert result.ok
    n = round(m.duration_s * 10)
    assert fake.calls == result.clip.frames_sampled == n  # one model pass per sampled frame, no more
    assert fake.clips == 1
    assert all(b > a for a, b in zip(fake.timestamps, fake.timestamps[1:], strict=False))
    assert result.series["time_s"][1] == pytest.approx(0.1, abs=0.01)


def test_progress_is_reported_per_frame(squat_clip) -> None:
    path, m = squat_clip
    seen: list[tuple[int, int]] = []
    analyze_clip(path, ClipOptions(**OFF), model=FakeVideoModel(m), progress=lambda d, t: seen.append((d, t)))
    # One report per frame, never "done" while frames are still coming, then one final report.
    assert [d for d, _ in seen[:-1]] == list(range(1, len(seen)))
    assert all(d < t for d, t in seen[:-1])
    assert seen[-1] == (seen[-2][0], seen[-2][0])


def test_a_mirrored_clip_gives_the_same_numbers(tmp_path: Path, squat_clip) -> None:
    path, m = squat_clip
    mirrored = replace(m, mirrored=True)
    mpath = write_clip(tmp_path / "mirror.mp4", mirrored)
    a = analyze_clip(path, ClipOptions(**OFF), model=FakeVideoModel(m))
    b = analyze_clip(mpath, ClipOptions(**OFF), model=FakeVideoModel(mirrored))
    assert b.ok and b.facing == "left" and b.side == "left"
    for name, value in a.measures.items():
        if value is not None:
            assert b.measures[name] == pytest.approx(value, abs=0.01), name


def test_a_given_camera_roll_is_removed(tmp_path: Path, squat_clip) -> None:
    path, m = squat_clip
    result = analyze_clip(path, ClipOptions(camera_roll_deg=4.0), model=FakeVideoModel(m))
    assert result.ok and result.camera_level.source == "given" and result.camera_roll_deg == 4.0
    # The figure was drawn level: removing a roll it does not have turns the shin by that much.
    level = analyze_clip(path, ClipOptions(**OFF), model=FakeVideoModel(m))
    diff = result.measures["squat_shin_peak_deg"] - level.measures["squat_shin_peak_deg"]
    assert abs(abs(diff) - 4.0) < 0.3


def test_lunge_heel_up_frames_are_left_out_and_flagged(tmp_path: Path) -> None:
    down = Movement(lunge=True, shin_peak_deg=40.0, thigh_peak_deg=30.0, trunk_peak_deg=5.0)
    up = replace(down, heel_rise_px=14.0)  # 20 % of foot length at the bottom
    res_down = analyze_clip(
        write_clip(tmp_path / "down.mp4", down), ClipOptions(test="lunge", **OFF), model=FakeVideoModel(down)
    )
    res_up = analyze_clip(
        write_clip(tmp_path / "up.mp4", up), ClipOptions(test="lunge", **OFF), model=FakeVideoModel(up)
    )
    assert res_down.ok and res_up.ok, (res_down.error, res_up.error)
    assert len(res_down.reps) == len(res_up.reps) == down.reps
    assert all(r.side == "right" and not r.heel_lifted_frames for r in res_down.reps)
    assert res_down.measures["lunge_shin_peak_deg"] == pytest.approx(40.0, abs=1.0)
    assert res_down.measures["lunge_shin_peak_right_deg"] == res_down.measures["lunge_shin_peak_deg"]
    assert res_down.measures["lunge_shin_peak_left_deg"] is None
    assert res_down.measures["lunge_asymmetry_deg"] is None
    # With the heel up near the bottom, the peak comes from the last heel-down frame: well below 40°.
    limit = load_rules()["movement"]["lunge"]["heel_lift_pct"]
    assert all(r.heel_lifted_frames for r in res_up.reps)
    assert "heel_lifted" in res_up.warnings and "heel_lifted" not in res_down.warnings
    peak = res_up.measures["lunge_shin_peak_deg"]
    assert peak is not None and peak < 40.0 - 5.0
    assert res_up.measures["lunge_heel_lift_pct"] == pytest.approx(100 * 14.0 / 70.0, abs=1.5)
    assert res_up.measures["lunge_heel_lift_pct"] > limit
    # A restricted lunge gets its finding with its number, in a sentence of its own.
    assert any(f"was {peak:.0f}° with the heel down." in f for f in res_up.findings)


def _assert_peaks_are_where_the_quoted_number_is(result, name: str) -> None:
    """Each rep's `peak_s` lies in the rep, off its heel-up frames, at the largest value of the shown
    shin curve among the rep's counted frames, and the rep's quoted peak is the mean of that frame and
    its counted neighbours (`robust_peak`). Next to a heel-up frame that mean takes one neighbour only:
    on a steep curve it sits up to ~2° under the centre frame's value, so the mark is at the quoted value,
    not on the curve."""
    times, shin = result.series["time_s"], result.series["shin_deg"]
    for rep in result.reps:
        assert rep.peak_s is not None, rep
        assert rep.start_s <= rep.peak_s <= rep.end_s, rep
        i = times.index(rep.peak_s)
        counted = [
            j
            for j in range(times.index(rep.start_s), times.index(rep.end_s) + 1)
            if j not in rep.heel_lifted_frames
        ]
        assert i in counted, (i, rep.heel_lifted_frames)
        assert shin[i] == max(shin[j] for j in counted), (rep.index, shin[i])
        near = [shin[j] for j in (i - 1, i, i + 1) if j in counted]
        assert rep.measures[name] == pytest.approx(float(np.mean(near)), abs=0.02), (
            rep.index,
            near,
            rep.measures,
        )
        assert shin[i] - rep.measures[name] < 2.5, (rep.index, shin[i], rep.measures)


def test_each_rep_names_the_frame_its_quoted_shin_peak_is_centred_on(tmp_path: Path, squat_clip) -> None:
    """The page marks it on the curve: the bottom (the hip's lowest frame) is not where the number is
    when the heel rises there, so `peak_s` says where it is."""
    m = Movement(lunge=True, shin_peak_deg=40.0, thigh_peak_deg=30.0, trunk_peak_deg=5.0, heel_rise_px=14.0)
    lunge = analyze_clip(
        write_clip(tmp_path / "up.mp4", m), ClipOptions(test="lunge", **OFF), model=FakeVideoModel(m)
    )
    assert lunge.ok and len(lunge.reps) == m.reps, lunge.error
    assert all(r.heel_lifted_frames for r in lunge.reps)
    _assert_peaks_are_where_the_quoted_number_is(lunge, "lunge_shin_peak_deg")
    # The heel is up at the bottom, so the quoted peak is off it: the case a user could not read.
    assert all(r.peak_s != r.bottom_s for r in lunge.reps)
    path, sm = squat_clip
    squat = analyze_clip(path, ClipOptions(test="squat", **OFF), model=FakeVideoModel(sm))
    assert squat.ok, squat.error
    _assert_peaks_are_where_the_quoted_number_is(squat, "squat_shin_peak_deg")
    # The old results stored without it still load.
    old = lunge.to_dict()
    for rep in old["reps"]:
        del rep["peak_s"]
    assert all(r.peak_s is None for r in type(lunge).model_validate(old).reps)


def test_a_webm_and_a_mov_clip_decode(tmp_path: Path, squat_clip) -> None:
    _, m = squat_clip
    for name, fourcc in (("c.webm", "VP80"), ("c.mov", "mp4v")):
        result = analyze_clip(
            write_clip(tmp_path / name, m, fourcc), ClipOptions(**OFF), model=FakeVideoModel(m)
        )
        assert result.ok and len(result.reps) == m.reps, (name, result.error)


def test_bytes_are_accepted_and_leave_no_temporary_file(tmp_path: Path, squat_clip, monkeypatch) -> None:
    path, m = squat_clip
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    result = analyze_clip(
        path.read_bytes(), ClipOptions(**OFF), model=FakeVideoModel(m), source_name="up.mp4"
    )
    assert result.ok and result.source == "up.mp4"
    assert list(tmp_path.glob("posture-clip-*")) == []


def test_a_burst_of_photos_is_a_clip(tmp_path: Path) -> None:
    m = Movement(fps=5.0)
    folder = tmp_path / "burst"
    folder.mkdir()
    cap = cv2.VideoCapture(str(write_clip(tmp_path / "b.mp4", m)))
    k = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        cv2.imwrite(str(folder / f"shot_{k:03d}.jpg"), frame)
        k += 1
    cap.release()
    result = analyze_clip(folder, ClipOptions(sample_fps=5, **OFF), model=FakeVideoModel(m))
    assert result.ok, result.error
    assert len(result.reps) == m.reps and result.clip.frames_sampled == k


def test_rotation_metadata_is_honoured(tmp_path: Path) -> None:
    """A portrait scene stored as landscape frames with a 90° display matrix decodes upright."""
    upright = np.full((160, 96, 3), 255, np.uint8)
    upright[:40, :30] = 0  # a black block at the upright picture's top-left
    stored = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)  # how the sensor recorded it
    path = tmp_path / "rot.mp4"
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (stored.shape[1], stored.shape[0])
    )
    for _ in range(10):
        writer.write(stored)
    writer.release()
    set_mp4_rotation(path, 90)
    with open_clip(path, sample_fps=10, max_duration_s=30, max_side_px=960) as clip:
        assert clip.info.rotation_deg in (90, 270)
        assert (clip.info.width, clip.info.height) == (96, 160)
        frame = next(iter(clip.frames()))
    assert frame.rgb.shape[:2] == (160, 96)
    assert frame.rgb[:40, :30].mean() < 60 and frame.rgb[-40:, -30:].mean() > 200


@pytest.mark.parametrize(
    ("content", "suffix"),
    [(b"", ".mp4"), (b"not a video at all\n" * 20, ".mp4"), (bytes(range(256)) * 8, ".webm")],
)
def test_unreadable_clips_get_a_code(tmp_path: Path, content: bytes, suffix: str) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    result = analyze_clip(path, model=FakeVideoModel(Movement()))
    assert result.status == "rejected" and result.error.code == ErrorCode.CLIP_UNREADABLE
    assert result.error.message and "Traceback" not in result.error.message
    assert (
        analyze_clip(tmp_path / "missing.mp4", model=FakeVideoModel(Movement())).error.code
        == "clip_unreadable"
    )


def test_a_long_clip_is_refused_before_decoding(tmp_path: Path) -> None:
    m = Movement(width=64, height=96, fps=10.0, reps=15, pause_s=1.0, ankle_x=30, floor_y=90)
    path = write_clip(tmp_path / "long.mp4", m)
    fake = FakeVideoModel(m)
    result = analyze_clip(path, model=fake)
    assert result.error.code == ErrorCode.CLIP_TOO_LONG and fake.calls == 0
    assert result.clip.frames_sampled == 0


def test_no_movement(tmp_path: Path) -> None:
    m = Movement(reps=0, pause_s=1.5)
    result = analyze_clip(write_clip(tmp_path / "still.mp4", m), ClipOptions(**OFF), model=FakeVideoModel(m))
    assert result.error.code == ErrorCode.NO_MOVEMENT and result.reps == []


def test_failed_frames_are_named_and_a_lost_bottom_is_refused(squat_clip) -> None:
    path, m = squat_clip
    # Lost for 0.2 s on the way up of the first rep: listed, the clip still measured.
    some = analyze_clip(path, ClipOptions(**OFF), model=FakeVideoModel(m, missing_s=(2.0, 2.2)))
    assert some.ok and "frames_failed" in some.warnings
    assert [f.reason for f in some.failed_frames] == ["no_person"] * len(some.failed_frames)
    assert (
        all(2.0 <= f.time_s <= 2.2 for f in some.failed_frames) and len(some.failed_frames) == 4
    )  # 2.0, 2.07, 2.13, 2.2 s
    # Lost at the bottom of the second rep.
    bottom = analyze_clip(path, ClipOptions(**OFF), model=FakeVideoModel(m, missing_s=(3.3, 3.7)))
    assert bottom.error.code == ErrorCode.PERSON_LEFT_FRAME
    assert bottom.failed_frames and all(3.3 <= f.time_s <= 3.7 for f in bottom.failed_frames)
    # Lost for most of the clip.
    most = analyze_clip(path, ClipOptions(**OFF), model=FakeVideoModel(m, missing_s=(1.0, 6.0)))
    assert most.error.code == ErrorCode.PERSON_LEFT_FRAME and len(most.failed_frames) >= 70


class _Frontal(FakeVideoModel):
    """The figure seen from the front: left and right shoulders and hips a torso-width apart."""

    def detect_for_video(self, rgb, timestamp_ms):
        out = super().detect_for_video(rgb, timestamp_ms)
        for det in out:
            for part in ("shoulder", "hip"):
                det.landmarks[INDEX[f"left_{part}"], 0] -= 60
                det.landmarks[INDEX[f"right_{part}"], 0] += 60
        return out


def test_not_side_on(squat_clip) -> None:
    path, m = squat_clip
    result = analyze_clip(path, ClipOptions(**OFF), model=_Frontal(m))
    assert result.error.code == ErrorCode.NOT_SIDE_ON


def test_invalid_options_are_refused(squat_clip) -> None:
    path, m = squat_clip
    for options in (ClipOptions(test="jump"), ClipOptions(sample_fps=0), ClipOptions(camera_roll_deg=90)):  # type: ignore[arg-type]
        result = analyze_clip(path, options, model=FakeVideoModel(m))
        assert result.error.code == ErrorCode.INVALID_OPTION, options


def test_reps_from_a_noisy_hip_path() -> None:
    """Savitzky–Golay smoothing keeps three dips of 20 % and drops jitter of ±1.5 %."""
    t = np.arange(0, 8, 1 / 15)
    rng = np.random.default_rng(3)
    dip = np.where((t > 1) & (t < 7), 0.5 * (1 - np.cos(2 * np.pi * (t - 1) / 2)), 0.0)
    height = 100 - 20 * dip + rng.uniform(-1.5, 1.5, len(t))
    smoothed = smooth(height, 5, 2)
    reps = find_reps(smoothed, min_drop=10, min_separation=6)
    assert [round(t[r.bottom]) for r in reps] == [2, 4, 6]
    assert find_reps(smooth(100 + rng.uniform(-1.5, 1.5, len(t)), 5, 2), min_drop=10, min_separation=6) == []


def test_the_pelvic_change_is_read_from_the_silhouette(tmp_path: Path) -> None:
    """The drawn back's sacral slope goes from 20° standing to 10° at the bottom: a 10° posterior tuck."""
    from .synthetic_clip import SilhouetteSquat

    fake = SilhouetteSquat(top_sacral_deg=20.0, bottom_sacral_deg=10.0)
    result = analyze_clip(fake.write(tmp_path / "tuck.mp4"), ClipOptions(sample_fps=10, **OFF), model=fake)
    assert result.ok, result.error
    assert len(result.reps) == 1
    # The estimate is the median of the bottom frame and its neighbours (0.1 s either side, at d = 0.96).
    assert result.measures["squat_pelvic_change_deg"] == pytest.approx(-10.0, abs=1.0)
    assert result.measures["squat_depth_pct"] > 20


def test_movement_rules_are_complete() -> None:
    """Every scored movement number has a finding for both directions whose value stands in a sentence
    of its own; every movement number has a noise band and a source."""
    import re

    rules = load_rules()["movement"]
    for test, per_measure in rules["scores"].items():
        for name, rule in per_measure.items():
            assert name in MOVEMENT_MEASURE_NAMES and name.startswith(test), name
            assert rule["source"] and rule["good"][0] <= rule["good"][1]
            entry = rules["findings"][test][name]
            assert entry["label"]
            for direction in ("high", "low"):
                sentences = re.split(r"(?<=[.;])\s+", entry[direction])
                holding = [s for s in sentences if "{value" in s]
                assert len(holding) == 1, (name, direction)
                assert not re.search(r"\d", re.sub(r"\{value[^}]*\}", "", holding[0])), (name, direction)
        assert set(rules["findings"][test]) == set(per_measure)  # no stale text
    for name in MOVEMENT_MEASURE_NAMES:
        assert rules["noise"][name] > 0, name
    assert "default" in rules["noise_sources"]


def test_findings_name_the_value_and_end_with_the_disclaimer() -> None:
    from posture.movement.scoring import score_movement

    scored = score_movement("lunge", {"lunge_shin_peak_deg": 31.2, "lunge_asymmetry_deg": 6.4})
    assert scored.bands["lunge_shin_peak_deg"] == "mild" and scored.bands["lunge_asymmetry_deg"] == "mild"
    assert any("was 31° with the heel down." in f for f in scored.findings)
    assert any("differed by 6° in peak shin angle." in f for f in scored.findings)
    assert scored.findings[-1] == load_rules()["movement"]["findings"]["disclaimer"]
    fine = score_movement("lunge", {"lunge_shin_peak_deg": 42.0})
    assert (
        fine.findings[0] == load_rules()["movement"]["findings"]["all_good"] and fine.scores["overall"] == 100
    )


def test_the_mirror_pass_runs_twice_and_agrees_on_a_symmetric_figure(squat_clip) -> None:
    path, m = squat_clip
    fake = FakeVideoModel(m)
    single = analyze_clip(path, ClipOptions(**OFF), model=FakeVideoModel(m))
    fused = analyze_clip(path, ClipOptions(mirror_pass=True, **OFF), model=fake)
    assert fused.ok and fake.calls == fake.twin().calls == fused.clip.frames_sampled
    for name, value in single.measures.items():
        if value is not None:
            assert fused.measures[name] == pytest.approx(value, abs=0.05), name


@pytest.mark.parametrize("roll", [0.0, 8.0, -5.0])
def test_the_deepest_frame_draws_the_true_vertical_the_angles_are_measured_from(roll):
    """The yellow reference line leans with the camera's roll (the vertical the shin is measured from),
    not with the frame's edge."""
    import io

    from PIL import Image

    from posture.movement.overlay import render_deepest, thumbnail

    jpeg, k = thumbnail(np.zeros((400, 300, 3), np.uint8))
    lm = np.zeros((33, 5))
    lm[:, :2] = (150.0, 200.0)
    lm[INDEX["left_ankle"], :2] = (150.0, 380.0)
    lm[INDEX["left_knee"], :2] = (150.0, 300.0)
    png = render_deepest(jpeg, k, lm, "left", "left", "lunge", {}, "", camera_roll_deg=roll)
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    ys, xs = np.nonzero((rgb[..., 0] > 240) & (np.abs(rgb[..., 1] - 220) < 20) & (rgb[..., 2] < 40))
    top = np.argmin(ys)
    lean = np.degrees(np.arctan2(xs[top] - 150.0 * k, 380.0 * k - ys[top]))  # + = clockwise on screen
    assert abs(lean - roll) < 1.0, (lean, roll)


def test_a_roll_read_by_the_phone_is_recorded_as_the_device_s(squat_clip) -> None:
    path, m = squat_clip
    options = ClipOptions(test="squat", camera_roll_deg=0.8, camera_roll_source="device", level="off")
    result = analyze_clip(path, options, model=FakeVideoModel(m))
    assert result.status == "ok", result.error
    assert result.camera_level.source == "device" and result.camera_level.roll_deg == 0.8
    refused = analyze_clip(path, ClipOptions(camera_roll_source="device"), model=FakeVideoModel(m))
    assert refused.status == "rejected" and refused.error.code == ErrorCode.INVALID_OPTION.value


def test_a_subject_lost_for_a_few_frames_is_found_again_further_on():
    """The tracker's reach grows with the frames the subject was not seen in."""
    from posture.model import PoseDetection
    from posture.movement.tracking import _choose

    lm = np.zeros((33, 5))
    lm[:, 1] = np.linspace(0.0, 400.0, 33)  # 400 px tall
    lm[:, 0] = 100.0 + 300.0  # hips 300 px (0.75 of the height) from the last ones
    person = PoseDetection(lm, np.zeros((1, 1), np.float32))
    last_hips = np.array([100.0, float(lm[INDEX["left_hip"], 1])])
    assert _choose([person], last_hips, 400.0) is None  # the next frame: too far for the same person
    assert _choose([person], last_hips, 400.0 * 2) is person  # after one frame unseen
