"""What a movement is, from synthetic landmark tracks of known shape (tests/synthetic_clip.py, real
decoding, a fake model): a knee-to-wall lunge is scored; a walk, a split squat, a forward lunge and a
body lying down are refused as `not_the_test` with what was seen; the legs are known by geometry and
continuity, not by the landmarker's labels; the heel lift is read against the foot; implausible numbers
withhold their findings; the overlay shows the headline's numbers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posture import ClipOptions, analyze_clip
from posture.errors import ErrorCode, PostureError
from posture.landmarks import INDEX, SWAP_LEFT_RIGHT
from posture.model import PoseDetection
from posture.movement.legs import assign_legs
from posture.movement.scoring import score_movement
from posture.rules import load_rules

from .synthetic_clip import FakeVideoModel, Movement, write_clip

OFF = {"level": "off"}
# A knee-to-wall lunge: the front (near, right) foot fixed, the knee driven forward over it to 40° and
# back, the hip dipping a little; the back leg behind with its heel up.
KNEE_TO_WALL = Movement(lunge=True, shin_peak_deg=40.0, thigh_peak_deg=30.0, trunk_peak_deg=5.0)


def _run(tmp_path: Path, m: Movement, test: str, model=None, **options):
    path = write_clip(tmp_path / f"{test}.mp4", m)
    return analyze_clip(path, ClipOptions(test=test, **OFF, **options), model=model or FakeVideoModel(m))


def test_a_knee_to_wall_lunge_is_scored(tmp_path: Path) -> None:
    result = _run(tmp_path, KNEE_TO_WALL, "lunge")
    assert result.ok, result.error
    assert len(result.reps) == KNEE_TO_WALL.reps and "reps_not_the_test" not in result.warnings
    assert result.measures["lunge_shin_peak_deg"] == pytest.approx(40.0, abs=1.0)
    assert result.measures["lunge_heel_lift_pct"] == pytest.approx(0.0, abs=1.0)


def test_a_walk_is_refused_as_either_test_saying_what_was_seen(tmp_path: Path) -> None:
    walk = replace(KNEE_TO_WALL, travel_px_per_s=60.0, width=900, ankle_x=150.0)
    for test in ("lunge", "squat"):
        result = _run(tmp_path, walk, test)
        assert result.error is not None and result.error.code == ErrorCode.NOT_THE_TEST.value, result.error
        message = result.error.message
        assert "walks across the picture" in message and "% of its height" in message


def test_a_split_squat_is_not_scored_as_a_knee_to_wall_lunge(tmp_path: Path) -> None:
    """The front shin stays near vertical while the hip drops: refused, naming the shin's travel."""
    split = replace(KNEE_TO_WALL, shin_peak_deg=4.0, thigh_peak_deg=70.0)
    result = _run(tmp_path, split, "lunge")
    assert result.error is not None and result.error.code == ErrorCode.NOT_THE_TEST.value, result
    assert "knee-to-wall" in result.error.message and "at most 4°" in result.error.message
    assert not result.findings  # no dorsiflexion finding on a movement that is not the test


def test_a_forward_lunge_is_not_scored_as_a_knee_to_wall_lunge(tmp_path: Path) -> None:
    """The front foot steps out and back (a stride of 1.3 foot lengths... and more): refused."""
    forward = replace(KNEE_TO_WALL, shin_peak_deg=15.0, front_step_px=140.0)
    result = _run(tmp_path, forward, "lunge")
    assert result.error is not None and result.error.code == ErrorCode.NOT_THE_TEST.value, result
    assert "front foot moved" in result.error.message


class _Lying(FakeVideoModel):
    """The figure turned a quarter (the landmarks of a body lying along the picture)."""

    def detect_for_video(self, rgb: np.ndarray, timestamp_ms: int) -> list[PoseDetection]:
        out = []
        for d in super().detect_for_video(rgb, timestamp_ms):
            lm = d.landmarks.copy()
            x, y = lm[:, 0].copy(), lm[:, 1].copy()
            lm[:, 0], lm[:, 1] = y * 0.7, rgb.shape[0] - x * 0.7  # inside a 480 × 640 frame
            out.append(PoseDetection(landmarks=lm, mask=d.mask))
        return out


def test_a_body_lying_down_is_refused(tmp_path: Path) -> None:
    for test in ("squat", "lunge"):
        result = _run(tmp_path, KNEE_TO_WALL, test, model=_Lying(KNEE_TO_WALL))
        assert result.error is not None and result.error.code == ErrorCode.NOT_THE_TEST.value, result.error
        assert "from upright" in result.error.message


class _Relabelled(FakeVideoModel):
    """The landmarker's left/right labels swapped on the frames `swap(t)` picks (as it does side on)."""

    def __init__(self, movement: Movement, swap) -> None:
        super().__init__(movement)
        self.swap = swap

    def detect_for_video(self, rgb: np.ndarray, timestamp_ms: int) -> list[PoseDetection]:
        out = super().detect_for_video(rgb, timestamp_ms)
        if self.swap(timestamp_ms):
            out = [PoseDetection(landmarks=d.landmarks[SWAP_LEFT_RIGHT].copy(), mask=d.mask) for d in out]
        return out


@pytest.mark.parametrize("swap", [lambda ms: True, lambda ms: (ms // 200) % 2 == 1, lambda ms: ms % 3 == 0])
def test_the_front_leg_is_known_by_geometry_not_by_label(tmp_path: Path, swap) -> None:
    base = _run(tmp_path, KNEE_TO_WALL, "lunge")
    relabelled = _run(tmp_path, KNEE_TO_WALL, "lunge", model=_Relabelled(KNEE_TO_WALL, swap))
    assert base.ok and relabelled.ok, relabelled.error
    assert [r.side for r in relabelled.reps] == [r.side for r in base.reps] == ["right"] * KNEE_TO_WALL.reps
    for name, value in base.measures.items():
        if value is not None:
            assert relabelled.measures[name] == pytest.approx(value, abs=0.05), name


def test_a_mirrored_lunge_gives_the_same_front_shin(tmp_path: Path) -> None:
    mirrored = replace(KNEE_TO_WALL, mirrored=True)
    a, b = _run(tmp_path, KNEE_TO_WALL, "lunge"), _run(tmp_path, mirrored, "lunge")
    assert a.ok and b.ok
    assert b.measures["lunge_shin_peak_deg"] == pytest.approx(a.measures["lunge_shin_peak_deg"], abs=0.05)


def test_the_squat_s_near_leg_is_the_nearer_track_whatever_its_label(tmp_path: Path) -> None:
    m = Movement(reps=2)
    base = _run(tmp_path, m, "squat")
    swapped = _run(tmp_path, m, "squat", model=_Relabelled(m, lambda ms: True))
    assert base.ok and swapped.ok
    # The trunk is still read by label (its two sides overlap side on: 2 px apart in this figure).
    for name, value in base.measures.items():
        if value is not None and "trunk" not in name and name != "squat_pelvic_change_deg":
            assert swapped.measures[name] == pytest.approx(value, abs=0.05), name


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), min_size=2, max_size=40), st.sampled_from(["left", "right"]))
def test_assign_legs_undoes_any_pattern_of_label_swaps(swaps: list[bool], near: str) -> None:
    """Two legs on a smooth path (one ahead, the near one with smaller z): whichever frames have their
    labels swapped, the tracked legs are the same."""
    n = len(swaps)
    lm = np.zeros((n, 33, 4))
    t = np.arange(n)[:, None]
    for part, dy in (("knee", -100.0), ("ankle", 0.0), ("heel", 10.0), ("foot_index", 12.0)):
        lm[:, INDEX[f"right_{part}"], :2] = np.hstack([200.0 + 2 * t, np.full((n, 1), 400.0 + dy)])
        lm[:, INDEX[f"left_{part}"], :2] = np.hstack([80.0 - t, np.full((n, 1), 400.0 + dy)])
        lm[:, INDEX[f"right_{part}"], 2] = -0.1
        lm[:, INDEX[f"left_{part}"], 2] = 0.1
    want = assign_legs(lm, near)
    mixed = lm.copy()
    for i, s in enumerate(swaps):
        if s:
            mixed[i] = lm[i][SWAP_LEFT_RIGHT]
    got = assign_legs(mixed, near)
    legs = [INDEX[f"{sd}_{p}"] for sd in ("left", "right") for p in ("knee", "ankle", "heel", "foot_index")]
    np.testing.assert_allclose(got[:, legs], want[:, legs])
    # The near leg is under `near`'s name: the one with the smaller z.
    assert (got[:, INDEX[f"{near}_knee"], 2] < 0).all()


def test_no_false_heel_lift_from_a_drifting_camera_and_a_true_lift_is_caught(tmp_path: Path) -> None:
    """The camera drifts by 120 px over the clip (a handheld phone; the image heel moves by ≈ 23 % of
    foot length from a rep's top to its bottom): the heel's height in the image changes, its height over
    the toe does not."""
    limit = load_rules()["movement"]["scores"]["squat"]["squat_heel_lift_pct"]["good"][1]
    flat = _run(tmp_path, Movement(drift_px=-120.0), "squat")
    assert flat.ok and abs(flat.measures["squat_heel_lift_pct"]) < limit / 4, flat.measures
    assert not any("heels rose" in f for f in flat.findings)
    lifted = _run(tmp_path, Movement(drift_px=-120.0, heel_rise_px=14.0), "squat")  # 20 % of foot length
    assert lifted.measures["squat_heel_lift_pct"] == pytest.approx(20.0, abs=1.5)
    assert any("heels rose by 20 %" in f for f in lifted.findings)
    # The lunge's front heel likewise.
    drifting = _run(tmp_path, replace(KNEE_TO_WALL, drift_px=-120.0), "lunge")
    assert drifting.ok and drifting.measures["lunge_heel_lift_pct"] < limit / 4
    assert not any(r.heel_lifted_frames for r in drifting.reps)


def test_an_implausible_peak_withholds_its_findings_and_says_why() -> None:
    scored = score_movement(
        "lunge",
        {
            "lunge_shin_peak_deg": -6.7,
            "lunge_shin_peak_left_deg": -6.7,
            "lunge_shin_peak_right_deg": 8.0,
            "lunge_asymmetry_deg": 14.7,
            "lunge_heel_lift_pct": 2.0,
        },
    )
    assert set(scored.withheld) >= {"lunge_shin_peak_deg", "lunge_shin_peak_left_deg", "lunge_asymmetry_deg"}
    assert "lunge_shin_peak_deg" not in scored.scores and "lunge_asymmetry_deg" not in scored.scores
    text = " ".join(scored.findings)
    assert "-6.7°, outside what this test can give" in text
    assert "restricted ankle dorsiflexion" not in text and "beyond the test's measurement noise" not in text


def test_a_withheld_side_is_said_once_with_its_side_named() -> None:
    """Seen on a real clip (a one-leg balance filmed three-quarter, Pose2Sim's demo): the headline and
    the side it came from each got a sentence, the second with the raw name "lunge shin peak right deg"."""
    scored = score_movement(
        "lunge",
        {"lunge_shin_peak_deg": -4.5, "lunge_shin_peak_left_deg": None, "lunge_shin_peak_right_deg": -4.5},
    )
    said = [f for f in scored.findings if "outside what this test can give" in f]
    assert said == [said[0]] and "lunge shin angle (right leg) was -4.5°" in said[0]
    both = score_movement(
        "lunge",
        {"lunge_shin_peak_deg": -6.0, "lunge_shin_peak_left_deg": -6.0, "lunge_shin_peak_right_deg": 75.0},
    )
    text = " ".join(both.findings)
    assert (
        "lunge shin angle (left leg) was -6.0°" in text and "right leg's lunge shin angle was 75.0°" in text
    )


_ANGLE = st.one_of(st.none(), st.floats(-90, 120, allow_nan=False))


@given(headline=_ANGLE, left=_ANGLE, right=_ANGLE, asym=_ANGLE)
def test_every_withheld_value_is_said_once_in_words(
    headline: float | None, left: float | None, right: float | None, asym: float | None
) -> None:
    """Whatever the values: each withheld value is named in exactly one sentence, by a label in words
    (never a raw measure name), and nothing outside its range is scored or given its finding."""
    measures = {
        "lunge_shin_peak_deg": headline,
        "lunge_shin_peak_left_deg": left,
        "lunge_shin_peak_right_deg": right,
        "lunge_asymmetry_deg": asym,
        "lunge_heel_lift_pct": 2.0,
    }
    scored = score_movement("lunge", measures)
    said = [f for f in scored.findings if "outside what this test can give" in f]
    bounds = load_rules()["movement"]["plausible"]
    out = {
        n
        for n, v in measures.items()
        if v is not None and n in bounds and not bounds[n][0] <= v <= bounds[n][1]
    }
    assert out <= set(scored.withheld) and not out & set(scored.scores)
    folded = {
        n
        for n in ("lunge_shin_peak_left_deg", "lunge_shin_peak_right_deg")
        if n in out and "lunge_shin_peak_deg" in out and measures[n] == headline
    }
    assert len(said) == len(out - folded)
    assert not any("_" in f or " deg " in f for f in scored.findings)


def test_the_overlay_shows_the_headline_s_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from posture.movement import analysis

    seen = {}
    real = analysis.render_deepest

    def spy(*args, **kwargs):
        seen["measures"] = args[6]
        return real(*args, **kwargs)

    monkeypatch.setattr(analysis, "render_deepest", spy)
    m = replace(KNEE_TO_WALL, reps=3)
    result = _run(tmp_path, m, "lunge", overlay=True)
    assert result.ok and seen["measures"] == result.measures


def test_dips_without_the_knee_to_wall_shape_are_left_out_and_counted() -> None:
    """Two dips: one drives the front shin 0 → 30° over a still foot, one keeps it near vertical."""
    from types import SimpleNamespace

    from posture.movement.analysis import _knee_to_wall_reps
    from posture.movement.reps import RepSpan

    n = 40
    t = np.arange(n)
    shin = np.where(t < 20, 30 * np.sin(np.pi * t / 20) ** 2, 4 * np.sin(np.pi * (t - 20) / 20) ** 2)
    s = {
        "ankle_left_x": np.zeros(n),
        "ankle_right_x": np.full(n, 100.0) + 0.5 * np.sin(t),  # the front foot, still (landmark jitter)
        "shin_right_deg": shin,
        "shin_left_deg": np.full(n, -20.0),
    }
    raw = SimpleNamespace(series={"foot_len_right": np.full(n, 70.0), "foot_len_left": np.full(n, 70.0)})
    spans = [RepSpan(0, 10, 19), RepSpan(20, 30, 39)]
    rules = load_rules()["movement"]["lunge"]
    kept, left_out = _knee_to_wall_reps(s, raw, spans, rules)
    assert kept == [spans[0]] and left_out == 1
    with pytest.raises(Exception, match="No rep has the knee-to-wall lunge's shape") as refused:
        _knee_to_wall_reps(s, raw, [spans[1]], rules)
    assert refused.value.code == ErrorCode.NOT_THE_TEST


STEPPED = "the front foot moved at least"
SHIN_SHORT = "the front shin travelled forward by at most"


@pytest.mark.parametrize(
    ("shin_travel_deg", "foot_travel_px", "named", "not_named"),
    [
        (30.0, 220.0, [STEPPED, "moves the front foot"], [SHIN_SHORT]),  # a step, as cam02 of pose2sim
        (4.0, 0.0, [f"{SHIN_SHORT} 4°", "keeps the front shin near vertical"], [STEPPED]),  # a forward lunge
        (4.0, 220.0, [f"{SHIN_SHORT} 4°", STEPPED], []),  # both fell short: both named
    ],
)
def test_a_refused_lunge_names_only_what_fell_short(
    shin_travel_deg, foot_travel_px, named, not_named
) -> None:
    """A real three-quarter clip whose front foot stepped was refused with "the front shin travelled
    forward by at most 23° (… ≥ 15°)": a figure inside its bound, read as a pass. The message names what
    was outside the knee-to-wall shape, and only that."""
    from types import SimpleNamespace

    from posture.movement.analysis import _knee_to_wall_reps
    from posture.movement.reps import RepSpan

    n = 20
    t = np.arange(n)
    s = {
        "ankle_left_x": np.zeros(n),
        "ankle_right_x": 100.0 + foot_travel_px * t / (n - 1),  # the front foot, moving when it steps
        "shin_right_deg": shin_travel_deg * np.sin(np.pi * t / (n - 1)) ** 2,
        "shin_left_deg": np.full(n, -20.0),
    }
    raw = SimpleNamespace(series={"foot_len_right": np.full(n, 70.0), "foot_len_left": np.full(n, 70.0)})
    rules = load_rules()["movement"]["lunge"]
    with pytest.raises(
        PostureError, match=r"No rep has the knee-to-wall lunge's shape\. Of 1 dip of"
    ) as refused:
        _knee_to_wall_reps(s, raw, [RepSpan(0, 10, n - 1)], rules)
    assert refused.value.code == ErrorCode.NOT_THE_TEST
    message = str(refused.value)
    for part in named:
        assert part in message, (part, message)
    for part in not_named:
        assert part not in message, (part, message)
    assert message.endswith("the front foot fixed, the knee driven forward towards the wall and back.")
