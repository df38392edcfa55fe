"""Peak memory of an inference worker for the largest photos the limits accept.

For each photo, a fresh process builds a `posture.worker.Worker` (its own pose model), analyses one
ordinary photo to reach its steady state, then runs the job exactly as an upload makes it (overlay and
metadata-free stored copy, the service's 20 MiB file limit) and reports its peak resident memory
(`posture.worker.peak_rss_mb`: VmHWM on Linux, since `ru_maxrss` would start at this script's own
peak, inherited through fork and exec). Target: ≤ 600 MB for every photo.

The photos are the sample side photo enlarged to the limits (a smooth enlargement compresses like a
real photo, and the quality gate accepts it, so the whole job runs): a 64-megapixel JPEG (the overall
pixel limit; JPEG decodes at a reduced DCT scale) and a 12-megapixel HEIC (a phone's default), and at
the per-format limits of the formats decoded at full size: PNG and HEIC at 25 MP, WebP at 12 MP.

Run: `python benchmarks/worker_memory.py` (about two minutes, most of it encoding the HEIC files).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "sample_images" / "walk_side_f0128.jpg"
WARM_UP = ROOT / "sample_images" / "walk_side_crop_f0128.jpg"
UPLOAD_LIMIT_BYTES = 20 * 1024 * 1024  # the service's default POSTURE_MAX_UPLOAD_BYTES
TARGET_MB = 600.0
# (file name, format, megapixels): the limits of posture.intake at the time of writing.
PHOTOS = (
    ("64mp.jpg", "JPEG", 64.0),
    ("12mp.heic", "HEIF", 12.0),
    ("25mp.heic", "HEIF", 25.0),
    ("25mp.png", "PNG", 25.0),
    ("12mp.webp", "WEBP", 12.0),
)


def make_photo(path: Path, fmt: str, megapixels: float) -> None:
    from PIL import Image

    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    image = Image.open(SOURCE).convert("RGB")
    scale = (megapixels * 1e6 * 0.999 / (image.width * image.height)) ** 0.5
    big = image.resize((int(image.width * scale), int(image.height * scale)), Image.Resampling.BICUBIC)
    options = {"JPEG": {"quality": 90}, "HEIF": {"quality": 80}, "WEBP": {"quality": 85}, "PNG": {}}[fmt]
    big.save(path, format=fmt, **options)


def child(path: Path) -> dict[str, object]:
    """In a fresh process: one worker, a warm-up photo, then the measured job."""
    from posture.intake import IntakeLimits
    from posture.options import AnalysisOptions
    from posture.worker import Job, Worker, WorkerConfig, peak_rss_mb

    worker = Worker(WorkerConfig())
    options = AnalysisOptions(overlay=True)
    limits = IntakeLimits(max_file_bytes=UPLOAD_LIMIT_BYTES)
    warm = worker.run(Job(WARM_UP.read_bytes(), WARM_UP.name, options, keep_photo=True, limits=limits))
    assert warm.analysis.ok, warm.analysis.error
    steady_mb = peak_rss_mb()
    data = path.read_bytes()
    started = time.perf_counter()
    result = worker.run(Job(data, path.name, options, keep_photo=True, limits=limits))
    return {
        "photo": path.name,
        "file_mb": len(data) / 1e6,
        "size": [image.width, image.height] if (image := result.analysis.image) else None,
        "status": result.analysis.status,
        "error": result.analysis.error.code if result.analysis.error else None,
        "stored_size": _size_of(result.photo_jpeg),
        "steady_mb": steady_mb,
        "peak_mb": peak_rss_mb(),
        "seconds": time.perf_counter() - started,
    }


def _size_of(jpeg: bytes | None) -> list[int] | None:
    if jpeg is None:
        return None
    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as image:
        return list(image.size)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child)))
        return

    env = {**os.environ, "GLOG_minloglevel": "2"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="worker-memory-") as tmp:
        for name, fmt, megapixels in PHOTOS:
            path = Path(tmp) / name
            make_photo(path, fmt, megapixels)
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(path)],
                capture_output=True,
                text=True,
                env=env,
                cwd=ROOT,
                check=False,
            )
            if done.returncode != 0:
                sys.exit(f"{name}: the worker process failed:\n{done.stderr[-3000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))

    cpu = platform.processor() or platform.machine()
    print(f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print("| photo | file | pixels | result | stored copy | worker before | **peak** |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        width, height = row["size"] or (0, 0)
        stored = "×".join(map(str, row["stored_size"])) if row["stored_size"] else "-"
        result = row["status"] if row["error"] is None else f"{row['status']} ({row['error']})"
        print(
            f"| {row['photo']} | {row['file_mb']:.1f} MB | {width}×{height} ({width * height / 1e6:.1f} MP) "
            f"| {result}, {row['seconds']:.1f} s | {stored} | {row['steady_mb']:.0f} MB "
            f"| **{row['peak_mb']:.0f} MB** |"
        )
    worst = max(row["peak_mb"] for row in rows)
    verdict = "met" if worst <= TARGET_MB else "NOT met"
    print(f"\nhighest peak: {worst:.0f} MB (target ≤ {TARGET_MB:.0f} MB): {verdict}")


if __name__ == "__main__":
    main()
