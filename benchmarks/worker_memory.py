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

`--clips` measures movement clips instead (issue 23): the repository's walking clip enlarged to the
clip frame limits of rules.toml `[movement.clip]` (4K landscape and portrait, and 4096×2304, the
largest accepted frame), analysed as the service's clip jobs are (a lunge, with the deepest frame's
overlay), after a warm-up clip; and an 8000×8000 clip, which must be refused from its container before
any frame is decoded (`clip_frame_too_large`) at the worker's steady memory.
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


WALK = ROOT / "sample_images" / "clips" / "walk_side.mp4"
# (file name, width, height, frames): the walking clip (65 frames) enlarged; the last is refused.
CLIPS = (
    ("4k_landscape.mp4", 3840, 2160, 65),
    ("4k_portrait.mp4", 2160, 3840, 65),
    ("4096x2304.mp4", 4096, 2304, 65),
    ("8000x8000.mp4", 8000, 8000, 3),
)


def make_clip(path: Path, width: int, height: int, frames: int) -> None:
    import cv2

    cap = cv2.VideoCapture(str(WALK))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (width, height))
    for _ in range(frames):
        ok, frame = cap.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR))
    writer.release()
    cap.release()


def child_clip(path: Path) -> dict[str, object]:
    """In a fresh process: one worker, a warm-up clip, then the measured clip job."""
    from posture.movement.options import ClipOptions
    from posture.worker import ClipJob, Worker, WorkerConfig, peak_rss_mb

    worker = Worker(WorkerConfig(photos=False))  # as the service's clip workers are
    options = ClipOptions(test="lunge", overlay=True)
    warm = worker.run_clip(ClipJob(WALK, options, WALK.name))
    assert warm.analysis is not None and warm.analysis.status == "ok", warm
    steady_mb = peak_rss_mb()
    started = time.perf_counter()
    result = worker.run_clip(ClipJob(path, options, path.name))
    analysis = result.analysis
    return {
        "photo": path.name,
        "file_mb": path.stat().st_size / 1e6,
        "size": [analysis.clip.width, analysis.clip.height] if analysis and analysis.clip.width else None,
        "status": analysis.status if analysis else "error",
        "error": analysis.error.code if analysis and analysis.error else None,
        "stored_size": None,
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
    parser.add_argument("--child-clip", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--clips", action="store_true", help="measure movement clips instead of photos")
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child)))
        return
    if args.child_clip is not None:
        print(json.dumps(child_clip(args.child_clip)))
        return

    env = {**os.environ, "GLOG_minloglevel": "2"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="worker-memory-") as tmp:
        inputs = CLIPS if args.clips else PHOTOS
        for name, *spec in inputs:
            path = Path(tmp) / name
            if args.clips:
                make_clip(path, *spec)  # type: ignore[arg-type]
            else:
                make_photo(path, *spec)  # type: ignore[arg-type]
            done = subprocess.run(
                [sys.executable, __file__, "--child-clip" if args.clips else "--child", str(path)],
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
    what = "clip" if args.clips else "photo"
    print(f"| {what} | file | pixels | result | stored copy | worker before | **peak** |")
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
