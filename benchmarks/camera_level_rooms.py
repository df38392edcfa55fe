"""The camera level read from real photos of people in a real room, against the calibrated roll.

Material: the demo videos of the PyPI package `pose2sim==0.10.49` (BSD-3-Clause): a motion-capture lab
(windows, door frames, a curtain, furniture, people walking), filmed by four calibrated cameras
(1080 × 1920 portrait, looking down by 18–25°) in two scenes, one and two people. The package's
Qualisys calibration (`Calib.qca.txt`, world Z up: the cameras stand ~1.7–2.1 m above the floor plane)
gives each camera's rotation, so its true roll: the direction from the principal point to the image of
the world's vertical vanishing point, in the sign of `camera_roll_deg` (verticals turned clockwise when
positive). Rolls: cam01 +13.4°, cam02 −2.6°, cam03 −2.8°, cam04 −26.1° (held far off level: out of the
estimator's ±15° range, only checked not to be given a wrong roll).

Photos per frame (frames 0, 50 and 99 of each of the 8 videos), each JPEG-encoded (quality 90) as a
phone would save it and cropped to a centred 3:4 portrait rectangle with no padding:

- *as filmed*: cropped, not turned (truth: the camera's roll);
- *levelled and turned*: turned about the centre by (t − camera roll) for t = 0, ±3°, ±6°, i.e. a
  camera held at roll t (truth: t).

The person's mask and feet come from posture's own subject search on each photo, as in `analyze()`.
The error is the applied estimate − the truth. Also: the same photos with the people cut out by their
mask onto a plain, unevenly lit wall (`none` or at most 2° expected; with two people in view only the
subject is cut out, so the other person stays, on the wall).

The wheel is looked for at `--wheel`, then in the cache folder (`--cache`, default
`~/.cache/posture/camera_level_rooms`); when absent it is fetched there with
`pip download --no-deps pose2sim==0.10.49` and checked against its SHA-256. The videos are extracted
from it into the cache; nothing of it enters the repository. The subject search on the 144 photos takes
a few minutes on two cores; `--reuse` keeps its results in the cache for reruns of the estimate alone.

Run: `python benchmarks/camera_level_rooms.py [--wheel PATH] [--reuse] [--show]`;
`--write-samples sample_images/rooms` writes the two frames committed for the unit tests instead.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

os.environ.setdefault("GLOG_minloglevel", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from posture.intake import load_photo  # noqa: E402
from posture.landmarks import INDEX  # noqa: E402
from posture.level import (  # noqa: E402
    DEFAULT_PARAMS,
    LevelEstimate,
    LevelParams,
    estimate_camera_level,
    mask_in_frame,
)

PACKAGE = "pose2sim==0.10.49"
WHEEL = "pose2sim-0.10.49-py3-none-any.whl"
WHEEL_SHA256 = "403e0dc4065898ba6a595e72a8970950310979253d60e24c2e00b16b36bf21e1"
SCENES = ("SinglePerson", "MultiPerson")
CAMERAS = ("cam01", "cam02", "cam03", "cam04")
FRAMES = (0, 50, 99)
TURNS_DEG = (0.0, -3.0, 3.0, -6.0, 6.0)
MAX_ROLL_DEG = 15.0  # the estimator's range (`LevelParams.max_roll_deg`)
PORTRAIT = 3 / 4  # width / height of the crop: a phone photo
JPEG_QUALITY = 90
FEET = [INDEX[n] for n in ("left_heel", "right_heel", "left_foot_index", "right_foot_index")]
DEFAULT_CACHE = Path.home() / ".cache" / "posture" / "camera_level_rooms"


# --- the material -----------------------------------------------------------------------------------


def wheel_path(given: Path | None, cache: Path) -> Path:
    """The pose2sim wheel: `given`, else the cached one, else downloaded into the cache (pip)."""
    path = given or cache / WHEEL
    if not path.is_file() and given is None:
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", PACKAGE]
        subprocess.run([*cmd, "-d", str(cache)], check=True)
    if not path.is_file():
        raise SystemExit(f"no {WHEEL} at {path}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{path}: SHA-256 {digest}, expected {WHEEL_SHA256}")
    return path


def extract(wheel: Path, cache: Path) -> Path:
    """The calibration and the videos, unpacked once into `cache/pose2sim`."""
    out = cache / "pose2sim"
    names = ["Pose2Sim/Demo_SinglePerson/calibration/Calib.qca.txt"]
    names += [f"Pose2Sim/Demo_{s}/videos/{c}.mp4" for s in SCENES for c in CAMERAS]
    with zipfile.ZipFile(wheel) as z:
        for name in names:
            if not (out / name).is_file():
                z.extract(name, out)
    return out / "Pose2Sim"


@dataclass(frozen=True)
class Camera:
    rotation: np.ndarray  # world → camera (OpenCV axes: x right, y down, z forward)
    k: np.ndarray  # intrinsic matrix, pixels of the 1080 × 1920 video

    def vertical_vp(self) -> np.ndarray:
        """Homogeneous image point of the world's vertical direction (undistorted pixels)."""
        return self.k @ (self.rotation @ np.array([0.0, 0.0, 1.0]))

    def roll_deg(self) -> float:
        """The direction of the world's up at the principal point, clockwise from image-up."""
        up = self.rotation @ np.array([0.0, 0.0, 1.0])
        return float(np.degrees(np.arctan2(up[0], -up[1])))

    def pitch_down_deg(self) -> float:
        axis = self.rotation.T @ np.array([0.0, 0.0, 1.0])  # the optical axis in the world
        return float(np.degrees(np.arcsin(-axis[2])))


def cameras(demo: Path) -> dict[str, Camera]:
    """The four cameras of the package's Qualisys calibration (shared by both scenes).

    Qualisys gives each camera's orientation M (rows: the camera's axes in the world) and position;
    its camera looks along −z with y up, so OpenCV's axes are diag(1, −1, −1) · M (as pose2sim's own
    converter does: transpose and a half turn about x)."""
    root = ET.parse(demo / "Demo_SinglePerson" / "calibration" / "Calib.qca.txt").getroot()
    out = {}
    for cam in root.findall("cameras/camera"):
        t, i = cam.find("transform").attrib, cam.find("intrinsic").attrib  # type: ignore[union-attr]
        m = np.array([[float(t[f"r{a}{b}"]) for b in "123"] for a in "123"])
        # Qualisys stores intrinsics in 1/64 pixel.
        fu, fv = float(i["focalLengthU"]) / 64, float(i["focalLengthV"]) / 64
        cu, cv = float(i["centerPointU"]) / 64, float(i["centerPointV"]) / 64
        k = np.array([[fu, 0.0, cu], [0.0, fv, cv], [0.0, 0.0, 1.0]])
        out[cam.attrib["serial"]] = Camera(np.diag([1.0, -1.0, -1.0]) @ m, k)
    return out


def read_frame(video: Path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, bgr = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"cannot read frame {index} of {video}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def turn_and_crop(rgb: np.ndarray, clockwise_deg: float, aspect: float = PORTRAIT) -> np.ndarray:
    """Turned clockwise on screen about the centre (the estimated roll grows by `clockwise_deg`), then
    the largest centred rectangle of `aspect` (width / height) inside the turned frame: no padding."""
    h, w = rgb.shape[:2]
    c, s = abs(np.cos(np.radians(clockwise_deg))), abs(np.sin(np.radians(clockwise_deg)))
    ch = min(w / (aspect * c + s), h / (aspect * s + c))
    cw = int(np.floor(aspect * ch)) - 2
    ch = int(np.floor(ch)) - 2
    m = cv2.getRotationMatrix2D((w / 2.0 - 0.5, h / 2.0 - 0.5), -clockwise_deg, 1.0)
    turned = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return np.ascontiguousarray(turned[y0 : y0 + ch, x0 : x0 + cw])


def as_jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


@dataclass(frozen=True)
class Shot:
    """One evaluated photo: where it comes from, its true roll and what the estimator gets."""

    scene: str
    camera: str
    frame: int
    kind: str  # "as filmed" or "turned"
    turn_deg: float
    truth_deg: float
    rgb: np.ndarray  # the working image
    mask: np.ndarray | None
    feet: np.ndarray | None


def subject_inputs(model: object, jpeg: bytes) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The working image, the subject's mask in it and its heels and toes, as `analyze()` finds them."""
    from posture.pose import find_subject

    photo = load_photo(jpeg)
    subject = find_subject(model, photo)  # type: ignore[arg-type]
    if subject is None or subject.mask.size <= 1:
        return photo.rgb, None, None
    h, w = photo.rgb.shape[:2]
    mask = mask_in_frame(subject.mask, subject.mask_origin, subject.mask_scale, w, h, photo.scale)
    return photo.rgb, mask, subject.landmarks[FEET, :2] * photo.scale


def shots(demo: Path, cache: Path, reuse: bool) -> list[Shot]:
    cams = cameras(demo)
    store = cache / "inputs"
    store.mkdir(parents=True, exist_ok=True)
    model = None
    out = []
    for scene in SCENES:
        for name in CAMERAS:
            roll = cams[name].roll_deg()
            for index in FRAMES:
                frame = None
                plans = [("as filmed", 0.0, 0.0, roll)]
                plans += [("turned", t, t - roll, t) for t in TURNS_DEG]
                for kind, turn, clockwise, truth in plans:
                    key = store / f"{scene}_{name}_f{index:03d}_{kind.replace(' ', '')}_{turn:+.0f}.npz"
                    if reuse and key.is_file():
                        data = np.load(key)
                        rgb = data["rgb"]
                        mask = data["mask"] if data["mask"].size else None
                        feet = data["feet"] if data["feet"].size else None
                    else:
                        if frame is None:
                            frame = read_frame(demo / f"Demo_{scene}" / "videos" / f"{name}.mp4", index)
                        if model is None:
                            import posture

                            model = posture.default_model()
                        photo = as_jpeg(turn_and_crop(frame, clockwise))
                        rgb, mask, feet = subject_inputs(model, photo)
                        np.savez_compressed(
                            key,
                            rgb=rgb,
                            mask=np.zeros(0) if mask is None else mask.astype(np.float16),
                            feet=np.zeros(0) if feet is None else feet,
                        )
                    mask = None if mask is None else mask.astype(np.float32)
                    out.append(Shot(scene, name, index, kind, turn, truth, rgb, mask, feet))
    return out


# --- the evaluation ---------------------------------------------------------------------------------


def on_plain_wall(shot: Shot, seed: int) -> np.ndarray:
    """The subject on a flat wall: a grey with a smooth light gradient and sensor noise."""
    h, w = shot.rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    wall = 180.0 * (0.85 + 0.2 * xx - 0.1 * yy) + np.random.default_rng(seed).normal(0, 3, (h, w))
    alpha = np.clip(shot.mask, 0, 1)[:, :, None] if shot.mask is not None else 0.0
    return np.clip(alpha * shot.rgb + (1 - alpha) * wall[:, :, None], 0, 255).astype(np.uint8)


def summary(label: str, errs: list[float], applied: int, total: int) -> str:
    share = f"{applied} of {total} applied ({applied / max(total, 1):.0%})"
    if not errs:
        return f"{label:<34}{share}"
    a = np.abs(errs)
    return (
        f"{label:<34}{share}; |error| median {np.median(a):.2f}°, p90 {np.percentile(a, 90):.2f}°, "
        f"max {a.max():.2f}°, {int((a > 1.5).sum())} over 1.5°"
    )


def evaluate(all_shots: list[Shot], show: bool, params: LevelParams = DEFAULT_PARAMS) -> dict[str, object]:
    rows: list[tuple[Shot, LevelEstimate]] = []
    for shot in all_shots:
        rows.append((shot, estimate_camera_level(shot.rgb, shot.mask, shot.feet, params=params)))
    if show:
        print(f"{'scene':<13}{'cam':<6}{'frame':>5} {'kind':<10}{'truth':>7}{'est':>8}{'conf':>6}{'best':>8}")
        for shot, est in rows:
            best = est.cues.get("best_roll_deg")
            e = "     –" if est.roll_deg is None else f"{est.roll_deg:+6.2f}"
            b = "     –" if best is None else f"{best:+6.2f}"
            print(
                f"{shot.scene:<13}{shot.camera:<6}{shot.frame:>5} {shot.kind:<10}{shot.truth_deg:+7.2f}"
                f"{e:>8}{est.confidence:6.2f}{b:>8}"
            )
        print()

    def group(pred: object) -> tuple[list[float], int, int]:
        sel = [(s, e) for s, e in rows if pred(s)]  # type: ignore[operator]
        errs = [e.roll_deg - s.truth_deg for s, e in sel if e.roll_deg is not None]
        return errs, len(errs), len(sel)

    in_range = lambda s: abs(s.truth_deg) <= MAX_ROLL_DEG  # noqa: E731
    filmed = group(lambda s: s.kind == "as filmed" and in_range(s))
    turned = group(lambda s: s.kind == "turned")
    out_range = group(lambda s: not in_range(s))
    every = group(in_range)
    print(summary("as filmed (cam01–03, ±15° range)", *filmed))
    print(summary("levelled, turned 0/±3/±6°", *turned))
    for cam in CAMERAS:
        print(summary(f"  {cam}, turned", *group(lambda s, c=cam: s.kind == "turned" and s.camera == c)))
    print(summary("all in range", *every))
    wrong = [abs(e) for e in out_range[0]]
    print(
        f"cam04 as filmed (−26°, out of range): {out_range[1]} of {out_range[2]} applied"
        + (f", |error| max {max(wrong):.2f}°" if wrong else "")
    )
    plain = [
        estimate_camera_level(on_plain_wall(s, i), s.mask, s.feet, params=params)
        for i, (s, _) in enumerate(rows)
    ]
    given = [abs(e.roll_deg) for e in plain if e.roll_deg is not None]
    print(
        f"cut out onto a plain wall: {len(plain) - len(given)} of {len(plain)} none"
        + (f"; applied |roll| max {max(given):.2f}°, {sum(g > 2 for g in given)} over 2°" if given else "")
    )
    # Never from the body: every supporting segment lies off the grown person mask.
    touching = 0
    for shot, est in rows:
        if shot.mask is None or not len(est.segments):
            continue
        m = shot.mask > 0.5
        seg = est.segments
        t = np.linspace(0, 1, 9)
        xs = np.clip(np.round(seg[:, None, 0] + t * (seg[:, None, 2] - seg[:, None, 0])), 0, m.shape[1] - 1)
        ys = np.clip(np.round(seg[:, None, 1] + t * (seg[:, None, 3] - seg[:, None, 1])), 0, m.shape[0] - 1)
        touching += int(m[ys.astype(int), xs.astype(int)].any(axis=1).sum())
    print(f"supporting segments on the subject's mask: {touching}")
    return {"filmed": filmed, "turned": turned, "every": every, "plain": given}


SAMPLE_SIZE = (720, 960)  # width, height of a committed sample frame
SAMPLES = (("SinglePerson", "cam02", 50), ("SinglePerson", "cam03", 50))  # in sample_images/rooms/


def sample_name(scene: str, camera: str, frame: int) -> str:
    return f"room_{scene.lower()}_{camera}_f{frame:03d}.jpg"


def write_samples(demo: Path, folder: Path) -> None:
    """The room frames committed for the unit tests: as filmed, the centred 3:4 crop scaled to 720 × 960,
    JPEG quality 85 (small, and what a phone might send); their true rolls are printed."""
    cams = cameras(demo)
    for scene, camera, index in SAMPLES:
        frame = turn_and_crop(read_frame(demo / f"Demo_{scene}" / "videos" / f"{camera}.mp4", index), 0.0)
        small = cv2.resize(frame, SAMPLE_SIZE, interpolation=cv2.INTER_AREA)
        path = folder / sample_name(scene, camera, index)
        Image.fromarray(small).save(path, "JPEG", quality=85)
        print(f"{path}: true roll {cams[camera].roll_deg():+.2f}°")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--wheel", type=Path, help=f"the {WHEEL} file (default: cached or downloaded)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where material is unpacked")
    parser.add_argument("--reuse", action="store_true", help="reuse the cached subject search results")
    parser.add_argument("--show", action="store_true", help="print every photo's estimate")
    parser.add_argument("--write-samples", type=Path, metavar="DIR", help="write the unit tests' frames")
    parser.add_argument("--compare", action="store_true", help="first the estimator as before issue 25")
    args = parser.parse_args()
    demo = extract(wheel_path(args.wheel, args.cache), args.cache)
    if args.write_samples:
        write_samples(demo, args.write_samples)
        return
    for name, cam in cameras(demo).items():
        print(f"{name}: roll {cam.roll_deg():+.2f}°, looking down {cam.pitch_down_deg():.1f}°")
    print()
    photos = shots(demo, args.cache, args.reuse)
    if args.compare:
        from dataclasses import replace

        print("before issue 25 (converging verticals counted as a rival):")
        evaluate(photos, args.show, replace(DEFAULT_PARAMS, convergence_is_no_rival=False))
        print("\nafter:")
    evaluate(photos, args.show)


if __name__ == "__main__":
    main()
