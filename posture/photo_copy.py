"""The stored copy of an uploaded photo: upright pixels re-encoded as JPEG, with no metadata at all.

Re-encoding (rather than deleting EXIF tags) is the only way to be sure that GPS position, camera
serial numbers, embedded thumbnails and XMP are all gone: only pixels are copied.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

from . import intake  # noqa: F401  (registers the HEIC/HEIF opener)

JPEG_QUALITY = 90


def strip_metadata(data: bytes) -> bytes:
    """JPEG of the photo's pixels, EXIF orientation applied, transparency over white."""
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image)
        if upright.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
            upright = _high_depth_to_rgb(upright)
        elif upright.mode in ("RGBA", "LA", "PA", "P") and (
            upright.mode != "P" or "transparency" in upright.info
        ):
            rgba = upright.convert("RGBA")
            upright = Image.new("RGB", rgba.size, (255, 255, 255))
            upright.paste(rgba, mask=rgba.getchannel("A"))
        elif upright.mode != "RGB":
            upright = upright.convert("RGB")
        # A fresh image carries no `info`: nothing but pixels reaches the encoder.
        clean = Image.frombytes("RGB", upright.size, upright.tobytes())
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit and float greyscale scaled to 8 bits (Pillow's own conversion clips instead)."""
    grey = np.asarray(image, dtype=np.float64)
    top = 65535.0 if image.mode.startswith("I;16") or grey.max(initial=0) > 255 else 255.0
    grey8 = np.clip(np.rint(grey * (255.0 / top)), 0, 255).astype(np.uint8)
    return Image.fromarray(grey8).convert("RGB")
