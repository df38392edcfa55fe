"""The stored copy of an uploaded photo: upright pixels re-encoded as JPEG, with no metadata at all.

Re-encoding (rather than deleting EXIF tags) is the only way to be sure that GPS position, camera
serial numbers, embedded thumbnails and XMP are all gone: only pixels are copied.

The copy is at most `STORED_LONG_SIDE_PX` on its long side (a 12-megapixel phone photo, 4032 px, is
kept at full size), and it is made without holding several full-size arrays: a JPEG is decoded at the
smallest DCT scale that still covers the stored size (a 64-megapixel JPEG at half size), RGB and
greyscale are scaled down straight from the decoded image, and other modes (alpha, palette, 16-bit)
are converted band by band while being box-reduced (`intake.to_rgb`). One upload's copy so costs tens
of megabytes beside the decoder's own buffers, not a gigabyte (docs/benchmarks.md, "Worker memory").
"""

from __future__ import annotations

import io

from PIL import Image

from .intake import exif_orientation, to_rgb, upright

JPEG_QUALITY = 90
STORED_LONG_SIDE_PX = 4096


def strip_metadata(data: bytes, *, long_side_px: int = STORED_LONG_SIDE_PX) -> bytes:
    """JPEG of the photo's pixels, EXIF orientation applied, transparency over white, at most
    `long_side_px` on its long side."""
    # No `with`: closing frees nothing sooner, and each step drops its input as soon as it is done.
    image = Image.open(io.BytesIO(data))
    if image.format in ("JPEG", "MPO") and max(image.size) > long_side_px:
        # Decode at 1/2, 1/4 or 1/8 scale when that still covers the stored size.
        image.draft("RGB", _bounded(image.size, long_side_px))
    image.load()
    orientation = exif_orientation(image)
    if image.mode in ("RGB", "L"):
        target = _bounded(image.size, long_side_px)
        if target != image.size:
            # reducing_gap: a cheap whole-factor box reduction first when far larger, then Lanczos.
            image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        image = to_rgb(image)
    else:  # converted in bands with a box average, at most long_side_px
        image = to_rgb(image, -(-max(image.size) // long_side_px))
    image = upright(image, orientation)
    # A fresh image carries no `info`: nothing but pixels reaches the encoder.
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    del image
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _bounded(size: tuple[int, int], long_side_px: int) -> tuple[int, int]:
    scale = min(1.0, long_side_px / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
