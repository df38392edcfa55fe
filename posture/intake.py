"""Photo intake: bytes, path or PIL image in; an upright RGB working image out.

Handles JPEG, PNG, WebP and HEIC/HEIF; greyscale, palette, 16-bit, CMYK and alpha all become 8-bit RGB
(transparent areas over white). EXIF orientation is applied and the capture time read. Large JPEGs are
decoded at a reduced DCT scale, so a 12-megapixel photo never exists as a full-size array: the pose model
works on a 256 px crop and the silhouette needs far less than the camera's resolution.

PNG, WebP and HEIC have no reduced-scale decoding: they are decoded at full size, then converted and
reduced in bands (`to_rgb`), so no second full-size copy is made. Their decoders still hold full-size
buffers (Pillow keeps RGB at 4 bytes a pixel; HEIC adds libheif's buffer, WebP an RGBA canvas and a copy
of it), so they have lower pixel limits than JPEG (`IntakeLimits.max_pixels_by_format`): that is what keeps
a worker's peak memory bounded (docs/benchmarks.md, "Worker memory").
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from .errors import ErrorCode, PostureError

try:  # HEIC/HEIF (phones); optional at import so the rest keeps working without libheif.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    pillow_heif = None

DRAFT_FRACTION = 0.75
SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "HEIF", "MPO"})
# Formats decoded at full size, with the most pixels each may have. About 5 MB of decoder memory per
# megapixel for PNG, 6.5 for HEIC and 15 for WebP (measured): at these limits a decode stays under
# ~180 MB. JPEG decodes at a reduced DCT scale and has only `max_pixels`.
FULL_DECODE_MAX_PIXELS = {"PNG": 25_000_000, "HEIF": 25_000_000, "WEBP": 12_000_000}
_FORMAT_NAMES = {"HEIF": "HEIC", "WEBP": "WebP"}
PhotoSource = str | os.PathLike[str] | bytes | Image.Image

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_DATETIME = 0x0132


@dataclass(frozen=True)
class IntakeLimits:
    """Refusal limits. `max_pixels` holds for every format, `max_pixels_by_format` in addition for those
    decoded at full size (PNG, WebP, HEIC: see the module doc). `bomb_pixels_per_byte` flags files that
    declare far more pixels than their compressed size can plausibly hold for a photograph (a
    decompression bomb)."""

    max_file_bytes: int = 40 * 1024 * 1024
    max_pixels: int = 64_000_000
    max_pixels_by_format: Mapping[str, int] = field(default_factory=lambda: dict(FULL_DECODE_MAX_PIXELS))
    bomb_pixels_per_byte: float = 400.0
    bomb_min_pixels: int = 4_000_000


@dataclass(frozen=True)
class Photo:
    """An upright photo ready for the model.

    `rgb` is the working image (uint8, H×W×3, C-contiguous); `width`/`height` are the upright photo's
    full size; `scale` is working pixels per full-size pixel (≤ 1). Landmarks are reported in full-size
    pixels, so results do not depend on the working size.
    """

    rgb: np.ndarray
    width: int
    height: int
    scale: float
    taken_at: datetime | None
    format: str


def load_photo(
    source: PhotoSource,
    *,
    working_long_side_px: int = 1280,
    limits: IntakeLimits | None = None,
) -> Photo:
    """Decode `source` into an upright RGB working image, or raise `PostureError`."""
    limits = limits or IntakeLimits()
    if isinstance(source, Image.Image):
        image, n_bytes = source, None
    else:
        data = _read_bytes(source, limits)
        n_bytes = len(data)
        image = _open(data)
    fmt = (image.format or "PNG").upper() if not isinstance(source, Image.Image) else "PIL"
    if fmt not in SUPPORTED_FORMATS and fmt != "PIL":
        raise PostureError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"{fmt} files are not supported; send a JPEG, PNG, WebP or HEIC photo.",
        )
    _check_size(image.size, n_bytes, limits, fmt)
    stored_size = image.size
    # Ask the JPEG decoder for the smallest DCT scale (1/2, 1/4, 1/8) that still gives three quarters
    # of the working size: the person is then still far larger than the model's 256 px crop, and a
    # 12-megapixel photo decodes at a sixteenth of its pixels.
    long_side = max(image.size)
    if image.format == "JPEG" and long_side > working_long_side_px:
        ratio = DRAFT_FRACTION * working_long_side_px / long_side
        image.draft("RGB", (int(image.size[0] * ratio) + 1, int(image.size[1] * ratio) + 1))
    try:
        # Decode before touching EXIF: some readers (PNG) load pixels to find it and a failure
        # there would otherwise be swallowed, leaving a blank image.
        image.load()
        taken_at = _capture_time(image)
        orientation = exif_orientation(image)
        full_size = stored_size[::-1] if orientation in (5, 6, 7, 8) else stored_size
        # A full-size decode (PNG, WebP, HEIC) is reduced by the largest whole factor that keeps the
        # working size, as it is converted: no second full-size copy is ever made.
        factor = max(1, max(image.size) // working_long_side_px)
        image = upright(to_rgb(image, factor), orientation)
        rgb = np.asarray(image, dtype=np.uint8)
    except PostureError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise PostureError(
            ErrorCode.UNREADABLE_IMAGE, "The photo file is damaged or incomplete and cannot be read."
        ) from exc

    # Never upscale what the DCT-scaled decode gave: it already covers 3/4 of the working size.
    scale = min(1.0, working_long_side_px / max(full_size), max(rgb.shape[:2]) / max(full_size))
    target = (max(1, round(full_size[0] * scale)), max(1, round(full_size[1] * scale)))
    if (rgb.shape[1], rgb.shape[0]) != target:
        rgb = cv2.resize(rgb, target, interpolation=cv2.INTER_AREA)
    return Photo(
        rgb=np.ascontiguousarray(rgb),
        width=full_size[0],
        height=full_size[1],
        scale=target[0] / full_size[0],
        taken_at=taken_at,
        format=fmt,
    )


def _read_bytes(source: str | os.PathLike[str] | bytes, limits: IntakeLimits) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise PostureError(
                ErrorCode.UNREADABLE_IMAGE, f"Cannot open {path.name}: {exc.strerror}."
            ) from exc
        if size > limits.max_file_bytes:
            raise _file_too_large(size, limits)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PostureError(
                ErrorCode.UNREADABLE_IMAGE, f"Cannot read {path.name}: {exc.strerror}."
            ) from exc
    if len(data) > limits.max_file_bytes:
        raise _file_too_large(len(data), limits)
    if not data:
        raise PostureError(ErrorCode.UNREADABLE_IMAGE, "The file is empty: no photo was received.")
    return data


def _file_too_large(size: int, limits: IntakeLimits) -> PostureError:
    return PostureError(
        ErrorCode.FILE_TOO_LARGE,
        f"The file is {size / 1e6:.1f} MB; the limit is {limits.max_file_bytes / 1e6:.0f} MB.",
    )


def _open(data: bytes) -> Image.Image:
    stream: BinaryIO = io.BytesIO(data)
    try:
        with warnings.catch_warnings():
            # Our own pixel limits apply below; Pillow's warning would only duplicate them.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(stream)
    except UnidentifiedImageError as exc:
        raise PostureError(
            ErrorCode.UNSUPPORTED_FORMAT,
            "The file is not an image in a supported format (JPEG, PNG, WebP or HEIC).",
        ) from exc
    except Image.DecompressionBombError as exc:
        raise PostureError(
            ErrorCode.DECOMPRESSION_BOMB, "The file declares an implausibly large image; refused."
        ) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise PostureError(ErrorCode.UNREADABLE_IMAGE, "The photo file cannot be read.") from exc


def _check_size(size: tuple[int, int], n_bytes: int | None, limits: IntakeLimits, fmt: str) -> None:
    pixels = size[0] * size[1]
    if pixels <= 0:
        raise PostureError(ErrorCode.UNREADABLE_IMAGE, "The image has no pixels.")
    if (
        n_bytes is not None
        and pixels >= limits.bomb_min_pixels
        and pixels / n_bytes > limits.bomb_pixels_per_byte
    ):
        raise PostureError(
            ErrorCode.DECOMPRESSION_BOMB,
            f"The file is {n_bytes} bytes but declares {size[0]}×{size[1]} pixels: "
            "refused as a decompression bomb.",
        )
    if pixels > limits.max_pixels:
        raise PostureError(
            ErrorCode.IMAGE_TOO_LARGE,
            f"The image is {pixels / 1e6:.0f} megapixels; the limit is "
            f"{limits.max_pixels / 1e6:.0f} megapixels.",
        )
    format_limit = limits.max_pixels_by_format.get(fmt)
    if format_limit is not None and pixels > format_limit:
        name = _FORMAT_NAMES.get(fmt, fmt)
        raise PostureError(
            ErrorCode.IMAGE_TOO_LARGE,
            f"The image is {pixels / 1e6:.0f} megapixels; {name} photos are decoded at full size and the "
            f"limit for them is {format_limit / 1e6:.0f} megapixels (JPEG: {limits.max_pixels / 1e6:.0f}). "
            "Send a smaller photo or a JPEG.",
        )


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation (1–8; Pillow falls back to XMP's), 1 when absent or unreadable."""
    try:
        orientation = image.getexif().get(0x0112, 1)
    except Exception:
        return 1
    return orientation if orientation in _TRANSPOSE or orientation == 1 else 1


def upright(image: Image.Image, orientation: int) -> Image.Image:
    """`image` turned upright for its EXIF `orientation` (as `ImageOps.exif_transpose`)."""
    method = _TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_BAND_ROWS = 256


def to_rgb(image: Image.Image, factor: int = 1) -> Image.Image:
    """`image` as 8-bit RGB (transparency over white, 16-bit and float greyscale scaled, not clipped),
    box-averaged over `factor`×`factor` blocks. Converted in bands of rows, so that beside the decoded
    image only one band and the result exist: never a second full-size copy in another mode. An RGB
    image with `factor` 1 is returned as it is."""
    if image.mode in ("RGB", "L"):
        reduced = image.reduce(factor) if factor > 1 else image
        return reduced if reduced.mode == "RGB" else reduced.convert("RGB")
    top = _high_depth_top(image) if image.mode in HIGH_DEPTH_MODES else 255.0
    width, height = image.size
    out = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    step = max(1, _BAND_ROWS // factor) * factor  # whole blocks per band: the same averages as at once
    for y in range(0, height, step):
        band = _band_to_rgb(image.crop((0, y, width, min(height, y + step))), top)
        out.paste(band.reduce(factor) if factor > 1 else band, (0, y // factor))
    return out


def _high_depth_top(image: Image.Image) -> float:
    """The value that becomes white: 16-bit full scale, or 255 for wide modes holding 8-bit values."""
    if image.mode.startswith("I;16"):
        return 65535.0
    extrema = image.getextrema()
    return 65535.0 if isinstance(extrema, tuple) and float(extrema[1]) > 255 else 255.0


def _band_to_rgb(band: Image.Image, top: float) -> Image.Image:
    mode = band.mode
    if mode in HIGH_DEPTH_MODES:
        grey = np.asarray(band, dtype=np.float64)
        grey8 = np.clip(np.rint(grey * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey8).convert("RGB")
    if mode == "P":
        band = band.convert("RGBA" if "transparency" in band.info else "RGB")
    elif mode in ("LA", "PA", "La", "RGBa"):
        band = band.convert("RGBA")
    if band.mode == "RGBA":
        background = Image.new("RGB", band.size, (255, 255, 255))
        background.paste(band, mask=band.getchannel("A"))
        return background
    return band if band.mode == "RGB" else band.convert("RGB")


def _capture_time(image: Image.Image) -> datetime | None:
    """EXIF DateTimeOriginal (with OffsetTimeOriginal when present), else DateTime; None if absent."""
    try:
        exif = image.getexif()
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:
        return None
    raw = sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not isinstance(raw, str):
        return None
    try:
        stamp = datetime.strptime(raw.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(_OFFSET_TIME_ORIGINAL)
    if isinstance(offset, str) and len(offset.strip()) == 6:
        try:
            sign = -1 if offset.strip()[0] == "-" else 1
            hours, minutes = int(offset.strip()[1:3]), int(offset.strip()[4:6])
            stamp = stamp.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))
        except ValueError:
            pass
    return stamp


ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated JPEG is an error, not a grey half-photo
