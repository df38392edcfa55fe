"""The pipeline: photo → subject → facing → quality gate → measures → scores → `Analysis`.

`analyze()` never raises for a bad photo or bad option: it returns a rejected `Analysis` with a stable
code. Only a broken installation (missing or tampered model file) raises `ModelIntegrityError`.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import ErrorCode, PostureError, WarningCode
from .facing import Facing, detect_facing
from .geometry import to_canonical
from .intake import IntakeLimits, Photo, PhotoSource, load_photo
from .landmarks import NAMES
from .level import (
    DEFAULT_PARAMS,
    LevelDecision,
    LevelParams,
    LineSegments,
    decide_level,
    detect_line_segments,
    estimate_camera_level,
    mask_in_frame,
)
from .measures import measure_all
from .model import PoseModel, PoseModelOptions
from .options import AnalysisOptions
from .overlay import render_overlay
from .pose import Subject, find_subject
from .quality import check, stance
from .result import Analysis, ErrorInfo, ImageInfo, LandmarkPoint, Mode, Versions
from .rules import load_rules, rules_version
from .scoring import score_all
from .silhouette import subject_contour

log = logging.getLogger(__name__)

_FEET = ("left_heel", "right_heel", "left_foot_index", "right_foot_index")

_default_model: PoseModel | None = None
_default_lock = threading.Lock()


def package_version() -> str:
    try:
        return metadata.version("posture-profile")
    except metadata.PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


def default_model() -> PoseModel:
    """The process-wide model used by `analyze()` when none is passed (created on first use)."""
    global _default_model
    with _default_lock:
        if _default_model is None:
            _default_model = PoseModel(PoseModelOptions())
        return _default_model


def analyze(
    source: PhotoSource,
    options: AnalysisOptions | None = None,
    *,
    model: PoseModel | None = None,
    source_name: str | None = None,
    limits: IntakeLimits | None = None,
    facing: Facing | None = None,
    mode: Mode = "standing",
    camera_roll_deg: float | None = None,
    overlay: bool = False,
) -> Analysis:
    """Analyse one side-profile photo (a path, bytes or a PIL image).

    Options come as one `AnalysisOptions` or, for convenience, as the keywords `facing`, `mode`,
    `camera_roll_deg` and `overlay` (ignored when `options` is given).
    """
    if options is None:
        options = AnalysisOptions(facing=facing, mode=mode, camera_roll_deg=camera_roll_deg, overlay=overlay)
    model = model or default_model()
    name = source_name if source_name is not None else _source_name(source)
    base = {
        "source": name,
        "versions": Versions(package=package_version(), model_sha256=model.sha256, rules=rules_version()),
        "mode": options.safe_mode,
        "camera_roll_deg": options.applied_roll_deg,
    }
    photo: Photo | None = None
    try:
        options.check()
        photo = load_photo(source, limits=limits)
        return _analyze_photo(photo, model, options, base)
    except PostureError as exc:
        return rejected(base, exc.code, exc.message, photo)
    except Exception:
        log.exception("analysis of %s failed", name)
        return rejected(
            base, ErrorCode.ANALYSIS_FAILED, "The analysis failed unexpectedly; this is a bug.", photo
        )


def _analyze_photo(photo: Photo, model: PoseModel, options: AnalysisOptions, base: dict) -> Analysis:
    reads_level = options.level == "auto" or options.camera_roll_deg is not None
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The room's lines depend on the pixels alone: they are found on another core while the model
        # runs (OpenCV and MediaPipe both release the GIL), off the photo's critical path.
        lines = pool.submit(detect_line_segments, photo.rgb, _level_params()) if reads_level else None
        subject = find_subject(model, photo)
    if subject is None:
        raise PostureError(
            ErrorCode.NO_PERSON, "No person was found in the photo. The whole body should be clearly visible."
        )
    lm = subject.landmarks
    decision = detect_facing(lm, options.facing)
    hip_centre = lm[[NAMES.index("left_hip"), NAMES.index("right_hip")], :2].mean(axis=0)
    contour = subject_contour(subject.mask, subject.mask_origin, subject.mask_scale, hip_centre)
    check(lm, contour, decision, photo.width, photo.height)

    level = _camera_level(photo, subject, options, lines.result() if lines is not None else None)
    base = {**base, "camera_roll_deg": round(level.applied_roll_deg, 2), "camera_level": level.level}
    warnings: list[str] = [WarningCode(w) for w in level.warnings]
    if subject.n_people > 1:
        warnings.append(WarningCode.MULTIPLE_PEOPLE)
    if not subject.fused:
        warnings.append(WarningCode.MIRROR_PASS_DISAGREES)
    if decision.overridden and decision.facing != ("right" if decision.votes_score >= 0 else "left"):
        warnings.append(WarningCode.FACING_OVERRIDE_DISAGREES)
    elif decision.confidence < 0.3:
        warnings.append(WarningCode.FACING_UNCERTAIN)

    frame = {
        "width": photo.width,
        "height": photo.height,
        "facing_left": decision.facing == "left",
        "camera_roll_deg": base["camera_roll_deg"],
    }
    canon_lm = lm[:, :4].copy()
    canon_lm[:, :2] = to_canonical(lm[:, :2], **frame)
    canon_contour = to_canonical(contour, **frame) if contour is not None else None
    measured = measure_all(canon_lm, canon_contour, decision.near_side, base["mode"])
    # A lunge is a stride by design: only a standing photo must show the person standing still.
    not_standing = base["mode"] == "standing" and not stance(canon_lm).still
    if not_standing:
        warnings.append(WarningCode.NOT_STANDING_STILL)
    scored = score_all(measured.values, base["mode"], not_standing=not_standing)
    values = measured.values
    result = Analysis(
        **base,
        status="ok",
        facing=decision.facing,
        side=decision.near_side,
        image=ImageInfo(width=photo.width, height=photo.height, taken_at=photo.taken_at),
        landmarks=_landmark_dict(lm),
        warnings=warnings,
        measures={k: None if m.value is None else round(m.value, 2) for k, m in values.items()},
        confidence={k: round(m.confidence, 2) for k, m in values.items()},
        not_measured={k: m.reason for k, m in values.items() if m.value is None and m.reason},
        scores=scored.scores,
        bands=scored.bands,
        findings=scored.findings,
    )
    if options.overlay:
        drawing = {**measured.drawing, "level_segments": level.segments_px}
        png = render_overlay(photo, result, drawing, frame)
        result = result.model_copy(update={"overlay_png": png})
    return result


def _level_params() -> LevelParams:
    return replace(DEFAULT_PARAMS, min_confidence=float(load_rules()["camera_level"]["min_confidence"]))


def _camera_level(
    photo: Photo, subject: Subject, options: AnalysisOptions, lines: LineSegments | None
) -> LevelDecision:
    """Read the roll from the photo (unless turned off) and decide which one to apply."""
    rules = load_rules()["camera_level"]
    estimate = None
    if lines is not None:
        height, width = photo.rgb.shape[:2]
        mask = None
        if subject.mask.size > 1:
            mask = mask_in_frame(
                subject.mask, subject.mask_origin, subject.mask_scale, width, height, photo.scale
            )
        feet = subject.landmarks[[NAMES.index(n) for n in _FEET], :2] * photo.scale
        estimate = estimate_camera_level(photo.rgb, mask, feet, params=_level_params(), lines=lines)
    return decide_level(
        options.applied_roll_deg if options.camera_roll_deg is not None else None,
        options.level,
        estimate,
        min_confidence=float(rules["min_confidence"]),
        full_confidence=float(rules["full_confidence"]),
        disagree_deg=float(rules["disagree_deg"]),
        segments_scale=1.0 / photo.scale,
        given_source=options.camera_roll_source,
    )


def _landmark_dict(lm: np.ndarray) -> dict[str, LandmarkPoint]:
    return {
        name: LandmarkPoint(
            x=round(float(lm[i, 0]), 2), y=round(float(lm[i, 1]), 2), visibility=round(float(lm[i, 3]), 3)
        )
        for i, name in enumerate(NAMES)
    }


def rejected(base: dict, code: ErrorCode, message: str, photo: Photo | None = None) -> Analysis:
    """A refused result: `base` holds `source`, `versions`, `mode` and `camera_roll_deg`."""
    image = (
        ImageInfo(width=photo.width, height=photo.height, taken_at=photo.taken_at) if photo else ImageInfo()
    )
    return Analysis(**base, status="rejected", error=ErrorInfo(code=code.value, message=message), image=image)


def _source_name(source: PhotoSource) -> str | None:
    if isinstance(source, str | Path):
        return str(source)
    if isinstance(source, Image.Image):
        return getattr(source, "filename", None) or None
    return None
