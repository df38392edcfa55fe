"""Repeatability of the measures under mirroring, half resolution and JPEG quality-70 re-encoding.

Prints, per variant, the median and 90th percentile of the absolute differences over all angle
measures and photos, and each measure's 90th percentile. Uses the committed samples, plus the
development photos in ../shared/data/dev when that folder exists (never committed).

    python benchmarks/repeatability.py [--samples-only]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

import posture
from posture.evaluation import evaluate

ROOT = Path(__file__).resolve().parent.parent


def photos(samples_only: bool = False) -> list[Path]:
    paths = sorted((ROOT / "sample_images").glob("walk_side_*.jpg"))
    dev = ROOT.parent / "shared" / "data" / "dev"
    if dev.is_dir() and not samples_only:
        paths += sorted(dev.glob("sports2d/demo_f*.jpg")) + sorted(dev.glob("*side*.jpg"))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples-only", action="store_true", help="only the committed sample photos")
    paths = photos(parser.parse_args().samples_only)
    reports = evaluate(((p.name, Image.open(p)) for p in paths), posture.default_model())
    print(f"{len(paths)} photos; absolute differences of angle measures, degrees")
    print(f"{'variant':<16}{'n':>5}{'median':>9}{'p90':>8}{'max':>8}")
    for name, r in reports.items():
        print(
            f"{name:<16}{len(r.differences):>5}{r.median_deg:>9.2f}{r.p90_deg:>8.2f}{max(r.differences):>8.2f}"
        )
        per = ", ".join(f"{k} {np.percentile(v, 90):.2f}" for k, v in r.per_measure.items())
        print(f"    p90 per measure: {per}")
        if r.rejected:
            print(f"    rejected: {'; '.join(r.rejected)}")


if __name__ == "__main__":
    main()
