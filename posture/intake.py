"""Photo intake: bytes, path or PIL image in; an upright RGB working image out.

Handles JPEG, PNG, WebP and HEIC/HEIF; greyscale, palette, 16-bit, CMYK and alpha all become 8-bit RGB
(transparent areas over white). EXIF orientation is applied and the capture time read. Large JPEGs are
decoded at a reduced DCT scale, so a 12-megapixel photo never exists as a full-size array: the pose model
works on a 256 px crop and the silhouette needs far less than the camera's resolution.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import ErrorCode, PostureError

try:  # HEIC/HEIF (phones); optional at import so the rest keeps working without libheif.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    pillow_heif = None

DRAFT_FRACTION = 0.75
SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "HEIF", "MPO"})
PhotoSource = str | os.PathLike[str] | bytes | Image.Image

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_DATETIME = 0x0132


@dataclass(frozen=True)
class IntakeLimits:
    """Refusal limits. `bomb_pixels_per_byte` flags files that declare far more pixels than their
    compressed size can plausibly hold for a photograph (a decompression bomb)."""

    max_file_bytes: int = 40 * 1024 * 1024
    max_pixels: int = 64_000_000
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
    _check_size(image.size, n_bytes, limits)
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
        full_size = _upright_size(image, stored_size)
        image = ImageOps.exif_transpose(image)
        rgb = _to_rgb_array(image)
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


def _check_size(size: tuple[int, int], n_bytes: int | None, limits: IntakeLimits) -> None:
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


def _upright_size(image: Image.Image, stored_size: tuple[int, int]) -> tuple[int, int]:
    """Full-resolution size after EXIF orientation (`stored_size` is read before draft() shrinks it)."""
    w, h = stored_size
    try:
        orientation = image.getexif().get(0x0112, 1)
    except Exception:
        orientation = 1
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        grey = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or grey.max(initial=0) > 255 else 255.0
        grey8 = np.clip(np.rint(grey * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(grey8[:, :, None], 3, axis=2)
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    elif image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8)


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
