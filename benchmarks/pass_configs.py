"""Model passes against repeatability: every candidate `PassConfig` of `posture.pose`, in one run.

For each candidate: the model passes per photo, the median time of one `analyze()` per photo (and its
ratio to passes × one raw 640×640 pass, timed in the same run), and the repeatability of the copies
(mirrored, half size, JPEG-70; median / 90th percentile of the angle differences, as
`benchmarks/repeatability.py` computes them) on each set of photos, with the camera level off. It also
counts the copies whose facing or near side is not the expected one (the mirrored copy must give the
opposite facing, the others the same).

    python benchmarks/pass_configs.py [--only NAME,NAME] [--samples-only] [--no-timing]

The repeatability figures are deterministic. To sweep many candidates in reasonable time, a photo's
copy is analysed by every candidate in turn with a cache of the model's answers keyed by the exact
pixels it was given (candidates share their search and many of their crops); a cached answer is the
one the model gives again, so the figures are those of separate runs. The timing pass runs without
the cache, each photo by every candidate in turn so that the machine's background load hits all alike.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from repeatability import photo_sets  # the sibling benchmark's sets of photos

import posture
from posture import AnalysisOptions, pose
from posture.evaluation import VARIANTS, angle_differences
from posture.model import PoseDetection, PoseModel
from posture.pose import PassConfig, View, both, pair

LEVEL_OFF = AnalysisOptions(level="off")

_SHIFTED = both(1.0, 0.03, -0.03) + both(1.0, -0.03, -0.03)
V6 = (*both(1.0), *both(1.12), *both(0.92), *_SHIFTED, *both(1.06, 0.0, 0.04))  # the 6 views of 12-01
V3_ZOOM = (*both(1.0), *both(1.12), *both(0.92))
V3_SHIFT = (*both(1.0), *_SHIFTED)
V2 = (*both(1.0), *both(1.06, 0.0, 0.04))
P2 = (*pair(1.0, 0.03, -0.03), *pair(1.06, 0.03, 0.04))
P3 = (*pair(1.0, 0.03, -0.03), *pair(1.12, -0.03, 0.0), *pair(0.92, 0.03, 0.04))
PLACE2 = both(1.0)
PLACE1 = (View(),)
CHEAP = {"tiles": "when_needed"}

CANDIDATES: dict[str, PassConfig] = {
    "15: place 2 + 6 views x2 (12-01)": pose.PASSES_15,
    "9: place 2 + 3 zoom views x2": PassConfig(V3_ZOOM, PLACE2, **CHEAP),
    "9: place 2 + 3 shifted views x2": PassConfig(V3_SHIFT, PLACE2, **CHEAP),
    "7: place 2 + 2 views x2": PassConfig(V2, PLACE2, **CHEAP),
    "7: place 2 + 2 mirror pairs": PassConfig(P2, PLACE2, **CHEAP),
    "7: place 2 reused + 2 views x2": PassConfig(V2, PLACE2, reuse_place=True, **CHEAP),
    "7: place 2 reused + 2 mirror pairs": PassConfig(P2, PLACE2, reuse_place=True, **CHEAP),
    "7: no place + 3 zoom views x2": PassConfig(V3_ZOOM, **CHEAP),
    "7: no place + 3 mirror pairs": PassConfig(P3, **CHEAP),
    "8: place 1 + 3 zoom views x2": PassConfig(V3_ZOOM, PLACE1, **CHEAP),
    "8: place 1 + 3 mirror pairs": PassConfig(P3, PLACE1, **CHEAP),
}
# The cheaper search, the fusion by visibility and the mask of fewer passes, each on its own, on two of
# the 7–8-pass candidates; and the same candidates searching the tiles of every wide photo.
for _base in ("7: place 2 reused + 2 mirror pairs", "8: place 1 + 3 mirror pairs"):
    _c = CANDIDATES[_base]
    CANDIDATES[f"{_base}, tiles always"] = replace(_c, tiles="always")
    CANDIDATES[f"{_base}, search 320 px"] = replace(_c, search_side_px=320)
    CANDIDATES[f"{_base}, by visibility"] = replace(_c, weights="visibility")
    CANDIDATES[f"{_base}, mask of 2"] = replace(_c, mask_passes=2)
# Each crop low-passed before the model: the model resamples its input to 256 px without smoothing, so a
# copy's JPEG or resampling noise folds back into the frequencies it reads.
for _base in ("7: place 2 reused + 2 views x2", "7: place 2 + 2 views x2"):
    for _sigma in (1.0, 1.5, 2.5):
        CANDIDATES[f"{_base}, blur {_sigma}"] = replace(CANDIDATES[_base], blur_px=_sigma)
# The crops snapped to a grid of the photo, so that a copy gets the same crops as the original.
for _base in (
    "15: place 2 + 6 views x2 (12-01)",
    "7: place 2 reused + 2 views x2",
    "7: place 2 + 2 views x2",
    "7: no place + 3 zoom views x2",
):
    for _grid in (0.02, 0.05):
        CANDIDATES[f"{_base}, grid {_grid}"] = replace(CANDIDATES[_base], grid=_grid)

CANDIDATES["7: no place + 3 zoom views x2, grid 0.08"] = replace(
    CANDIDATES["7: no place + 3 zoom views x2"], grid=0.08
)
CANDIDATES["7: no place + 3 zoom views x2, grid 0.05, by visibility"] = replace(
    CANDIDATES["7: no place + 3 zoom views x2"], grid=0.05, weights="visibility"
)

for _side in (0.1, 0.15):
    CANDIDATES[f"7: no place + 3 zoom views x2, grid 0.05, side {_side}"] = replace(
        CANDIDATES["7: no place + 3 zoom views x2"], grid=0.05, grid_side=_side
    )


class CachedModel:
    """A `PoseModel` that remembers its answers per exact input pixels and counts the passes asked."""

    def __init__(self, model: PoseModel) -> None:
        self.model = model
        self.sha256 = model.sha256
        self.cache: dict[bytes, list[PoseDetection]] = {}
        self.calls = 0

    def detect(self, rgb: np.ndarray) -> list[PoseDetection]:
        self.calls += 1
        key = hashlib.blake2b(np.ascontiguousarray(rgb).tobytes(), digest_size=16).digest() + bytes(
            str(rgb.shape), "ascii"
        )
        if key not in self.cache:
            self.cache[key] = self.model.detect(rgb)
        return self.cache[key]


@contextmanager
def passes(config: PassConfig) -> Iterator[None]:
    saved = pose.PASSES
    pose.PASSES = config
    try:
        yield
    finally:
        pose.PASSES = saved


@dataclass
class Figures:
    differences: dict[str, list[float]] = field(default_factory=lambda: {v: [] for v in VARIANTS})
    per_measure: dict[str, dict[str, list[float]]] = field(default_factory=lambda: {v: {} for v in VARIANTS})
    rejected: list[str] = field(default_factory=list)
    facing_changed: list[str] = field(default_factory=list)
    passes: list[int] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def subject_crop(rgb: np.ndarray, analysis: posture.Analysis) -> np.ndarray:
    """What a refine pass gets: a square crop around the subject at the model's crop size (a raw pass
    on a frame where the detector finds nobody skips the landmark model and costs a fifth)."""
    xy = np.array([(p.x, p.y) for p in analysis.landmarks.values()]) if analysis.ok else None
    if xy is None:
        return cv2.resize(rgb, (pose.CROP_SIDE_PX, pose.CROP_SIDE_PX))
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    half = pose.CROP_MARGIN * max(x1 - x0, y1 - y0) / 2
    cx, cy, k = (x0 + x1) / 2, (y0 + y1) / 2, pose.CROP_SIDE_PX / (2 * half)
    warp = np.array([[k, 0, pose.CROP_SIDE_PX / 2 - k * cx], [0, k, pose.CROP_SIDE_PX / 2 - k * cy]])
    size = (pose.CROP_SIDE_PX, pose.CROP_SIDE_PX)
    return cv2.warpAffine(rgb, warp, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def raw_pass_ms(model: PoseModel, crop: np.ndarray, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        model.detect(crop)
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def measure(
    sets: dict[str, list[Path]], names: list[str], model: PoseModel, timing: bool
) -> dict[str, dict[str, Figures]]:
    figures = {s: {n: Figures() for n in names} for s in sets}
    cached = CachedModel(model)
    for set_name, paths in sets.items():
        for path in paths:
            image = Image.open(path).convert("RGB")
            copies = {"original": _png(image)} | {v: make(image) for v, make in VARIANTS.items()}
            results: dict[str, dict[str, posture.Analysis]] = {n: {} for n in names}
            for copy, data in copies.items():
                cached.cache.clear()  # only the candidates of one copy share answers
                for name in names:
                    cached.calls = 0
                    with passes(CANDIDATES[name]):
                        results[name][copy] = posture.analyze(data, LEVEL_OFF, model=cached)
                    if copy == "original":
                        figures[set_name][name].passes.append(cached.calls)
            for name in names:
                f, base = figures[set_name][name], results[name]["original"]
                if not base.ok:
                    continue
                for variant in VARIANTS:
                    other = results[name][variant]
                    if not other.ok:
                        f.rejected.append(
                            f"{path.name} {variant}: {other.error.code if other.error else '?'}"
                        )
                        continue
                    flip = variant == "mirrored"
                    expected = (
                        {"left": "right", "right": "left"} if flip else {"left": "left", "right": "right"}
                    )
                    if (other.facing, other.side) != (expected.get(base.facing), expected.get(base.side)):
                        f.facing_changed.append(f"{path.name} {variant}")
                    for k, d in angle_differences(base, other).items():
                        f.differences[variant].append(d)
                        f.per_measure[variant].setdefault(k, []).append(d)
            if timing:
                crop = subject_crop(np.asarray(image), results[names[0]]["original"])
                data = copies["original"]
                for name in names:
                    raw = raw_pass_ms(model, crop)
                    with passes(CANDIDATES[name]):
                        posture.analyze(data, LEVEL_OFF, model=model)  # warm (the decode's caches)
                        t = time.perf_counter()
                        posture.analyze(data, LEVEL_OFF, model=model)
                        ms = 1000 * (time.perf_counter() - t)
                    f = figures[set_name][name]
                    f.ms.append(ms)
                    f.ratios.append(ms / (f.passes[len(f.ms) - 1] * raw))
    return figures


def report(figures: dict[str, dict[str, Figures]], timing: bool) -> None:
    for set_name, by_config in figures.items():
        print(f"\n## {set_name}")
        head = f"{'candidate':<52}{'passes':>7}"
        if timing:
            head += f"{'ms':>7}{'ratio':>7}"
        head += "".join(f"{v[:9]:>16}" for v in VARIANTS) + "  facing"
        print(head + f"\n{'':<52}{'':>7}" + ("" if not timing else f"{'':>14}") + f"{'median / p90':>16}" * 3)
        for name, f in by_config.items():
            row = f"{name:<52}{statistics.mean(f.passes):>7.1f}"
            if timing:
                row += f"{statistics.median(f.ms):>7.0f}{statistics.median(f.ratios):>7.2f}"
            for v in VARIANTS:
                d = f.differences[v]
                row += f"{np.median(d):>9.2f} /{np.percentile(d, 90):>5.2f}" if d else f"{'-':>16}"
            print(row + f"  {len(f.facing_changed)}")
            for v in VARIANTS:
                worst = sorted(f.per_measure[v].items(), key=lambda kv: -np.percentile(kv[1], 90))
                per = ", ".join(f"{k.removesuffix('_deg')} {np.percentile(x, 90):.2f}" for k, x in worst)
                worst_d = max(f.differences[v], default=float("nan"))
                print(f"      {v}: max {worst_d:.2f}; p90 per measure: {per}")
            if f.rejected:
                print(f"      rejected: {'; '.join(f.rejected)}")
            if f.facing_changed:
                print(f"      facing/side changed: {'; '.join(f.facing_changed)}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="comma-separated candidate names (prefix match)")
    parser.add_argument("--samples-only", action="store_true", help="only the committed sample photos")
    parser.add_argument("--no-timing", action="store_true", help="skip the (uncached) timing pass")
    parser.add_argument("--sets", help="comma-separated set names (default: all)")
    parser.add_argument("--limit", type=int, help="at most this many photos per set (a quick look)")
    args = parser.parse_args()
    names = list(CANDIDATES)
    if args.only:
        wanted = [w.strip() for w in args.only.split(",")]
        names = [n for n in names if any(n.startswith(w) for w in wanted)]
    model = posture.default_model()
    print(f"OpenCV {cv2.__version__}; level off; absolute differences of angle measures, degrees")
    print(f"default: {next((n for n, c in CANDIDATES.items() if c == pose.PASSES), 'not a candidate')}")
    sets = {k: v[: args.limit] for k, v in photo_sets(args.samples_only).items()}
    if args.sets:
        sets = {k: v for k, v in sets.items() if k in args.sets.split(",")}
    figures = measure(sets, names, model, not args.no_timing)
    report(figures, not args.no_timing)


if __name__ == "__main__":
    main()
