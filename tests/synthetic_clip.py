"""Synthetic movement clips with known geometry, written with cv2.VideoWriter at test time, and a fake
video model that "detects" the drawn figure's known joints at each frame's timestamp.

The figure faces image-right (its right side is the near side) unless mirrored. Per rep the movement
follows d(t) = (1 − cos 2πt/T) / 2 from standing (0) to the bottom (1) and back: shin inclination
from `shin_start_deg` (0 unless set) to `shin_peak_deg`, thigh −`thigh_peak_deg`·d (hip behind the
knee), trunk lean `trunk_peak_deg`·d and heel rise `heel_rise_px`·d. The decoded frames are real (the
clip goes through FFmpeg); only the pose model is replaced.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from posture.landmarks import INDEX, SWAP_LEFT_RIGHT
from posture.model import PoseDetection

SHANK, THIGH, TRUNK, NECK = 110.0, 110.0, 150.0, 55.0


def _unit(incl_deg: float) -> np.ndarray:
    t = np.deg2rad(incl_deg)
    return np.array([np.sin(t), -np.cos(t)])


@dataclass(frozen=True)
class Movement:
    width: int = 480
    height: int = 640
    fps: float = 30.0
    rep_s: float = 2.0
    reps: int = 3
    pause_s: float = 0.5  # standing before the first rep and after the last
    shin_peak_deg: float = 35.0
    # The shin's inclination standing: below 0 a shin that leans back (a misplaced leg, as on a real
    # three-quarter clip) can travel forward by the test's amount yet peak below what the test can give.
    shin_start_deg: float = 0.0
    thigh_peak_deg: float = 80.0
    trunk_peak_deg: float = 30.0
    heel_rise_px: float = 0.0
    # lunge: a split stance, the right leg in front; `far_shin_deg` is the back leg's fixed inclination
    lunge: bool = False
    far_shin_deg: float = -25.0
    mirrored: bool = False
    # Motions that are not the test: the front foot stepping out and back (a forward lunge), the whole
    # figure travelling across the picture (walking), the camera drifting (a handheld phone sinking or
    # rising by `drift_px` over the clip, steadily).
    front_step_px: float = 0.0
    travel_px_per_s: float = 0.0
    drift_px: float = 0.0
    ankle_x: float = 230.0
    floor_y: float = 600.0
    extra: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return 2 * self.pause_s + self.reps * self.rep_s

    def depth(self, t: float) -> float:
        u = t - self.pause_s
        if u < 0 or u > self.reps * self.rep_s:
            return 0.0
        return 0.5 * (1 - np.cos(2 * np.pi * (u % self.rep_s) / self.rep_s))

    def landmarks(self, t: float) -> np.ndarray:
        """(33, 5) landmarks in clip pixels at time `t`: x, y, z, visibility, presence."""
        d = self.depth(t)
        ankle = np.array([self.ankle_x + self.front_step_px * d, self.floor_y - 20.0])
        knee = ankle + SHANK * _unit(self.shin_start_deg + (self.shin_peak_deg - self.shin_start_deg) * d)
        hip = knee + THIGH * _unit(-self.thigh_peak_deg * d)
        shoulder = hip + TRUNK * _unit(self.trunk_peak_deg * d)
        ear = shoulder + NECK * _unit(self.trunk_peak_deg * d + 5)
        heel = np.array([ankle[0] - 15, self.floor_y - self.heel_rise_px * d])
        toe = np.array([ankle[0] + 55, self.floor_y])
        near = {"ankle": ankle, "knee": knee, "hip": hip, "shoulder": shoulder, "ear": ear, "heel": heel}
        near["foot_index"] = toe
        near["elbow"] = shoulder + np.array([20.0, 70.0])
        near["wrist"] = shoulder + np.array([60.0, 110.0])
        for k in ("index", "pinky", "thumb"):
            near[k] = near["wrist"] + np.array([8.0, 8.0])
        far = dict(near)
        if self.lunge:  # the back leg: ankle behind, fixed inclination, heel up off the floor
            b_ankle = np.array([self.ankle_x - 150.0, self.floor_y - 30.0])
            far = {**near, "ankle": b_ankle, "knee": b_ankle + SHANK * _unit(self.far_shin_deg)}
            far["heel"] = b_ankle + np.array([-15.0, 0.0])
            far["foot_index"] = b_ankle + np.array([50.0, 28.0])
        lm = np.zeros((33, 5))
        lm[:, 3:] = 0.99
        for part, xy in near.items():
            lm[INDEX[f"right_{part}"], :2] = xy
            lm[INDEX[f"left_{part}"], :2] = far[part] + np.array([-2.0, 0.0]) if part != "hip" else xy
        lm[INDEX["left_ear"], :2] = ear + np.array([-3.0, 0.0])
        lm[INDEX["nose"], :2] = ear + np.array([25.0, 8.0])
        for n in (
            "left_eye_inner",
            "left_eye",
            "left_eye_outer",
            "right_eye_inner",
            "right_eye",
            "right_eye_outer",
        ):
            lm[INDEX[n], :2] = ear + np.array([18.0, -6.0])
        lm[INDEX["mouth_left"], :2] = lm[INDEX["mouth_right"], :2] = ear + np.array([20.0, 18.0])
        lm[:, 0] += self.travel_px_per_s * t
        lm[:, 1] += self.drift_px * t / self.duration_s
        # MediaPipe's relative depth: the near (right) side nearer the camera (smaller z).
        for i in range(33):
            lm[i, 2] = -0.1 if "right" in _name(i) else 0.1
        if self.mirrored:
            lm = lm[SWAP_LEFT_RIGHT].copy()
            lm[:, 0] = self.width - lm[:, 0]
        return lm


def _name(i: int) -> str:
    return next(k for k, v in INDEX.items() if v == i)


def _draw(lm: np.ndarray, width: int, height: int) -> np.ndarray:
    """A grey figure on a light background (the frame content is not read by the fake model)."""
    img = np.full((height, width, 3), 225, np.uint8)
    pairs = [
        ("shoulder", "hip"),
        ("hip", "knee"),
        ("knee", "ankle"),
        ("ankle", "heel"),
        ("heel", "foot_index"),
    ]
    for side in ("left", "right"):
        for a, b in pairs:
            pa = tuple(int(v) for v in lm[INDEX[f"{side}_{a}"], :2])
            pb = tuple(int(v) for v in lm[INDEX[f"{side}_{b}"], :2])
            cv2.line(img, pa, pb, (60, 60, 60), 14)
    cv2.circle(img, tuple(int(v) for v in lm[INDEX["nose"], :2]), 22, (60, 60, 60), -1)
    return img


def write_clip(path: Path, movement: Movement, fourcc: str = "mp4v") -> Path:
    """Render `movement` to `path` (mp4v in .mp4/.mov, VP80 in .webm)."""
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*fourcc), movement.fps, (movement.width, movement.height)
    )
    assert writer.isOpened(), f"cannot write {path}"
    n = round(movement.duration_s * movement.fps)
    for k in range(n):
        lm = movement.landmarks(k / movement.fps)
        writer.write(cv2.cvtColor(_draw(lm, movement.width, movement.height), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def set_mp4_rotation(path: Path, degrees: int) -> None:
    """Write a display matrix rotating the video by `degrees` (90, 180, 270) into the MP4's tkhd box,
    as a phone does for a clip filmed upright; the stored frames stay as they are."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    assert at > 0, "no tkhd box"
    version = data[at + 4]
    matrix_at = at + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
    one, zero = 0x10000, 0
    c, s = {90: (0, 1), 180: (-1, 0), 270: (0, -1)}[degrees]
    values = [c * one, s * one, zero, -s * one, c * one, zero, 0, 0, 0x40000000]
    data[matrix_at : matrix_at + 36] = struct.pack(">9i", *values)
    path.write_bytes(bytes(data))


class FakeVideoModel:
    """Returns the movement's known landmarks at each timestamp (scaled to the frame it is given), and a
    mask drawn from them; counts its calls."""

    sha256 = "fake"

    def __init__(self, movement: Movement, *, missing_s: tuple[float, float] | None = None) -> None:
        self.movement = movement
        self.missing_s = missing_s
        self.calls = 0
        self.clips = 0
        self.timestamps: list[int] = []

    def start_clip(self) -> None:
        self.clips += 1

    def twin(self) -> FakeVideoModel:
        """The mirrored pass's model: it sees the figure mirrored."""
        if getattr(self, "_twin", None) is None:
            self._twin = FakeVideoModel(replace(self.movement, mirrored=not self.movement.mirrored))
        return self._twin

    def detect_for_video(self, rgb: np.ndarray, timestamp_ms: int) -> list[PoseDetection]:
        self.calls += 1
        self.timestamps.append(timestamp_ms)
        t = timestamp_ms / 1000.0
        if self.missing_s is not None and self.missing_s[0] <= t <= self.missing_s[1]:
            return []
        m = self.movement
        h, w = rgb.shape[:2]
        k = w / m.width
        lm = m.landmarks(t)
        lm[:, :2] *= k
        mask = np.zeros((h, w), np.float32)
        drawn = _draw(lm, w, h)
        mask[drawn[:, :, 0] < 128] = 1.0
        return [PoseDetection(landmarks=lm, mask=mask)]


class SilhouetteSquat:
    """A squat of the drawn body of tests/synthetic.py (1800 × 2100 canonical pixels, facing right) whose
    back outline is the V of `synthetic.Back` with sacral slope `top_sacral_deg` standing and
    `bottom_sacral_deg` at the bottom (the photo pipeline's pelvic estimate reads that slope): the
    trunk, hips and back drop by `drop_px`·d, the knees by half of it. A fake model for it returns these
    landmarks and the rendered soft mask, reduced to the frame it is given."""

    sha256 = "fake-silhouette"

    def __init__(self, top_sacral_deg: float = 20.0, bottom_sacral_deg: float = 10.0, drop_px: float = 300.0):
        self.movement = Movement(width=900, height=1050, rep_s=1.6, reps=1, pause_s=0.4)
        self.top, self.bottom, self.drop = top_sacral_deg, bottom_sacral_deg, drop_px
        self._masks: dict[float, np.ndarray] = {}

    def start_clip(self) -> None:
        pass

    def scene(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        from . import synthetic

        d = round(self.movement.depth(t), 4)
        lm = synthetic.landmarks(synthetic.Pose(0, 0, 0, 10))
        for i, name in enumerate(INDEX):
            part = name.split("_", 1)[-1]
            if part in ("ankle", "heel", "foot_index"):
                continue
            lm[i, 1] += (0.5 if part == "knee" else 1.0) * self.drop * d
        if d not in self._masks:
            shift = self.drop * d
            back = synthetic.Back(
                sacral_deg=self.top + (self.bottom - self.top) * d,
                top_y=600.5 + shift,
                bottom_y=1150.5 + shift,
                apex_y=900.5 + shift,
            )
            self._masks[d] = synthetic.render_mask(back)
        out = np.zeros((33, 5))
        out[:, :4] = lm
        out[:, 4] = 0.99
        for i, name in enumerate(INDEX):
            out[i, 2] = -0.1 if name.startswith("right") else 0.1
        return out, self._masks[d]

    def detect_for_video(self, rgb: np.ndarray, timestamp_ms: int) -> list[PoseDetection]:
        from . import synthetic

        h, w = rgb.shape[:2]
        lm, mask = self.scene(timestamp_ms / 1000.0)
        k = w / synthetic.WIDTH
        lm = lm.copy()
        lm[:, :2] *= k
        small = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA)
        return [PoseDetection(landmarks=lm, mask=small)]

    def write(self, path: Path) -> Path:
        m = self.movement
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), m.fps, (m.width, m.height))
        for _ in range(round(m.duration_s * m.fps)):
            writer.write(np.full((m.height, m.width, 3), 200, np.uint8))
        writer.release()
        return path
