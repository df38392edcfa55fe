"""The movement pipeline: clip → tracked frames → facing, checks, camera level → canonical series →
reps → measures → scores → `MovementAnalysis`.

`analyze_clip()` never raises for a bad clip or option: it returns a rejected result with a stable code
(`clip_unreadable`, `clip_too_long`, `no_person`, `not_side_on`, `person_left_frame`, `no_movement`,
`not_the_test`, `invalid_option`, `analysis_failed`) and, where frames were looked at, the ones that
failed. Memory is bounded by the clip's length limit, not its resolution: per sampled frame it keeps
landmarks, a contour and (with `overlay`) a small JPEG; of pixels only the current standing candidate's
frame and mask.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.stats import theilslopes

from ..analysis import package_version
from ..errors import ErrorCode, PostureError, WarningCode
from ..facing import detect_facing
from ..geometry import to_canonical
from ..landmarks import INDEX, side_index
from ..level import DEFAULT_PARAMS, LevelDecision, decide_level, estimate_camera_level
from ..model import VideoPoseModel
from ..quality import view_ratio
from ..result import CameraLevel, ErrorInfo, Versions
from ..rules import load_rules, rules_version
from .clip import ClipFrame, ClipInfo, ClipSource, open_clip
from .legs import assign_legs
from .measures import (
    LUNGE_MEASURE_NAMES,
    SERIES_NAMES,
    SQUAT_MEASURE_NAMES,
    RepMeasures,
    display_series,
    frame_series,
    headline,
    lunge_rep,
    lunge_shape,
    pelvic_estimate,
    squat_rep,
)
from .options import ClipOptions
from .overlay import render_deepest, thumbnail
from .reps import find_reps, smooth, window_samples
from .result import ClipInfoOut, DeepestFrame, FailedFrame, MovementAnalysis, Rep
from .scoring import noise_bands, score_movement
from .tracking import TrackedFrame, VideoModel, track

log = logging.getLogger(__name__)

_HIPS = [INDEX["left_hip"], INDEX["right_hip"]]
# Landmarks that must lie inside the picture for a frame to count: head, trunk and both legs to the toes.
_IN_FRAME = [INDEX["nose"]] + [
    side_index(p, s)
    for p in ("shoulder", "hip", "knee", "ankle", "heel", "foot_index")
    for s in ("left", "right")
]
_FEET = [side_index(p, s) for p in ("heel", "foot_index") for s in ("left", "right")]

_default_model: VideoPoseModel | None = None
_default_lock = threading.Lock()  # one clip at a time on the shared default model (it has a track state)


def default_video_model() -> VideoPoseModel:
    """The process-wide video model used when none is passed (created on first use)."""
    global _default_model
    if _default_model is None:
        _default_model = VideoPoseModel()
    return _default_model


@dataclass
class _Run:
    """What is known so far, so a rejection can still report the clip and the failed frames."""

    info: ClipInfo | None = None
    sampled: int = 0
    failed: list[FailedFrame] = field(default_factory=list)


def analyze_clip(
    source: ClipSource,
    options: ClipOptions | None = None,
    *,
    model: VideoModel | None = None,
    source_name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> MovementAnalysis:
    """Analyse a side-on squat or knee-to-wall lunge clip (a video path or bytes, or a burst of photos:
    a folder or a list of paths). `progress(done, total)` is called as frames are processed."""
    options = options or ClipOptions()
    name = source_name if source_name is not None else _source_name(source)
    run = _Run()
    with _default_lock if model is None else nullcontext():
        active = model or default_video_model()  # a missing or tampered model file raises: a deployment fault
        base = {
            "source": name,
            "test": options.safe_test,
            "versions": Versions(
                package=package_version(), model_sha256=active.sha256, rules=rules_version()
            ),
        }
        try:
            options.check()
            return _analyze(source, options, active, base, run, progress)
        except PostureError as exc:
            return _rejected(base, exc.code, exc.message, run)
        except Exception:
            log.exception("movement analysis of %s failed", name)
            return _rejected(
                base, ErrorCode.ANALYSIS_FAILED, "The analysis failed unexpectedly; this is a bug.", run
            )


def _analyze(
    source: ClipSource,
    options: ClipOptions,
    model: VideoModel,
    base: dict,
    run: _Run,
    progress: Callable[[int, int], None] | None,
) -> MovementAnalysis:
    rules = load_rules()["movement"]
    crules = rules["clip"]
    with open_clip(
        source,
        sample_fps=options.sample_fps,
        max_duration_s=float(crules["max_duration_s"]),
        max_side_px=int(crules["max_side_px"]),
    ) as clip:
        info = run.info = clip.info
        # The frames to expect, for progress: a clip whose container does not give its length (0) is
        # counted against the longest clip taken; the last report comes after the loop.
        duration = info.duration_s or float(crules["max_duration_s"])
        expected = max(1, math.ceil(duration * info.sample_fps)) if not info.burst else info.frames_total
        frames: list[TrackedFrame] = []
        thumbs: list[tuple[bytes, float]] = []
        standing: dict[str, object] = {}

        def keep_mask(frame: ClipFrame, lm: np.ndarray) -> bool:
            hip_y = float(lm[_HIPS, 1].mean())
            return _in_frame(lm, info) and hip_y < float(standing.get("hip_y", np.inf))  # type: ignore[arg-type]

        # Only the squat has a silhouette measure (the pelvic change): the lunge keeps no mask crops.
        for tracked in track(
            clip,
            model,
            keep_mask=keep_mask,
            keep_masks=options.test == "squat",
            mirror_pass=options.mirror_pass,
        ):
            if tracked.mask is not None and tracked.landmarks is not None:
                standing.update(
                    hip_y=float(tracked.landmarks[_HIPS, 1].mean()),
                    rgb=tracked.frame.rgb,
                    mask=tracked.mask,
                    lm=tracked.landmarks,
                    scale=tracked.frame.scale,
                )
            if options.overlay:
                thumbs.append(thumbnail(tracked.frame.rgb, tracked.frame.scale))
            frames.append(replace(tracked, frame=replace(tracked.frame, rgb=_EMPTY), mask=None))
            run.sampled = len(frames)
            if progress is not None:
                progress(len(frames), max(expected, len(frames) + 1))
        info = run.info = replace(info, frames_read=clip.frames_read, truncated=clip.truncated)
    if progress is not None and frames:
        progress(len(frames), len(frames))
    if not frames:
        raise PostureError(ErrorCode.CLIP_UNREADABLE, "No frame of the clip could be decoded.")
    return _measure(frames, thumbs, standing, options, info, base, run)


_EMPTY = np.zeros((0, 0, 3), np.uint8)


def _in_frame(lm: np.ndarray, info: ClipInfo) -> bool:
    pts = lm[_IN_FRAME, :2]
    return bool(
        np.all((pts[:, 0] >= 0) & (pts[:, 0] <= info.width) & (pts[:, 1] >= 0) & (pts[:, 1] <= info.height))
    )


def _measure(
    frames: list[TrackedFrame],
    thumbs: list[tuple[bytes, float]],
    standing: dict[str, object],
    options: ClipOptions,
    info: ClipInfo,
    base: dict,
    run: _Run,
) -> MovementAnalysis:
    rules = load_rules()
    mrules, crules, quality = rules["movement"], rules["movement"]["clip"], rules["quality"]
    n = len(frames)
    found = [f.landmarks is not None for f in frames]
    if not any(found):
        raise PostureError(
            ErrorCode.NO_PERSON,
            "No person was found in the clip. Film the whole body, side on, in good light.",
        )
    reasons: dict[int, str] = {}
    for i, f in enumerate(frames):
        if f.landmarks is None:
            reasons[i] = "no_person"
        elif not _in_frame(f.landmarks, info):
            reasons[i] = "out_of_frame"
    good = [i for i in range(n) if i not in reasons]
    if not good:
        run.failed = _failed(frames, reasons)
        raise _left_frame(len(reasons), n)

    # Facing: the mean of the frames' votes (one frame's cue can flip as the legs swing).
    decisions = [detect_facing(frames[i].landmarks) for i in good]  # type: ignore[arg-type]
    score = float(np.mean([d.votes_score for d in decisions]))
    detected = "right" if score >= 0 else "left"
    facing = options.facing or detected
    side = "right" if facing == "right" else "left"
    run.failed = _failed(frames, reasons)  # named also when the clip is refused as not the test
    _check_upright(frames, good, mrules["shape"], options.test)
    _check_on_the_spot(frames, good, mrules["shape"], options.test)
    ratio = float(np.median([view_ratio(frames[i].landmarks) for i in good]))  # type: ignore[arg-type]
    if ratio > quality["max_view_ratio"]:
        raise PostureError(
            ErrorCode.NOT_SIDE_ON,
            "The person is not side on to the camera (shoulders and hips are seen across, ratio "
            f"{ratio:.2f} > {quality['max_view_ratio']}). Film from the side, the camera at hip height, "
            "so it sees one side of the body.",
        )
    chain = [side_index(p, side) for p in ("shoulder", "hip", "knee", "ankle")]
    for i in good:
        vis = frames[i].landmarks[chain, 3]  # type: ignore[index]
        if float(vis.mean()) < quality["min_chain_visibility"]:
            reasons[i] = "low_visibility"
    good = [i for i in range(n) if i not in reasons]
    run.failed = _failed(frames, reasons)
    if not good or len(reasons) > float(crules["max_failed_share"]) * n:
        raise _left_frame(len(reasons), n)

    level = _camera_level(options, standing)
    roll = round(level.applied_roll_deg, 2)
    canon = np.full((n, 33, 4), np.nan)
    frame_geom = {
        "width": info.width,
        "height": info.height,
        "facing_left": facing == "left",
        "camera_roll_deg": roll,
    }
    for i in good:
        lm = frames[i].landmarks
        canon[i, :, 2:4] = lm[:, 2:4]  # type: ignore[index]
        canon[i, :, :2] = to_canonical(lm[:, :2], **frame_geom)  # type: ignore[index]
    canon = assign_legs(canon, side)  # the legs by geometry and continuity, the near one under `side`

    raw = frame_series(canon, side)  # type: ignore[arg-type]
    fps = info.sample_fps
    window = window_samples(fps, float(crules["smooth_window_s"]), int(crules["smooth_polyorder"]))
    s = {k: smooth(v, window, int(crules["smooth_polyorder"])) for k, v in raw.series.items()}
    # The floor as a straight line over time through the near foot's lowest points (Theil–Sen, robust
    # to the frames where that foot is up): a frame's own foot points are noisier than the hip's path
    # they would be subtracted from, and a person walking across a picture whose ground is not quite
    # level (or away from the camera) sees the floor drift.
    s["floor_y"] = _floor_line(s["floor_y"])
    hip_height = s["floor_y"] - s["hip_y"]
    standing_h = float(np.nanpercentile(hip_height, 90))
    test = options.test
    min_drop = float(mrules[test]["min_depth_pct"]) / 100.0 * standing_h
    spans = find_reps(hip_height, min_drop=min_drop, min_separation=round(float(crules["min_rep_s"]) * fps))
    if not spans:
        raise PostureError(
            ErrorCode.NO_MOVEMENT,
            f"No {test} rep was found: the hip did not go down and back up by at least "
            f"{mrules[test]['min_depth_pct']:.0f} % of its standing height. Film the whole movement, "
            "from standing, down and back up, side on.",
        )
    lost = [sp.bottom for sp in spans if sp.bottom in reasons]
    if lost:
        raise PostureError(
            ErrorCode.PERSON_LEFT_FRAME,
            f"The person was not measurable at the bottom of a rep (frame {lost[0]}, "
            f"{reasons[lost[0]].replace('_', ' ')}). Keep the whole body in the picture through every rep.",
        )

    foot_len = float(np.nanmedian(raw.series["foot_len"]))
    good_set = set(good)
    reps: list[RepMeasures] = []
    left_out = 0
    if test == "lunge":
        spans, left_out = _knee_to_wall_reps(s, raw, spans, mrules["lunge"])
    if test == "squat":
        for sp in spans:
            pelvic = {
                i: _pelvic(canon, frames, good_set, frame_geom, i, side)
                for i in (sp.start, sp.bottom, sp.end)
            }
            reps.append(squat_rep(s, sp, foot_len, pelvic))
    else:
        for sp in spans:
            sd = "left" if s["ankle_left_x"][sp.bottom] >= s["ankle_right_x"][sp.bottom] else "right"
            side_foot = float(np.nanmedian(raw.series[f"foot_len_{sd}"]))
            reps.append(lunge_rep(s, sp, side_foot, float(mrules["lunge"]["heel_lift_pct"])))
    measures = {k: _round(v) for k, v in headline(test, reps).items()}
    names = SQUAT_MEASURE_NAMES if test == "squat" else LUNGE_MEASURE_NAMES
    scored = score_movement(test, measures)
    noise, noise_source = noise_bands(names)

    times = [f.frame.time_s for f in frames]
    tops = [sp.start for sp in spans] + [sp.end for sp in spans]
    shown = display_series(s, test, float(np.nanmedian(hip_height[tops])), foot_len)
    series: dict[str, list[float | None]] = {"time_s": times}
    for key in SERIES_NAMES:
        series[key] = [_round(x) for x in shown[key]]

    key_rep = _key_rep(test, reps, measures)
    deepest = DeepestFrame(index=key_rep.key_frame, time_s=times[key_rep.key_frame])
    warnings: list[str] = [WarningCode(w) for w in level.warnings]
    if max(f.n_people for f in frames) > 1:
        warnings.append(WarningCode.MULTIPLE_PEOPLE)
    if options.facing is not None and options.facing != detected:
        warnings.append(WarningCode.FACING_OVERRIDE_DISAGREES)
    elif options.facing is None and abs(score) < 0.3:
        warnings.append(WarningCode.FACING_UNCERTAIN)
    if reasons:
        warnings.append(WarningCode.FRAMES_FAILED)
    if any(r.heel_lifted_frames for r in reps):
        warnings.append(WarningCode.HEEL_LIFTED)
    if left_out:
        warnings.append(WarningCode.REPS_NOT_THE_TEST)
    if scored.withheld:
        warnings.append(WarningCode.MEASURE_IMPLAUSIBLE)
    if info.truncated:
        warnings.append(WarningCode.CLIP_TRUNCATED)
    if info.rotation_ignored:
        warnings.append(WarningCode.ROTATION_IGNORED)

    out_reps = [
        Rep(
            index=k,
            start_s=times[r.span.start],
            bottom_s=times[r.span.bottom],
            end_s=times[r.span.end],
            peak_s=None if r.peak_frame is None else times[r.peak_frame],
            side=r.side,
            measures={name: _round(v) for name, v in r.values.items()},
            heel_lifted_frames=list(r.heel_lifted_frames),
        )
        for k, r in enumerate(reps)
    ]
    result = MovementAnalysis(
        **base,
        status="ok",
        facing=facing,
        side=side,
        warnings=warnings,
        clip=_clip_out(info, n),
        camera_roll_deg=roll,
        camera_level=CameraLevel(**level.level),
        reps=out_reps,
        measures=measures,
        noise=noise,
        noise_source=noise_source,
        scores=scored.scores,
        bands=scored.bands,
        findings=scored.findings,
        withheld=scored.withheld,
        failed_frames=run.failed,
        series=series,
        deepest_frame=deepest,
    )
    if options.overlay and thumbs:
        jpeg, k = thumbs[key_rep.key_frame]
        lm = frames[key_rep.key_frame].landmarks
        draw_side = key_rep.side or side
        caption = (
            f"{test} rep {reps.index(key_rep) + 1} of {len(reps)} · {deepest.time_s:.2f} s · "
            f"numbers: the clip's (median of {len(reps)})"
        )
        png = render_deepest(
            jpeg,
            k,
            lm,
            draw_side,
            side,
            test,
            measures,  # the headline's numbers, as every other form of the result shows them
            caption,
            camera_roll_deg=roll,  # type: ignore[arg-type]
            withheld=scored.withheld,  # marked on the picture as the findings say: shown, not scored
        )
        result = result.model_copy(update={"deepest_png": png})
    return result


def _floor_line(floor_y: np.ndarray) -> np.ndarray:
    ok = np.isfinite(floor_y)
    t = np.arange(len(floor_y), dtype=np.float64)
    if ok.sum() < 3:
        return np.full(len(floor_y), float(np.nanmedian(floor_y)))
    slope, intercept, _, _ = theilslopes(floor_y[ok], t[ok])
    return intercept + slope * t


def _key_rep(test: str, reps: list[RepMeasures], measures: dict[str, float | None]) -> RepMeasures:
    """The rep whose frame is drawn: the squat rep nearest the median depth, or the lunge rep of the
    headline's side whose peak is nearest the headline's, so the picture shows what the numbers say."""
    key = "squat_depth_pct" if test == "squat" else "lunge_shin_peak_deg"
    target = measures.get(key)
    known = [r for r in reps if r.values.get(key) is not None]
    if not known or target is None:
        return known[0] if known else reps[0]
    return min(known, key=lambda r: abs(r.values[key] - target))  # type: ignore[operator]


def _check_upright(frames: list[TrackedFrame], good: list[int], rules: dict, test: str) -> None:
    """Refuse a body that is not standing: the line from the mid-ankles to the mid-shoulders far from
    the picture's vertical in most frames (lying down, or a clip turned on its side)."""
    angles = []
    for i in good:
        lm = frames[i].landmarks
        d = (
            lm[[INDEX["left_shoulder"], INDEX["right_shoulder"]], :2].mean(axis=0)
            - lm[  # type: ignore[index]
                [INDEX["left_ankle"], INDEX["right_ankle"]], :2
            ].mean(axis=0)
        )
        angles.append(abs(math.degrees(math.atan2(abs(float(d[0])), -float(d[1])))))
    tilt = float(np.median(angles))
    if tilt > float(rules["max_body_tilt_deg"]):
        raise PostureError(
            ErrorCode.NOT_THE_TEST,
            f"This is not a {_TEST_NAMES[test]}: the body lies {tilt:.0f}° from upright (ankles to "
            f"shoulders), so the person is lying down or the clip is turned on its side. Film the test "
            "standing, the phone upright or level.",
        )


def _check_on_the_spot(frames: list[TrackedFrame], good: list[int], rules: dict, test: str) -> None:
    """Refuse a clip in which the person travels across the picture (walking): both tests are done on
    the spot, the hip moving forward or back by a fraction of its height. Read from the frames where
    the whole body is in the picture, before any other check, so a walk is named as one even when the
    person also walks out of the picture."""
    if len(good) < 3:
        return
    lms = np.stack([frames[i].landmarks[:, :2] for i in good])  # type: ignore[index]
    hips = lms[:, _HIPS].mean(axis=1)
    ankles = lms[:, [INDEX["left_ankle"], INDEX["right_ankle"]]].mean(axis=1)
    height = float(np.median(np.hypot(*(ankles - hips).T)))  # the hip's height above the ankles
    if height <= 0:
        return
    travel = 100.0 * float(np.percentile(hips[:, 0], 95) - np.percentile(hips[:, 0], 5)) / height
    if travel > float(rules["max_hip_travel_pct"]):
        raise PostureError(
            ErrorCode.NOT_THE_TEST,
            f"This is not a {_TEST_NAMES[test]}: the person walks across the picture (the hip travels "
            f"{travel:.0f} % of its height sideways; on the spot it moves less than "
            f"{float(rules['max_hip_travel_pct']):.0f} %). Film the test on the spot, side on.",
        )


def _knee_to_wall_reps(s: dict[str, np.ndarray], raw: object, spans: list, rules: dict) -> tuple[list, int]:
    """The dips that have the knee-to-wall shape (front foot in place, front shin driven forward over
    it), and how many did not; none → `not_the_test`, saying what was seen."""
    max_foot, min_shin = float(rules["max_foot_travel_pct"]), float(rules["min_shin_travel_deg"])
    shapes = []
    for sp in spans:
        sd = "left" if s["ankle_left_x"][sp.bottom] >= s["ankle_right_x"][sp.bottom] else "right"
        shapes.append(lunge_shape(s, sp, float(np.nanmedian(raw.series[f"foot_len_{sd}"]))))  # type: ignore[attr-defined]
    kept = [sp for sp, sh in zip(spans, shapes, strict=True) if sh.is_knee_to_wall(max_foot, min_shin)]
    if kept:
        return kept, len(spans) - len(kept)
    shin = max((sh.shin_travel_deg for sh in shapes if np.isfinite(sh.shin_travel_deg)), default=0.0)
    foot = min((sh.foot_travel_pct for sh in shapes if np.isfinite(sh.foot_travel_pct)), default=0.0)
    # Name only what fell short: a message saying the shin travelled 23° against a bound of ≥ 15° reads
    # as a pass (a real three-quarter clip whose foot stepped was refused so).
    short = []
    if shin < min_shin:
        short.append(
            f"the front shin travelled forward by at most {shin:.0f}° (a knee-to-wall rep drives the knee "
            f"over the foot, ≥ {min_shin:.0f}°)"
        )
    if foot > max_foot:
        short.append(
            f"the front foot moved at least {foot:.0f} % of its length (it stays put, ≤ {max_foot:.0f} %)"
        )
    if not short:  # each dip fell short on one of the two, none on neither
        short.append(
            f"none had both the front shin driven forward by ≥ {min_shin:.0f}° and the front foot kept in "
            f"place (≤ {max_foot:.0f} % of its length)"
        )
    if shin < min_shin:
        why = "A forward lunge or a split squat keeps the front shin near vertical and is not this test"
    else:
        why = "A step, a walk or a forward lunge moves the front foot and is not this test"
    raise PostureError(
        ErrorCode.NOT_THE_TEST,
        f"No rep has the knee-to-wall lunge's shape. Of {len(spans)} {'dip' if len(spans) == 1 else 'dips'} "
        f"of the hip, "
        f"{' and '.join(short)}. {why}: film the knee-to-wall lunge, the front foot fixed, the knee driven "
        "forward towards the wall and back.",
    )


_TEST_NAMES = {"squat": "squat", "lunge": "knee-to-wall lunge"}


def _pelvic(
    canon: np.ndarray, frames: list[TrackedFrame], good: set[int], geom: dict, i: int, side: str
) -> float | None:
    """The pelvic estimate at frame `i`, as the median of it and its neighbours (the outline flickers);
    the outlines are traced here, for these frames only."""
    values = []
    for j in (i - 1, i, i + 1):
        if j not in good:
            continue
        outline = frames[j].contour()
        if outline is None:
            continue
        v = pelvic_estimate(canon[j], to_canonical(outline, **geom), side)  # type: ignore[arg-type]
        if v is not None:
            values.append(v)
    return float(np.median(values)) if values else None


def _camera_level(options: ClipOptions, standing: dict[str, object]) -> LevelDecision:
    """The given roll, else the one read from the standing frame (the highest hip) as in a photo."""
    rules = load_rules()["camera_level"]
    estimate = None
    if (options.level == "auto" or options.camera_roll_deg is not None) and "rgb" in standing:
        rgb = standing["rgb"]
        scale = float(standing["scale"])  # type: ignore[arg-type]
        feet = standing["lm"][_FEET, :2] * scale  # type: ignore[index]
        params = replace(DEFAULT_PARAMS, min_confidence=float(rules["min_confidence"]))
        estimate = estimate_camera_level(rgb, standing["mask"], feet, params=params)  # type: ignore[arg-type]
    return decide_level(
        float(options.camera_roll_deg) if options.camera_roll_deg is not None else None,
        options.level,
        estimate,
        min_confidence=float(rules["min_confidence"]),
        full_confidence=float(rules["full_confidence"]),
        disagree_deg=float(rules["disagree_deg"]),
        given_source=options.camera_roll_source,
    )


def _failed(frames: list[TrackedFrame], reasons: dict[int, str]) -> list[FailedFrame]:
    return [FailedFrame(index=i, time_s=frames[i].frame.time_s, reason=r) for i, r in sorted(reasons.items())]


def _left_frame(failed: int, total: int) -> PostureError:
    return PostureError(
        ErrorCode.PERSON_LEFT_FRAME,
        f"The person could not be measured in {failed} of {total} frames (listed in failed_frames): "
        "out of the picture, hidden or not found. Keep the whole body, head to toes, in view throughout.",
    )


def _clip_out(info: ClipInfo | None, sampled: int) -> ClipInfoOut:
    if info is None:
        return ClipInfoOut(frames_sampled=sampled)
    return ClipInfoOut(
        width=info.width,
        height=info.height,
        fps=info.fps,
        duration_s=info.duration_s,
        rotation_deg=info.rotation_deg,
        frames_total=info.frames_total or None,  # unknown when the container does not say
        frames_sampled=sampled,
        sample_fps=round(info.sample_fps, 3),
        frames_read=info.frames_read or None,
        rotation_ignored_deg=info.rotation_ignored_deg,
    )


def _rejected(base: dict, code: ErrorCode, message: str, run: _Run) -> MovementAnalysis:
    return MovementAnalysis(
        **base,
        status="rejected",
        error=ErrorInfo(code=ErrorCode(code).value, message=message),
        clip=_clip_out(run.info, run.sampled),
        failed_frames=run.failed,
    )


def _round(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), 2)


def _source_name(source: ClipSource) -> str | None:
    if isinstance(source, str | Path):
        return str(source)
    return None
