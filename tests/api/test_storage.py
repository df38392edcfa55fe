"""The file store and the stored photo copy."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from app.storage.files import FileKind, FileStore, sha256_hex
from posture.photo_copy import strip_metadata


def test_put_is_content_addressed_and_idempotent(tmp_path):
    store = FileStore(tmp_path)
    digest = store.put(FileKind.PHOTO, b"pixels")
    assert digest == sha256_hex(b"pixels")
    path = store.path(FileKind.PHOTO, digest)
    assert path == tmp_path / "photo" / digest[:2] / f"{digest}.jpg" and path.read_bytes() == b"pixels"
    assert store.put(FileKind.PHOTO, b"pixels") == digest
    store.remove(FileKind.PHOTO, digest)
    assert not store.exists(FileKind.PHOTO, digest)
    store.remove(FileKind.PHOTO, digest)  # removing twice is fine


def test_an_interrupted_write_leaves_nothing_behind(tmp_path, monkeypatch):
    store = FileStore(tmp_path)

    def crash(src, dst):
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.put(FileKind.OVERLAY, b"half")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_paths_accept_only_digests(tmp_path):
    with pytest.raises(ValueError):
        FileStore(tmp_path).path(FileKind.PHOTO, "../../etc/passwd")


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def test_strip_metadata_keeps_pixels_and_drops_everything_else():
    # A smooth, asymmetric picture: JPEG keeps it closely, and a wrong rotation would show.
    y, x = np.mgrid[0:30, 0:50]
    image = Image.fromarray(np.dstack([x * 5, y * 8, 255 - x * 3]).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90° counter-clockwise to view
    exif.get_ifd(0x8825).update({1: "S", 2: (33.0, 51.0, 0.0)})
    data = _encode(image, "JPEG", exif=exif, quality=95, icc_profile=b"\0" * 128, comment=b"secret")
    clean = strip_metadata(data)
    with Image.open(io.BytesIO(clean)) as out:
        assert out.format == "JPEG" and out.size == (30, 50) and out.mode == "RGB"
        assert len(out.getexif()) == 0
        assert not {"exif", "icc_profile", "comment", "xmp"} & set(out.info)
        upright = np.asarray(image.transpose(Image.Transpose.ROTATE_90), dtype=float)
        assert np.abs(np.asarray(out, dtype=float) - upright).mean() < 4  # same picture, JPEG noise


def test_strip_metadata_flattens_transparency_and_deep_greyscale():
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    with Image.open(io.BytesIO(strip_metadata(_encode(rgba, "PNG")))) as out:
        assert out.getpixel((4, 4)) > (240, 240, 240)  # transparent becomes white, not black
    grey16 = Image.fromarray(np.full((8, 8), 40000, dtype=np.uint16))
    with Image.open(io.BytesIO(strip_metadata(_encode(grey16, "PNG")))) as out:
        assert 150 < out.getpixel((4, 4))[0] < 160  # 40000/65535 of white, not clipped to 255
