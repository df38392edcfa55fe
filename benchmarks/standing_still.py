"""Standing still or mid-stride: the stance check (`posture.quality.stance`, rules `[stance]`) on real frames.

Prints, per photo, the ankles' distance along the walking direction and the lift of one foot over the
other (both as shares of the leg length), and whether the photo gets `not_standing_still`. Runs on the
committed samples (`sample_images/`: mid-stance walking frames and the double-support repeatability set)
and, when present, the development frames in ../shared/data/dev (not committed; SOURCES.md there).
Figures in docs/accuracy.md ("Standing still").

    python benchmarks/standing_still.py
"""

from __future__ import annotations

from pathlib import Path

import posture
from posture.analysis import default_model
from posture.geometry import to_canonical
from posture.landmarks import NAMES
from posture.quality import stance

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "dev"
for parent in ROOT.parents:  # a worktree sits deeper than the main checkout
    if (parent / "shared" / "data" / "dev").is_dir():
        DEV = parent / "shared" / "data" / "dev"
        break


def photos() -> list[Path]:
    found = [*sorted((ROOT / "sample_images").glob("walk_side_*.jpg"))]
    found += sorted((ROOT / "sample_images" / "repeatability").glob("*.jpg"))
    if DEV.is_dir():
        found += sorted((DEV / "sports2d").glob("*.jpg")) + sorted(DEV.glob("*side*.jpg"))
    return found


def main() -> None:
    import numpy as np

    model = default_model()
    print(f"{'photo':34s} {'stride':>7s} {'lift':>6s}  warned  pelvis/lumbar/alignment scores")
    for path in photos():
        a = posture.analyze(path, model=model)
        if not a.ok:
            print(f"{path.name:34s} refused: {a.error.code if a.error else '?'}")
            continue
        lm = np.array([[a.landmarks[n].x, a.landmarks[n].y] for n in NAMES])
        canon = to_canonical(
            lm,
            width=a.image.width,
            height=a.image.height,
            facing_left=a.facing == "left",
            camera_roll_deg=a.camera_roll_deg,
        )
        s = stance(canon)
        warned = "not_standing_still" in a.warnings
        kept = [k for k in ("pelvic_tilt", "lumbar_curve", "alignment") if k in a.scores]
        print(
            f"{path.name:34s} {s.stride_leg_share:7.2f} {s.lift_leg_share:6.3f}  "
            f"{'yes' if warned else 'no ':3s}     "
            f"{', '.join(kept) or '-'}"
        )


if __name__ == "__main__":
    main()
