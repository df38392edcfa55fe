"""Stable error codes for every way a photo can be refused, and the codes of warnings.

The codes are part of the public contract (JSON, API, CSV): never rename one.
Each rejection pairs a code with a human message written for the person who took the photo.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    UNREADABLE_IMAGE = "unreadable_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    FILE_TOO_LARGE = "file_too_large"
    IMAGE_TOO_LARGE = "image_too_large"
    DECOMPRESSION_BOMB = "decompression_bomb"
    NO_PERSON = "no_person"
    NOT_SIDE_VIEW = "not_side_view"
    BODY_CROPPED = "body_cropped"
    TOO_SMALL = "too_small"
    LOW_VISIBILITY = "low_visibility"
    INVALID_OPTION = "invalid_option"
    ANALYSIS_FAILED = "analysis_failed"
    # A movement clip (posture.movement).
    CLIP_UNREADABLE = "clip_unreadable"
    CLIP_TOO_LONG = "clip_too_long"
    CLIP_TOO_SHORT = "clip_too_short"
    CLIP_FRAME_TOO_LARGE = "clip_frame_too_large"
    CLIP_TOO_HEAVY = "clip_too_heavy"
    CLIP_TRUNCATED = "clip_truncated"
    NO_MOVEMENT = "no_movement"
    PERSON_LEFT_FRAME = "person_left_frame"
    NOT_SIDE_ON = "not_side_on"
    # The clip's motion is not the test asked for (a walk, a body lying down, no rep of its shape).
    NOT_THE_TEST = "not_the_test"


class WarningCode(StrEnum):
    """Stable codes of the warnings an accepted result can carry (`Analysis.warnings`, comparisons)."""

    # On one analysis.
    MULTIPLE_PEOPLE = "multiple_people"
    MIRROR_PASS_DISAGREES = "mirror_pass_disagrees"
    FACING_OVERRIDE_DISAGREES = "facing_override_disagrees"
    FACING_UNCERTAIN = "facing_uncertain"
    CAMERA_LEVEL_UNKNOWN = "camera_level_unknown"
    CAMERA_LEVEL_DISAGREES = "camera_level_disagrees"
    # The person is mid-stride or on one foot (`posture.quality.stance`, rules `[stance]`): measured, but
    # the pelvis, lumbar and alignment scores and the overall score are withheld.
    NOT_STANDING_STILL = "not_standing_still"
    # On one movement clip: some sampled frames could not be measured (listed in `failed_frames`), and
    # lunge frames whose front heel had left the floor (left out of the peak shin angle, listed per rep).
    FRAMES_FAILED = "frames_failed"
    HEEL_LIFTED = "heel_lifted"
    # Dips of the hip without the test's shape, left out of the reps; a headline number outside what
    # the test can give, shown but neither scored nor given a finding.
    REPS_NOT_THE_TEST = "reps_not_the_test"
    MEASURE_IMPLAUSIBLE = "measure_implausible"
    # A clip's decoding ended before the container's last frame (analysed as far as it went), and a
    # rotation in the container that is not a quarter turn (ignored: the frames are analysed as stored).
    CLIP_TRUNCATED = "clip_truncated"
    ROTATION_IGNORED = "rotation_ignored"
    # On a comparison or trend of several analyses.
    MODE_DIFFERS = "mode_differs"
    RULES_VERSION_DIFFERS = "rules_version_differs"
    MODEL_DIFFERS = "model_differs"
    # The analyses span several methods (rules version or model): re-analyse them (`posture history
    # reanalyze`) before reading differences as change.
    MIXED_VERSIONS = "mixed_versions"


class PostureError(Exception):
    """A refusal with a stable `code` and a human `message`; raised inside, caught at the public API."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message

    def __repr__(self) -> str:
        return f"PostureError({self.code.value!r}, {self.message!r})"


class ModelIntegrityError(RuntimeError):
    """The bundled model file is missing or not the pinned build: a deployment fault, not a photo fault."""
