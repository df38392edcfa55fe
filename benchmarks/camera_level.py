"""The camera level read from the photo: does the estimate follow a known change of roll?

Each photo is turned by ±3° and ±6° about its centre (at full resolution) and cropped to the upright
rectangle inside the turned frame (no padding edge, which would be a free vertical line). The person mask
and feet come from posture's own pipeline on each turned photo, as `analyze()` would have them. The
error is (estimate on the turned photo − estimate on the original) − the turn; it counts only where
both estimates are confident enough to apply. Also printed: the share of photos with an applied
estimate, the same photos on a plain background (the person cut out by its mask and put on a flat,
unevenly lit wall: `none` or a small roll expected), and the time per call against one `analyze()`.

Photos: the committed samples, plus the development photos in ../shared/data/dev when that folder
exists (never committed). Run: `python benchmarks/camera_level.py [--samples-only]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

os.environ.setdefault("GLOG_minloglevel", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import posture  # noqa: E402
from posture.intake import load_photo  # noqa: E402
from posture.landmarks import INDEX  # noqa: E402
from posture.level import LevelEstimate, estimate_camera_level, mask_in_frame, rotate_inscribed  # noqa: E402
from posture.model import PoseModel  # noqa: E402
from posture.pose import find_subject  # noqa: E402
from tests.synthetic_room import Room, render_room  # noqa: E402

TURNS_DEG = (-6.0, -3.0, 3.0, 6.0)
FEET = [INDEX[n] for n in ("left_heel", "right_heel", "left_foot_index", "right_foot_index")]


def photos(samples_only: bool) -> dict[str, list[Path]]:
    sets = {"samples": sorted((ROOT / "sample_images").glob("*.jpg"))}
    dev = ROOT.parent / "shared" / "data" / "dev"
    if dev.is_dir() and not samples_only:
        sets["dev"] = sorted(dev.glob("sports2d/demo_f*.jpg")) + sorted(dev.glob("*.jpg"))
    return sets


@dataclass
class Inputs:
    rgb: np.ndarray
    mask: np.ndarray | None
    feet: np.ndarray | None


def level_inputs(model: PoseModel, rgb_full: np.ndarray) -> Inputs:
    """The working image, the subject's mask in it and its heels and toes, as the pipeline finds them."""
    photo = load_photo(Image.fromarray(rgb_full))
    subject = find_subject(model, photo)
    if subject is None or subject.mask.size <= 1:
        return Inputs(photo.rgb, None, None)
    h, w = photo.rgb.shape[:2]
    mask = mask_in_frame(subject.mask, subject.mask_origin, subject.mask_scale, w, h, photo.scale)
    return Inputs(photo.rgb, mask, subject.landmarks[FEET, :2] * photo.scale)


def on_plain_wall(inputs: Inputs, seed: int) -> np.ndarray:
    """The person on a flat wall: a grey with a smooth light gradient and sensor noise."""
    h, w = inputs.rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    wall = 180.0 * (0.85 + 0.2 * xx - 0.1 * yy) + np.random.default_rng(seed).normal(0, 3, (h, w))
    alpha = np.clip(inputs.mask, 0, 1)[:, :, None] if inputs.mask is not None else 0.0
    out = alpha * inputs.rgb + (1 - alpha) * wall[:, :, None]
    return np.clip(out, 0, 255).astype(np.uint8)


def timed(inputs: Inputs, rgb: np.ndarray | None = None) -> tuple[LevelEstimate, float]:
    t = time.perf_counter()
    est = estimate_camera_level(inputs.rgb if rgb is None else rgb, inputs.mask, inputs.feet)
    return est, time.perf_counter() - t


def drawn_rooms(n: int, seed: int = 7) -> list[tuple[Room, LevelEstimate]]:
    """Rooms drawn with random roll (±6°), pitch (±20°), yaw (±15°), person lean (±10°) and, in half of
    them, a board leaning by up to ±10° against the wall; a third are landscape."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        roll, pitch, yaw = rng.uniform(-6, 6), rng.uniform(-20, 20), rng.uniform(-15, 15)
        lean = rng.uniform(-10, 10)
        board = rng.uniform(-10, 10) if rng.random() < 0.5 else None
        size = (720, 1280) if rng.random() < 0.7 else (1280, 720)
        room = Room(roll, pitch, yaw, *size, lean_deg=lean, board_deg=board, seed=i)
        out.append((room, estimate_camera_level(*render_room(room))))
    return out


def print_drawn(n: int) -> None:
    rooms = drawn_rooms(n)
    errs = [abs(e.roll_deg - r.roll_deg) for r, e in rooms if e.roll_deg is not None]
    print(
        f"drawn rooms (known roll): {len(errs)} of {n} applied ({len(errs) / n:.0%}); absolute error "
        f"median {np.median(errs):.2f}°, p90 {np.percentile(errs, 90):.2f}°, max {max(errs):.2f}°, "
        f"{sum(e > 1 for e in errs)} over 1°"
    )
    plain = [
        estimate_camera_level(*render_room(Room(roll_deg=r, plain=True, lean_deg=-2 * r, seed=i)))
        for i, r in enumerate(np.linspace(-6, 6, 9))
    ]
    print(f"drawn plain walls, person leaning alone: {sum(e.roll_deg is None for e in plain)} of 9 none")


def fmt(v: float | None) -> str:
    return "   –  " if v is None else f"{v:+6.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples-only", action="store_true", help="only the committed sample photos")
    parser.add_argument("--drawn", type=int, default=150, help="number of drawn rooms")
    parser.add_argument("--timed-analyses", type=int, default=5, help="analyze() calls timed for the ratio")
    args = parser.parse_args()
    print_drawn(args.drawn)
    print()
    model = posture.default_model()

    errors: dict[str, list[float]] = {}
    raw_errors: list[float] = []
    applied: dict[str, list[bool]] = {}
    plain_rolls: list[float | None] = []
    call_s: list[float] = []
    analyze_s: list[float] = []
    turns = "  ".join(f"{t:+.0f}°" for t in TURNS_DEG)
    print(f"{'photo':<34}{'conf':>6}{'roll':>8}   change − turn at {turns}")
    for set_name, paths in photos(args.samples_only).items():
        errors[set_name], applied[set_name] = [], []
        for path in paths:
            try:
                full = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
            except OSError:
                continue  # the deliberately broken samples
            if len(analyze_s) < args.timed_analyses:
                t = time.perf_counter()
                posture.analyze(path, model=model)
                analyze_s.append(time.perf_counter() - t)
            base_in = level_inputs(model, full)
            base, dt = timed(base_in)
            call_s.append(dt)
            applied[set_name].append(base.roll_deg is not None)
            plain, _ = timed(base_in, on_plain_wall(base_in, len(plain_rolls)))
            plain_rolls.append(plain.roll_deg)
            cells = []
            for turn in TURNS_DEG:
                turned_in = level_inputs(model, rotate_inscribed(full, turn))
                est, dt = timed(turned_in)
                call_s.append(dt)
                applied[set_name].append(est.roll_deg is not None)
                b_raw, e_raw = base.cues["best_roll_deg"], est.cues["best_roll_deg"]
                if b_raw is not None and e_raw is not None:
                    raw_errors.append(abs(e_raw - b_raw - turn))
                if base.roll_deg is None or est.roll_deg is None:
                    cells.append(None)
                    continue
                err = est.roll_deg - base.roll_deg - turn
                errors[set_name].append(abs(err))
                cells.append(err)
            name = f"{set_name}/{path.name}"[:33]
            row = " ".join(fmt(c) for c in cells)
            print(f"{name:<34}{base.confidence:6.2f}{fmt(base.roll_deg):>8}   {row}")

    print()
    print("absolute error of the recovered roll change, degrees (both estimates applied)")
    print(f"{'set':<10}{'pairs':>6}{'median':>9}{'p90':>8}{'max':>8}{'applied':>10}")
    every: list[float] = []
    for set_name, errs in errors.items():
        every += errs
        share = 100 * np.mean(applied[set_name]) if applied[set_name] else 0.0
        if errs:
            med, p90, top = np.median(errs), np.percentile(errs, 90), max(errs)
            print(f"{set_name:<10}{len(errs):>6}{med:9.2f}{p90:8.2f}{top:8.2f}{share:9.0f} %")
        else:
            print(f"{set_name:<10}{0:>6}{'–':>9}{'–':>8}{'–':>8}{share:9.0f} %")
    if every:
        med, p90 = np.median(every), np.percentile(every, 90)
        print(f"{'all':<10}{len(every):>6}{med:9.2f}{p90:8.2f}{max(every):8.2f}")
    if raw_errors:
        print(
            f"best guesses, applied or not: {len(raw_errors)} pairs, median {np.median(raw_errors):.2f}°, "
            f"p90 {np.percentile(raw_errors, 90):.2f}°"
        )
    given = [abs(r) for r in plain_rolls if r is not None]
    print(
        f"plain wall: {len(plain_rolls) - len(given)} of {len(plain_rolls)} none"
        + (f", applied |roll| max {max(given):.2f}°" if given else "")
    )
    per_call = 1000 * statistics.median(call_s)
    per_analyze = 1000 * statistics.median(analyze_s)
    print(
        f"time per estimate_camera_level() call: median {per_call:.1f} ms, p90 "
        f"{1000 * np.percentile(call_s, 90):.1f} ms; one analyze(): median {per_analyze:.0f} ms; "
        f"ratio {per_call / per_analyze:.1%}"
    )


if __name__ == "__main__":
    main()
