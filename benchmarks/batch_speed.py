"""Batch scoring throughput: photos/s for 1 and 2 local workers and for Ray actors, with peak memory.

    .venv/bin/python benchmarks/batch_speed.py [--photos 40] [--repeats 3] [--photo PATH] [--no-ray]

Each configuration scores the same folder of distinct copies of one sample photo (a few trailing bytes
make their hashes differ; the pixels are identical) through `posture.batch.score`, the code path of
`posture batch`. Throughput is steady-state: photos after the first divided by the time from the
first result to the last, so worker start-up (model loading, Ray start) is reported separately as
"first result". Medians over the repeats. The machine's load average is printed because a busy
neighbour on a 2-core machine changes the figures more than anything measured here.

It also measures how many cores one inference keeps busy (CPU time / wall time of `analyze()` in one
process): if that were well above 1, two workers on two cores could not reach twice one worker.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GLOG_minloglevel", "2")

from posture.batch import RunStats, score  # noqa: E402

DEFAULT_PHOTO = ROOT / "sample_images" / "walk_side_f0128.jpg"


def make_copies(photo: Path, n: int, folder: Path) -> list[Path]:
    data = photo.read_bytes()
    paths = []
    for i in range(n):
        path = folder / f"{photo.stem}_{i:03d}.jpg"
        path.write_bytes(data + f"\0copy {i}".encode())
        paths.append(path)
    return paths


def run_once(paths: list[Path], engine: str, workers: int) -> dict[str, float]:
    stats = RunStats()
    cpu0 = time.process_time()
    started = time.perf_counter()
    stamps = []
    for result in score(paths, engine=engine, workers=workers, stats=stats):  # type: ignore[arg-type]
        if not result.analysis.ok:
            raise SystemExit(f"{result.source} was rejected: {result.analysis.error}")
        stamps.append(time.perf_counter())
    ended = time.perf_counter()
    driver_cpu = time.process_time() - cpu0
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
    peaks = list(stats.worker_peak_rss_mb.values())
    return {
        "steady": steady,
        "overall": len(stamps) / (ended - started),
        "first": stamps[0] - started,
        "rss_max": max(peaks) if peaks else float("nan"),
        "driver_ms": 1000 * driver_cpu / len(stamps),
    }


def inference_cores(photo: Path, n: int = 6) -> float:
    """CPU seconds per wall second while one process analyses photos back to back."""
    import posture

    model = posture.default_model()
    posture.analyze(photo, model=model)  # warm-up
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        posture.analyze(photo, model=model)
    return (time.process_time() - cpu0) / (time.perf_counter() - wall0)


def _spin(seconds: float) -> int:
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        for _ in range(10_000):
            pass
        n += 1
    return n


def cpu_ceiling(seconds: float = 2.0) -> float:
    """Work done by two busy-loop processes at once, relative to one: what the machine itself allows
    right now (2.0 on two idle cores; less when a neighbour is busy or the vCPUs share a core)."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        pool.submit(_spin, 0.01).result()  # start the processes before timing
        one = pool.submit(_spin, seconds).result()
        two = sum(f.result() for f in [pool.submit(_spin, seconds) for _ in range(2)])
    return two / one


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--photo", type=Path, default=DEFAULT_PHOTO)
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray engine")
    args = parser.parse_args()

    configs = [("local", 1), ("local", 2)]
    if not args.no_ray:
        try:
            import ray  # noqa: F401
        except ImportError:
            print("Ray is not installed: skipping the Ray engine", file=sys.stderr)
        else:
            configs.append(("ray", 2))

    machine = f"{os.cpu_count()} × {cpu_model()}, Python {platform.python_version()}"
    print(f"# batch_speed {date.today()} · {machine}")
    print(f"# {args.photos} copies of {args.photo.name}, {args.repeats} repeats, medians")
    print(f"# load average before: {load_average()}")
    cores = inference_cores(args.photo)
    print(f"# one process: {cores:.2f} cores busy per inference (CPU time / wall time)")

    with tempfile.TemporaryDirectory(prefix="batch-speed-") as tmp:
        paths = make_copies(args.photo, args.photos, Path(tmp))
        runs: dict[tuple[str, int], list[dict[str, float]]] = {c: [] for c in configs}
        ceilings = []
        # Interleave configurations, so a burst of load elsewhere does not hit one configuration only.
        for _ in range(args.repeats):
            ceilings.append(cpu_ceiling())
            for engine, workers in configs:
                runs[(engine, workers)].append(run_once(paths, engine, workers))

    base = statistics.median(r["steady"] for r in runs[("local", 1)])
    print()
    columns = [
        "engine",
        "workers",
        "photos/s (steady)",
        "× 1 worker",
        "photos/s (incl. start)",
        "first result s",
        "peak RSS per worker MiB",
        "driver CPU ms/photo",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|" + " --- |" * len(columns))
    for (engine, workers), results in runs.items():
        steady = statistics.median(r["steady"] for r in results)
        print(
            f"| {engine} | {workers} | {steady:.2f} | {steady / base:.2f} | "
            f"{statistics.median(r['overall'] for r in results):.2f} | "
            f"{statistics.median(r['first'] for r in results):.1f} | "
            f"{statistics.median(r['rss_max'] for r in results):.0f} | "
            f"{statistics.median(r['driver_ms'] for r in results):.1f} |"
        )
    print()
    print(
        f"# two busy-loop processes did {statistics.median(ceilings):.2f} × the work of one "
        f"(the machine's own ceiling while this ran; runs: {', '.join(f'{c:.2f}' for c in ceilings)})"
    )
    print(f"# load average after: {load_average()}")
    print("# per-run steady photos/s:")
    for (engine, workers), results in runs.items():
        print(f"#   {engine} × {workers}: " + ", ".join(f"{r['steady']:.2f}" for r in results))


if __name__ == "__main__":
    main()
