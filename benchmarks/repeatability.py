"""Repeatability of the measures under mirroring, half resolution and JPEG quality-70 re-encoding.

Prints, per set of photos and per variant, the median and 90th percentile of the absolute differences over
all angle measures and photos, and each measure's 90th percentile. Sets: the repeatability frames that
tests/test_repeatability.py enforces, the six side samples, and the development photos in
../shared/data/dev when that folder exists (never committed).

    python benchmarks/repeatability.py [--samples-only] [--level off|auto]

`--level off` (the default, as in the test) measures with the camera's roll known; `auto` reads the level
from each photo and copy, as `analyze()` does by default.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

import posture
from posture import AnalysisOptions
from posture.evaluation import evaluate

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"


def photo_sets(samples_only: bool = False) -> dict[str, list[Path]]:
    sets = {
        "repeatability": sorted((SAMPLES / "repeatability").glob("double_support_f*.jpg")),
        "side samples": [*sorted(SAMPLES.glob("walk_side_f*.jpg")), SAMPLES / "walk_side_crop_f0128.jpg"],
    }
    dev = ROOT.parent / "shared" / "data" / "dev"
    if dev.is_dir() and not samples_only:
        sets["development"] = sorted(dev.glob("sports2d/demo_f*.jpg")) + sorted(dev.glob("*side*.jpg"))
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples-only", action="store_true", help="only the committed sample photos")
    parser.add_argument("--level", choices=("off", "auto"), default="off", help="camera level (default off)")
    args = parser.parse_args()
    options = AnalysisOptions(level=args.level)
    model = posture.default_model()
    # The OpenCV build moves these figures (docs/accuracy.md), so every report names it.
    print(f"level {args.level}; OpenCV {cv2.__version__}; absolute differences of angle measures, degrees")
    for set_name, paths in photo_sets(args.samples_only).items():
        reports = evaluate(((p.name, Image.open(p)) for p in paths), model, options)
        print(f"\n{set_name}: {len(paths)} photos")
        print(f"{'variant':<16}{'n':>5}{'median':>9}{'p90':>8}{'max':>8}")
        for name, r in reports.items():
            worst = max(r.differences, default=float("nan"))
            print(f"{name:<16}{len(r.differences):>5}{r.median_deg:>9.2f}{r.p90_deg:>8.2f}{worst:>8.2f}")
            per = ", ".join(f"{k} {np.percentile(v, 90):.2f}" for k, v in r.per_measure.items())
            print(f"    p90 per measure: {per}")
            if r.rejected:
                print(f"    rejected: {'; '.join(r.rejected)}")


if __name__ == "__main__":
    main()
