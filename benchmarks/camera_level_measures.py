"""Does a turned phone still read as a posture change? The five vertical-referenced measures after
automatic levelling, on photos turned by ±3° and ±6° (cropped to the upright rectangle inside, so no
padding edge is left as a free vertical line), against the same measures of the photo as taken.

Two sets of photos:
- **as taken**: the committed samples and the development photos in ../shared/data/dev (never committed;
  skipped when absent). They are outdoor park scenes and a curtain: the level is rarely confident there,
  so most turned copies keep their tilt and carry `camera_level_unknown` instead.
- **in a room**: the same people cut out by their own mask and put into a drawn room (door frame, wall
  corner, skirting board), then turned: what a photo with a room behind the person gets.

For each set: the error of each measure (turned − as taken), with `level=auto` and, for scale, with
`level=off` (the frame trusted: the error is about the turn itself); and how often a level was applied.

Run: `python benchmarks/camera_level_measures.py` (about 3 analyses per second on one core).
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

os.environ.setdefault("GLOG_minloglevel", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import posture  # noqa: E402
from posture.intake import load_photo  # noqa: E402
from posture.level import mask_in_frame, rotate_inscribed  # noqa: E402
from posture.pose import find_subject  # noqa: E402
from tests.synthetic_room import Room, render_room  # noqa: E402

TURNS_DEG = (-6.0, -3.0, 3.0, 6.0)
MEASURES = ("pelvic_tilt_deg", "shank_angle_deg", "trunk_lean_deg", "head_forward_deg", "body_line_deg")


def _photos() -> list[Path]:
    paths = sorted((ROOT / "sample_images").glob("walk_side_f*.jpg"))
    dev = ROOT.parent / "shared" / "data" / "dev"
    if dev.is_dir():
        paths += sorted(dev.glob("sports2d/demo_f*.jpg")) + sorted(dev.glob("*side*.jpg"))
    return paths


def _in_room(model: posture.PoseModel, rgb: np.ndarray) -> np.ndarray | None:
    photo = load_photo(Image.fromarray(rgb))
    subject = find_subject(model, photo)
    if subject is None or subject.mask.size <= 1:
        return None
    h, w = photo.rgb.shape[:2]
    mask = np.clip(
        mask_in_frame(subject.mask, subject.mask_origin, subject.mask_scale, w, h, photo.scale), 0, 1
    )
    room, _, _ = render_room(Room(width=w, height=h, person=False))
    alpha = mask[:, :, None]
    return np.clip(alpha * photo.rgb + (1 - alpha) * room, 0, 255).astype(np.uint8)


def _errors(model: posture.PoseModel, rgb: np.ndarray, level: str) -> tuple[list[float], int, int]:
    options = posture.AnalysisOptions(level=level)  # type: ignore[arg-type]
    base = posture.analyze(Image.fromarray(rgb), options, model=model)
    if not base.ok:
        return [], 0, 0
    errors, applied, turned_ok = [], 0, 0
    for turn in TURNS_DEG:
        turned = posture.analyze(Image.fromarray(rotate_inscribed(rgb, turn)), options, model=model)
        if not turned.ok:
            continue
        turned_ok += 1
        applied += turned.camera_level.source in ("background", "floor")
        for name in MEASURES:
            a, b = base.measures.get(name), turned.measures.get(name)
            if a is not None and b is not None:
                errors.append(abs(b - a))
    return errors, applied, turned_ok


def _summary(label: str, errors: list[float], applied: int, total: int) -> str:
    if not errors:
        return f"{label:<22} no accepted photos"
    p90 = float(np.percentile(errors, 90))
    share = 100.0 * applied / total if total else 0.0
    return (
        f"{label:<22} n={len(errors):>4}  median {statistics.median(errors):5.2f}°  p90 {p90:5.2f}°  "
        f"level applied on {applied}/{total} turned photos ({share:.0f} %)"
    )


def main() -> None:
    model = posture.default_model()
    sets: dict[str, list[np.ndarray]] = {"as taken": [], "in a room": []}
    for path in _photos():
        rgb = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
        sets["as taken"].append(rgb)
        composite = _in_room(model, rgb)
        if composite is not None:
            sets["in a room"].append(composite)
    print(f"photos: {len(sets['as taken'])} as taken, {len(sets['in a room'])} in a room; turns {TURNS_DEG}")
    for name, images in sets.items():
        for level in ("auto", "off"):
            errors: list[float] = []
            applied = total = 0
            for rgb in images:
                e, a, t = _errors(model, rgb, level)
                errors += e
                applied += a
                total += t
            print(_summary(f"{name}, level={level}", errors, applied, total), flush=True)


if __name__ == "__main__":
    main()
