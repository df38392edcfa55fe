"""Speed of `analyze()` on a 12-megapixel JPEG against the raw landmarker calls it makes.

Prints the median time of one raw `PoseModel.detect` on a model-ready 640×640 crop, the median
end-to-end `analyze()` of the file (decode, subject search, refine passes, silhouette, measures,
scores), the number of model passes per analysis and the ratio

    end-to-end / (passes × raw pass)

Target: ≤ 1.3 (everything around the model costs under 30 % of the model's own time). Single process,
warm (the model is loaded and each timing repeated). The raw pass and the analysis are timed in turn,
repeat after repeat, so that a machine's changing background load hits both alike. `--compare` also
times the 15-pass pipeline of 2026-12-01 (`posture.pose.PASSES_15`) in the same loop.
Run: `python benchmarks/analyze_speed.py [--repeat N] [--compare]`.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

import posture
from posture import pose
from posture.intake import load_photo
from posture.pose import CROP_SIDE_PX, PASSES_15, find_subject

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "sample_images" / "walk_side_crop_f0128.jpg"


def twelve_megapixel_jpeg() -> bytes:
    """The sample crop enlarged to a phone's 3024×4032 portrait frame, saved as a quality-90 JPEG."""
    image = Image.open(SOURCE).convert("RGB")
    big = image.resize((3024, 4032), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    big.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def median_ms(fn, repeat: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def interleaved_ms(
    fns: dict[str, Callable[[], object]], repeat: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall-clock ms and median CPU ms (all of the process's threads) of each function, timed
    one after another in every round."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()  # warm
    for _ in range(repeat):
        for name, fn in fns.items():
            t, c = time.perf_counter(), time.process_time()
            fn()
            times[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    wall = {name: 1000 * statistics.median(t) for name, t in times.items()}
    return wall, {name: 1000 * statistics.median(t) for name, t in cpu.items()}


def analyze_with(
    config: pose.PassConfig, data: bytes, model: posture.PoseModel, options: posture.AnalysisOptions
) -> None:
    saved = pose.PASSES
    pose.PASSES = config
    try:
        posture.analyze(data, options, model=model)
    finally:
        pose.PASSES = saved


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--compare", action="store_true", help="also time the 15-pass pipeline of 12-01")
    parser.add_argument(
        "--level", choices=("auto", "off"), default="auto", help="camera level (default auto)"
    )
    args = parser.parse_args()

    model = posture.default_model()
    data = twelve_megapixel_jpeg()
    photo = load_photo(data)
    subject = find_subject(model, photo)
    assert subject is not None
    passes = subject.passes

    # A model-ready crop: what each refine pass gets.
    crop = np.ascontiguousarray(
        np.asarray(Image.fromarray(photo.rgb).resize((CROP_SIDE_PX, CROP_SIDE_PX)), dtype=np.uint8)
    )
    # A crop where the model finds the person (on an empty frame it skips the landmark stage).
    assert model.detect(crop), "the raw pass must find the person"
    options = posture.AnalysisOptions(level=args.level)
    fns = {"raw": lambda: model.detect(crop), "e2e": lambda: posture.analyze(data, options, model=model)}
    if args.compare:
        fns["15"] = lambda: analyze_with(PASSES_15, data, model, options)
        passes_15 = find_subject(model, photo, passes=PASSES_15).passes
    timed, cpu = interleaved_ms(fns, args.repeat)
    raw, e2e = timed["raw"], timed["e2e"]
    decode = median_ms(lambda: load_photo(data), args.repeat)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    work = f"{photo.rgb.shape[1]}×{photo.rgb.shape[0]}"
    print(f"photo: 3024×4032 JPEG, {len(data) / 1e6:.1f} MB; working image {work}")
    print(f"raw landmarker pass (640×640 crop), median: {raw:7.1f} ms")
    print(f"decode + orient + downscale, median:        {decode:7.1f} ms")
    print(f"end-to-end analyze(), level {args.level}, median:    {e2e:7.1f} ms")
    print(f"CPU time of analyze() (all threads), median: {cpu['e2e']:7.1f} ms (raw pass {cpu['raw']:.1f} ms)")
    print(f"model passes per analysis:                  {passes:7d}")
    print(f"ratio end-to-end / (passes × raw):          {e2e / (passes * raw):7.2f}  (target ≤ 1.3)")
    if args.compare:
        e15 = timed["15"]
        print(
            f"15-pass pipeline of 12-01, end-to-end:      {e15:7.1f} ms, {passes_15} passes, ratio "
            f"{e15 / (passes_15 * raw):.2f}; this one takes {e2e / e15:.2f} of its time"
        )
        print(
            f"15-pass pipeline, CPU time:                 {cpu['15']:7.1f} ms; this one takes "
            f"{cpu['e2e'] / cpu['15']:.2f} of its CPU time"
        )
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
