"""Repeatability of `analyze_clip()` on copies of one real clip: mirrored, half size, re-encoded.

The clip is the committed walking extract (sample_images/clips/walk_side.mp4, real footage). A walk is
not a lunge and `analyze_clip()` refuses it (`not_the_test`); no licensed squat or lunge clip exists
(docs/accuracy.md), so this evaluation measures the walk's steps as lunge reps with the shape checks
switched off (`measured_as_lunge()`, here only): what it judges is how steady the landmarks, the legs and
the peak are between copies of real footage, not a lunge. Its copies are made here:

- `mirrored`: every frame flipped left–right (she then faces right), re-encoded as MP4 (mp4v);
- `half`: every frame at half size (INTER_AREA), re-encoded as MP4;
- `reencoded`: the same frames through another codec (VP8 in WebM).

For each copy it prints the reps found (the count must match), and, as the issue asks, the **median
over reps** of the peak shin angle (per side, and the headline) and of the rep depth (the hip's dip,
top to bottom, in % of the standing hip height, from `series.hip_height_pct`), with their differences
from the original. Target: within 1° and 2 %. Also the 90th percentile of the per-frame shin angle
difference. Run: `python benchmarks/clip_repeatability.py [--sample-fps 15] [--mirror-pass]`.

Real squat or knee-to-wall lunge footage (none with a licence was found; docs/accuracy.md): `--clip PATH
--test squat|lunge` makes the same copies of that clip and measures them as the service does, with the
default settings and every check on (no `measured_as_lunge`); the headline is then the test's own peak
shin angle, and issue 22's bound is "within 1.0° on every copy".
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import cv2
import numpy as np

from posture import ClipOptions, VideoPoseModel, analyze_clip
from posture.movement import MovementAnalysis

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "sample_images" / "clips" / "walk_side.mp4"


@contextmanager
def measured_as_lunge() -> Iterator[None]:
    """The analysis with its `not_the_test` checks switched off (evaluation of real walking footage)."""
    from posture.movement import analysis

    saved = analysis._check_on_the_spot, analysis._knee_to_wall_reps
    analysis._check_on_the_spot = lambda *a, **k: None
    analysis._knee_to_wall_reps = lambda s, raw, spans, rules: (spans, 0)
    try:
        yield
    finally:
        analysis._check_on_the_spot, analysis._knee_to_wall_reps = saved


def copy_clip(source: Path, target: Path, kind: str) -> Path:
    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS)
    writer = None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if kind == "mirrored":
            frame = cv2.flip(frame, 1)
        elif kind == "half":
            frame = cv2.resize(frame, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        if writer is None:
            fourcc = "VP80" if target.suffix == ".webm" else "mp4v"
            size = (frame.shape[1], frame.shape[0])
            writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        writer.write(frame)
    cap.release()
    if writer is not None:
        writer.release()
    return target


def rep_depths(result: MovementAnalysis) -> list[float]:
    """Each rep's hip dip (top minus bottom of `hip_height_pct`, the tops as the higher of its two)."""
    times = result.series["time_s"]
    hip = result.series["hip_height_pct"]
    out = []
    for rep in result.reps:
        i0, ib, i1 = (times.index(t) for t in (rep.start_s, rep.bottom_s, rep.end_s))
        top = np.nanmean([v for v in (hip[i0], hip[i1]) if v is not None])
        if hip[ib] is not None:
            out.append(float(top - hip[ib]))
    return out


def rep_shin_peaks(result: MovementAnalysis) -> list[float]:
    """Each rep's front-shin peak over all its frames (heel up or down), robust as the analysis takes it
    (the mean of the largest and its two neighbours): the landmarks', legs' and peak's steadiness alone,
    without the heel-down selection, which on a walk picks different frames in each copy."""
    times = result.series["time_s"]
    shin = np.array([np.nan if v is None else v for v in result.series["shin_deg"]], float)
    out = []
    for rep in result.reps:
        i0, i1 = times.index(rep.start_s), times.index(rep.end_s)
        seg = shin[i0 : i1 + 1]
        if np.isfinite(seg).any():
            k = int(np.nanargmax(seg))
            out.append(float(np.nanmean(seg[max(0, k - 1) : k + 2])))
    return out


def summary(result: MovementAnalysis) -> dict[str, float | None]:
    m = result.measures
    depths = rep_depths(result)
    peak = f"{result.test}_shin_peak_deg"  # the squat's near shin, the lunge's front shin
    rep_peaks = [r.measures[peak] for r in result.reps if r.measures.get(peak) is not None]
    return {
        "reps": float(len(result.reps)),
        "shin_peak_deg": m.get(peak),
        "shin_left_deg": m.get("lunge_shin_peak_left_deg"),
        "shin_right_deg": m.get("lunge_shin_peak_right_deg"),
        "rep_shin_median_deg": statistics.median(rep_peaks) if rep_peaks else None,
        "depth_median_pct": statistics.median(depths) if depths else None,
        "shin_all_frames_deg": statistics.median(rep_shin_peaks(result)) if result.reps else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sample-fps", type=float, default=15.0)
    parser.add_argument("--mirror-pass", action="store_true", help="ClipOptions(mirror_pass=True)")
    parser.add_argument("--clip", type=Path, help="a real squat or lunge clip (default: the walk)")
    parser.add_argument("--test", choices=("squat", "lunge"), default="lunge")
    args = parser.parse_args()
    source = args.clip or SOURCE
    options = ClipOptions(test=args.test, sample_fps=args.sample_fps, mirror_pass=args.mirror_pass)
    # The walk is measured as lunge reps with the shape checks off; real test footage with every check on.
    checks_off = measured_as_lunge() if args.clip is None else nullcontext()
    with tempfile.TemporaryDirectory() as tmp, VideoPoseModel() as model, checks_off:
        copies = {
            "original": source,
            "mirrored": copy_clip(source, Path(tmp) / "mirrored.mp4", "mirrored"),
            "half": copy_clip(source, Path(tmp) / "half.mp4", "half"),
            "reencoded": copy_clip(source, Path(tmp) / "reencoded.webm", "reencoded"),
        }
        results = {name: analyze_clip(path, options, model=model) for name, path in copies.items()}
    base = results["original"]
    if not base.ok:
        raise SystemExit(f"the original is refused: {base.error.code}: {base.error.message}")  # type: ignore[union-attr]
    ref = summary(base)
    print(
        f"sample_fps {args.sample_fps}, mirror_pass {args.mirror_pass}; "
        f"original: facing {base.facing}, roll {base.camera_roll_deg:+.2f}°"
    )
    print(f"{'copy':<10} " + " ".join(f"{k:>20}" for k in ref))
    for name, result in results.items():
        if not result.ok:
            print(f"{name:<10} rejected: {result.error}")
            continue
        s = summary(result)
        cells = []
        for key, value in s.items():
            r = ref[key]
            diff = "" if name == "original" or value is None or r is None else f" ({value - r:+.2f})"
            cells.append(f"{'-' if value is None else f'{value:.2f}'}{diff}".rjust(20))
        shin_a = np.array([np.nan if v is None else v for v in base.series["shin_deg"]], float)
        shin_b = np.array([np.nan if v is None else v for v in result.series["shin_deg"]], float)
        n = min(len(shin_a), len(shin_b))
        d = np.abs(shin_a[:n] - shin_b[:n])
        p90 = float(np.nanpercentile(d, 90)) if np.isfinite(d).any() else float("nan")
        sides = "".join((r.side or "?")[0] for r in result.reps)
        print(
            f"{name:<10} " + " ".join(cells) + f"   sides {sides}, roll {result.camera_roll_deg:+.2f}°, "
            f"per-frame shin p90 {p90:.2f}°"
        )


if __name__ == "__main__":
    main()
