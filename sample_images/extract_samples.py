#!/usr/bin/env python3
"""Regenerate the sample photos in this folder from the Sports2D demo video.

The project needs real photos of people for its examples and tests, and they must come
from a source whose licence allows redistribution. The demo video shipped inside the
PyPI package ``sports2d==0.8.34`` (BSD-3-Clause, see ATTRIBUTION.md) is such a source,
so every sample here is a frame of that video, optionally cropped or scaled, re-encoded
with our own JPEG settings.

Usage (from the repository root)::

    python sample_images/extract_samples.py              # pip-downloads the wheel
    python sample_images/extract_samples.py --archive sports2d-0.8.34-py3-none-any.whl
    python sample_images/extract_samples.py --video demo.mp4

Needs numpy, opencv-python(-headless) and Pillow, which the project already depends on.
The output is deterministic for a given OpenCV/FFmpeg build and Pillow/libjpeg build;
other builds may differ by a few bits in the decoded pixels or the JPEG stream.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

PACKAGE = "sports2d==0.8.34"
VIDEO_SUFFIX = "Sports2D/Demo/demo.mp4"
# The SHA-256 of demo.mp4 in sports2d 0.8.34: frame numbers and crop boxes below were
# chosen by looking at this exact file, so any other file is refused rather than
# silently producing samples that show the wrong thing.
VIDEO_SHA256 = "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039"
VIDEO_SIZE = (1768, 994)  # width, height

JPEG_QUALITY = 92
# EXIF tag 0x0112 is Orientation; value 6 means "rotate 90 degrees clockwise to display".
EXIF_ORIENTATION_TAG = 0x0112
EXIF_ROTATE_CW = 6

# (left, top, right, bottom) in full-frame pixels, right/bottom exclusive.
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Sample:
    """One output photo: which frame, how it is cut and scaled, and where it goes."""

    name: str
    frame: int  # 0-based index, the same as OpenCV's CAP_PROP_POS_FRAMES
    crop: Box | None = None
    scale: float = 1.0
    # Store the pixels rotated and tag them with EXIF orientation, so that only a reader
    # that honours EXIF (as phones expect) sees the person upright.
    exif_rotated: bool = False


# The woman walks right-to-left, side-on and facing left. These are her mid-stance
# frames (feet close together under the hips), the closest the video comes to a standing
# profile, spread across the frame and its backgrounds (park, box louvres, backlit box
# edge). Among the mid-stance frames these are also the ones where MediaPipe's full
# pose model finds her reliably after JPEG encoding. Full frames keep the man on the box
# in the picture, a realistic two-person scene.
SIDE_FRAMES = (91, 110, 128, 165, 180)

# Around the woman in frame 128 (she spans about x 681-803, y 503-945). The top edge
# stays below y 466 because the man stands on the box directly above her at x 700-790
# with his shoes at y ~460; this keeps her the only person in the crop.
WOMAN_CROP_F128: Box = (560, 470, 900, 994)
# Same crop with the bottom at her knees (y ~825-840), so shins, ankles and feet are missing.
WOMAN_KNEES_CROP_F128: Box = (560, 470, 900, 840)
# Frame 2: the man on the box faces the camera, arms by his sides, before the walk and
# the flip (the woman enters the frame only at ~36). He spans about x 580-720, y 88-458.
MAN_FRONTAL_CROP_F2: Box = (470, 20, 830, 540)
# Frame 2, right part: trees, grass and buildings with nobody in them.
NO_PERSON_CROP_F2: Box = (1000, 200, 1768, 994)

# The repeatability set (tests/test_repeatability.py): portrait 3:4 crops, one person each, of the
# frames 73-186 in which the woman has both feet down and her legs apart (double support): heel
# heights within 3 % of her nose-to-ankle height and ankles at least 30 % of it apart, read from this
# project's own landmarks of each crop. Legs apart because when they cross (mid-stance) a copy can
# swap the bent swing leg for the standing one, which a standing person's straight legs cannot do.
# Frame 80 is left out because the quality gate refuses its half-size copy (under 200 px), as it does
# for 60-62; 57-59 are left out because their silhouette estimates move by up to 5-15° between copies
# (ATTRIBUTION.md gives the figures with them). Value: the crop's left edge, centred on her hips
# (x ± 198) and clamped to the frame.
REPEATABILITY_LEFT_PX: dict[int, int] = {
    **{76: 1064, 77: 1055, 78: 1048, 79: 1040},
    **{95: 887, 96: 878, 97: 869, 98: 857, 99: 845},
    **{113: 705, 114: 694, 115: 684, 116: 674, 117: 662},
    **{131: 522, 132: 513, 133: 504, 134: 496},
    **{150: 332, 151: 324},
    **{168: 146, 169: 138, 170: 125, 171: 113, 172: 101},
    **{186: 0},
}
REPEATABILITY_SIZE_PX = (396, 528)  # width, height: a 3:4 portrait photo
# The top edge stays below the box top (y ~460) so that the man on the box is never in the crop.
REPEATABILITY_TOP_PX = 466
REPEATABILITY_DIR = "repeatability"


def repeatability_box(left: int) -> Box:
    """The crop box of one repeatability frame from its left edge."""
    width, height = REPEATABILITY_SIZE_PX
    return (left, REPEATABILITY_TOP_PX, left + width, REPEATABILITY_TOP_PX + height)


SAMPLES: tuple[Sample, ...] = (
    *(Sample(f"walk_side_f{f:04d}.jpg", f) for f in SIDE_FRAMES),
    Sample("walk_side_crop_f0128.jpg", 128, crop=WOMAN_CROP_F128),
    Sample("cropped_feet_f0128.jpg", 128, crop=WOMAN_KNEES_CROP_F128),
    # A quarter of the frame size makes her about 105 px tall: too small to measure.
    # Frame 110 rather than 128 because at this size MediaPipe still finds her there,
    # so the sample exercises "person too small" rather than "no person".
    Sample("tiny_f0110.jpg", 110, scale=0.25),
    Sample("frontal_man.jpg", 2, crop=MAN_FRONTAL_CROP_F2),
    Sample("no_person_f0002.jpg", 2, crop=NO_PERSON_CROP_F2),
    Sample("exif_rot90_crop_f0128.jpg", 128, crop=WOMAN_CROP_F128, exif_rotated=True),
    *(
        Sample(f"{REPEATABILITY_DIR}/double_support_f{f:04d}.jpg", f, crop=repeatability_box(left))
        for f, left in REPEATABILITY_LEFT_PX.items()
    ),
)

LICENCE_HEADER = (
    "The sample photos in this folder are frames of Sports2D/Demo/demo.mp4 from the PyPI\n"
    f"package {PACKAGE} by David Pagnon (see ATTRIBUTION.md). That package's licence,\n"
    "copied verbatim from sports2d-0.8.34.dist-info/licenses/LICENSE, follows.\n"
    "\n"
    "----------------------------------------------------------------------------\n"
    "\n"
)

# The truncated JPEG is cut from this sample so that its header is a real one.
TRUNCATE_SOURCE = "walk_side_crop_f0128.jpg"
TRUNCATE_FRACTION = 0.3


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks (the video is 4 MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_package(dest: Path) -> Path:
    """Fetch the sports2d distribution with pip and return the archive's path."""
    # --no-deps: we only want the archive, not sports2d's heavy dependency tree.
    # --only-binary: a wheel is just unzipped; an sdist would make pip run a build backend.
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet"]
    subprocess.run([*command, PACKAGE, "-d", str(dest)], check=True)
    archives = sorted(p for p in dest.iterdir() if p.is_file())
    if not archives:
        raise SystemExit(f"pip download of {PACKAGE} produced no file in {dest}")
    return archives[0]


def read_members(archive: Path, wanted: dict[str, str], dest: Path) -> dict[str, Path]:
    """Copy archive members whose path ends with a wanted suffix into dest.

    Works for both the wheel (a zip) and the sdist (a tar.gz), whose member paths differ
    only by a leading directory.
    """
    contents: dict[str, bytes] = {}
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            # Sorted so that, were two members to match, the choice would not depend on order.
            for name in sorted(zf.namelist()):
                for key, suffix in wanted.items():
                    if key not in contents and name.endswith(suffix):
                        contents[key] = zf.read(name)
    else:
        with tarfile.open(archive) as tf:
            for info in sorted(tf.getmembers(), key=lambda m: m.name):
                for key, suffix in wanted.items():
                    fh = tf.extractfile(info) if info.isfile() else None
                    if key not in contents and fh is not None and info.name.endswith(suffix):
                        contents[key] = fh.read()
    found: dict[str, Path] = {}
    for key, data in contents.items():
        found[key] = dest / key
        found[key].write_bytes(data)
    missing = set(wanted) - set(found)
    if "video" in missing:
        raise SystemExit(f"{archive.name} has no member ending in {VIDEO_SUFFIX}")
    return found


def read_frames(video: Path, indices: set[int]) -> dict[int, np.ndarray]:
    """Decode the wanted frames as RGB arrays.

    Reads sequentially rather than seeking: seeking lands on the right frame with this
    file and OpenCV 4.x/5.x, but sequential decoding is exact with any backend.
    """
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise SystemExit(f"OpenCV cannot open {video}")
    frames: dict[int, np.ndarray] = {}
    try:
        for index in range(max(indices) + 1):
            ok, bgr = cap.read()
            if not ok:
                raise SystemExit(f"{video} ended before frame {index}")
            if index in indices:
                frames[index] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
    height, width = next(iter(frames.values())).shape[:2]
    if (width, height) != VIDEO_SIZE:
        raise SystemExit(f"expected {VIDEO_SIZE} frames, got {(width, height)}")
    return frames


def render(sample: Sample, frame: np.ndarray) -> Image.Image:
    """Apply a sample's crop, scale and rotation to an RGB frame."""
    pixels = frame
    if sample.crop is not None:
        left, top, right, bottom = sample.crop
        pixels = pixels[top:bottom, left:right]
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if sample.scale != 1.0:
        size = (round(image.width * sample.scale), round(image.height * sample.scale))
        # Box filtering averages whole source pixels, like a camera at lower resolution.
        image = image.resize(size, Image.Resampling.BOX)
    if sample.exif_rotated:
        # Rotating 90 degrees counter-clockwise undoes the viewer's clockwise turn (tag 6).
        image = image.transpose(Image.Transpose.ROTATE_90)
    return image


def encode_jpeg(image: Image.Image, exif_rotated: bool) -> bytes:
    """JPEG bytes with the project's own settings, EXIF only where it is the point."""
    buffer = io.BytesIO()
    exif = Image.Exif()
    if exif_rotated:
        exif[EXIF_ORIENTATION_TAG] = EXIF_ROTATE_CW
    # Fixed settings (no optimise pass, no progressive scan, 4:2:0 chroma) keep the
    # bytes stable between runs; only the rotated sample carries any EXIF at all.
    image.save(
        buffer,
        format="JPEG",
        quality=JPEG_QUALITY,
        subsampling="4:2:0",
        optimize=False,
        progressive=False,
        exif=exif.tobytes() if exif_rotated else b"",
    )
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and the CRC-32 that readers check."""
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def corrupt_pixels_png(width: int, height: int) -> bytes:
    """A PNG whose structure and checksums are valid but whose pixel stream is not zlib.

    Image.open() succeeds and reports a size; decoding fails. It catches intake code that
    trusts a file once it opens, without decoding the pixels.
    """
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", b"these bytes are not a zlib stream")
        + png_chunk(b"IEND", b"")
    )


def pseudo_random_bytes(count: int) -> bytes:
    """Deterministic noise from chained SHA-256, stable across Python and numpy versions."""
    out = bytearray()
    block = b"posture sample noise"
    while len(out) < count:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:count])


def write_bad_inputs(bad_dir: Path, truncate_from: bytes) -> list[Path]:
    """Write the small broken files that photo intake must reject cleanly."""
    bad_dir.mkdir(parents=True, exist_ok=True)
    contents = {
        "empty.jpg": b"",
        "truncated.jpg": truncate_from[: int(len(truncate_from) * TRUNCATE_FRACTION)],
        "not_an_image.jpg": b"This is a plain text file with a .jpg name, not a photo.\n",
        "random_bytes.png": pseudo_random_bytes(512),
        "corrupt_pixels.png": corrupt_pixels_png(640, 480),
    }
    written = []
    for name, data in contents.items():
        path = bad_dir / name
        path.write_bytes(data)
        written.append(path)
    return written


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line: where the video comes from and where the samples go."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--video", type=Path, help="use this copy of Sports2D/Demo/demo.mp4")
    source.add_argument("--archive", type=Path, help=f"use this already downloaded {PACKAGE} wheel or sdist")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="output folder (default: the folder holding this script)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Fetch the video, write every sample, the bad inputs and the licence copy."""
    args = parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sports2d-") as tmp_name:
        tmp = Path(tmp_name)
        licence: Path | None = None
        if args.video is not None:
            video: Path = args.video
        else:
            archive = args.archive if args.archive is not None else download_package(tmp)
            members = read_members(archive, {"video": VIDEO_SUFFIX, "licence": "/LICENSE"}, tmp)
            video = members["video"]
            licence = members.get("licence")

        actual = sha256_of(video)
        if actual != VIDEO_SHA256:
            raise SystemExit(f"{video} is not the sports2d 0.8.34 demo video (sha256 {actual})")

        frames = read_frames(video, {s.frame for s in SAMPLES})
        encoded: dict[str, bytes] = {}
        for sample in SAMPLES:
            data = encode_jpeg(render(sample, frames[sample.frame]), sample.exif_rotated)
            (out / sample.name).parent.mkdir(parents=True, exist_ok=True)
            (out / sample.name).write_bytes(data)
            encoded[sample.name] = data
            print(f"wrote {sample.name} ({len(data) // 1024} KiB)")

        for path in write_bad_inputs(out / "bad", encoded[TRUNCATE_SOURCE]):
            print(f"wrote bad/{path.name} ({path.stat().st_size} B)")

        if licence is not None:
            # BSD-3-Clause asks redistributions to carry the notice: keep the package's own
            # text verbatim, under a header saying which files it covers and where it is from.
            (out / "LICENSE.sports2d").write_bytes(LICENCE_HEADER.encode() + licence.read_bytes())
            print("wrote LICENSE.sports2d")
        else:
            print("note: --video gives no licence file; LICENSE.sports2d left as it is")
    return 0


if __name__ == "__main__":
    sys.exit(main())
