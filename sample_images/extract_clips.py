#!/usr/bin/env python3
"""Regenerate the sample clips in `clips/` from the Sports2D demo video.

No squat or knee-to-wall lunge clip with a licence that allows redistribution was found in the
registries (docs/accuracy.md, "Movement tests"), so the movement tests' real footage is the walking
woman of the same demo video the sample photos come from (``sports2d==0.8.34``, BSD-3-Clause, see
ATTRIBUTION.md): her hip dips at each double support and her shins swing over the feet.

Usage (from the repository root)::

    python sample_images/extract_clips.py              # pip-downloads the wheel
    python sample_images/extract_clips.py --archive sports2d-0.8.34-py3-none-any.whl
    python sample_images/extract_clips.py --video demo.mp4

The clip is re-encoded with OpenCV's bundled FFmpeg (MPEG-4 part 2 in MP4, `mp4v`): the output is
deterministic for one OpenCV build, other builds may differ by a few bits.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from extract_samples import (
    VIDEO_SHA256,
    VIDEO_SIZE,
    VIDEO_SUFFIX,
    download_package,
    read_members,
    sha256_of,
)

FPS = 30.0


@dataclass(frozen=True)
class ClipSpec:
    """One output clip: a run of frames (first..last inclusive) cut to a box, optionally scaled."""

    name: str
    first: int
    last: int
    box: tuple[int, int, int, int]  # left, top, right, bottom (exclusive), full-frame pixels
    scale: float = 1.0


# Rows 466–994 keep the man on the box out of the picture (his soles are at y ≈ 460, as in the
# repeatability set); columns 40–880 hold the woman whole from frame 122 (her back edge has come in)
# to frame 186 (her front foot is still inside), 65 frames, 2.2 s.
CLIPS = (ClipSpec("walk_side.mp4", 122, 186, (40, 466, 880, 994)),)


def write_clip(video: Path, spec: ClipSpec, out: Path) -> None:
    """Decode the demo sequentially and write the cut frames of `spec` to `out`."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise SystemExit(f"OpenCV cannot open {video}")
    left, top, right, bottom = spec.box
    size = (round((right - left) * spec.scale), round((bottom - top) * spec.scale))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), FPS, size)
    try:
        for index in range(spec.last + 1):
            ok, bgr = cap.read()
            if not ok:
                raise SystemExit(f"{video} ended before frame {index}")
            if index == 0 and (bgr.shape[1], bgr.shape[0]) != VIDEO_SIZE:
                raise SystemExit(f"expected {VIDEO_SIZE} frames, got {bgr.shape[1::-1]}")
            if index >= spec.first:
                cut = bgr[top:bottom, left:right]
                if spec.scale != 1.0:
                    cut = cv2.resize(cut, size, interpolation=cv2.INTER_AREA)
                writer.write(cut)
    finally:
        writer.release()
        cap.release()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--video", type=Path, help="use this copy of Sports2D/Demo/demo.mp4")
    source.add_argument("--archive", type=Path, help="use this already downloaded sports2d wheel or sdist")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "clips")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sports2d-") as tmp_name:
        tmp = Path(tmp_name)
        if args.video is not None:
            video: Path = args.video
        else:
            archive = args.archive if args.archive is not None else download_package(tmp)
            video = read_members(archive, {"video": VIDEO_SUFFIX}, tmp)["video"]
        actual = sha256_of(video)
        if actual != VIDEO_SHA256:
            raise SystemExit(f"{video} is not the sports2d 0.8.34 demo video (sha256 {actual})")
        for spec in CLIPS:
            target = args.out / spec.name
            write_clip(video, spec, target)
            print(f"wrote clips/{spec.name} ({target.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
