"""Photo intake: every common encoding becomes upright 8-bit RGB; limits refuse with their own codes."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image

from posture.errors import ErrorCode, PostureError
from posture.intake import IntakeLimits, load_photo

from .conftest import BAD


def _gradient(w: int = 120, h: int = 90) -> np.ndarray:
    x = np.linspace(0, 255, w)[None, :, None]
    y = np.linspace(0, 255, h)[:, None, None]
    return np.concatenate([np.broadcast_to(x, (h, w, 1)), np.broadcast_to(y, (h, w, 1)),
                           np.full((h, w, 1), 128.0)], axis=2).astype(np.uint8)  # fmt: skip


def _encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


REFERENCE = _gradient()


@pytest.mark.parametrize(
    ("label", "make", "tolerance"),
    [
        ("png_rgb", lambda im: _encode(im, "PNG"), 0),
        ("jpeg", lambda im: _encode(im, "JPEG", quality=95), 6),
        ("webp_lossless", lambda im: _encode(im, "WEBP", lossless=True), 0),
        ("rgba_opaque", lambda im: _encode(im.convert("RGBA"), "PNG"), 0),
        ("cmyk_jpeg", lambda im: _encode(im.convert("CMYK"), "JPEG", quality=95), 12),
        (
            "palette",
            lambda im: _encode(im.convert("P", palette=Image.Palette.ADAPTIVE, colors=256), "PNG"),
            24,
        ),
    ],
)
def test_colour_encodings_become_rgb(label, make, tolerance):
    photo = load_photo(make(Image.fromarray(REFERENCE)))
    assert photo.rgb.dtype == np.uint8 and photo.rgb.shape == REFERENCE.shape
    assert np.abs(photo.rgb.astype(int) - REFERENCE).mean() <= tolerance, label


def test_heic_becomes_rgb():
    pillow_heif = pytest.importorskip("pillow_heif")
    heif = pillow_heif.from_pillow(Image.fromarray(REFERENCE))
    buf = io.BytesIO()
    heif.save(buf, quality=95)
    photo = load_photo(buf.getvalue())
    assert photo.format == "HEIF"
    assert photo.rgb.shape == REFERENCE.shape
    assert np.abs(photo.rgb.astype(int) - REFERENCE).mean() < 8


def test_greyscale_8_and_16_bit_become_rgb():
    grey = REFERENCE[:, :, 0]
    photo8 = load_photo(_encode(Image.fromarray(grey, "L"), "PNG"))
    assert np.array_equal(photo8.rgb[:, :, 0], grey) and np.array_equal(photo8.rgb[:, :, 2], grey)
    grey16 = (grey.astype(np.uint16) * 257).astype(np.uint16)
    photo16 = load_photo(_encode(Image.fromarray(grey16), "PNG"))
    assert np.abs(photo16.rgb[:, :, 1].astype(int) - grey).max() <= 1


def test_transparent_areas_become_white():
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[:, :20] = (255, 0, 0, 255)  # left half opaque red, right half fully transparent
    photo = load_photo(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert tuple(photo.rgb[10, 5]) == (255, 0, 0)
    assert tuple(photo.rgb[10, 35]) == (255, 255, 255)


def test_exif_orientation_is_applied_and_capture_time_read():
    image = Image.fromarray(REFERENCE)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display needs a 90° clockwise turn
    exif.get_ifd(0x8769)[0x9003] = "2026:10:01 07:30:00"
    exif.get_ifd(0x8769)[0x9011] = "+02:00"
    rotated = image.transpose(Image.Transpose.ROTATE_90)  # what a sideways phone stores
    photo = load_photo(_encode(rotated, "JPEG", quality=95, exif=exif))
    assert (photo.width, photo.height) == (120, 90)
    assert np.abs(photo.rgb.astype(int) - REFERENCE).mean() < 6
    assert photo.taken_at == datetime(2026, 10, 1, 7, 30, tzinfo=timezone(timedelta(hours=2)))


def test_large_jpeg_is_decoded_at_reduced_scale():
    big = Image.fromarray(np.asarray(Image.fromarray(REFERENCE).resize((4000, 3000))))
    photo = load_photo(_encode(big, "JPEG", quality=85), working_long_side_px=1280)
    assert (photo.width, photo.height) == (4000, 3000)
    # The decoder's 1/4 scale (1000×750) covers three quarters of the working size: used as is.
    assert 0.75 * 1280 <= max(photo.rgb.shape[:2]) <= 1280
    assert photo.scale == pytest.approx(max(photo.rgb.shape[:2]) / 4000)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("empty.jpg", ErrorCode.UNREADABLE_IMAGE),
        ("truncated.jpg", ErrorCode.UNREADABLE_IMAGE),
        ("not_an_image.jpg", ErrorCode.UNSUPPORTED_FORMAT),
        ("random_bytes.png", ErrorCode.UNSUPPORTED_FORMAT),
    ],
)
def test_bad_files_are_refused_with_codes(name, code):
    with pytest.raises(PostureError) as err:
        load_photo(BAD / name)
    assert err.value.code == code
    assert err.value.message


def test_other_formats_are_unsupported():
    with pytest.raises(PostureError) as err:
        load_photo(_encode(Image.fromarray(REFERENCE), "BMP"))
    assert err.value.code == ErrorCode.UNSUPPORTED_FORMAT


def test_limits_each_have_their_own_code(tmp_path):
    data = _encode(Image.fromarray(REFERENCE), "PNG")
    with pytest.raises(PostureError) as err:
        load_photo(data, limits=IntakeLimits(max_file_bytes=100))
    assert err.value.code == ErrorCode.FILE_TOO_LARGE
    path = tmp_path / "big.png"
    path.write_bytes(data)
    with pytest.raises(PostureError) as err:
        load_photo(path, limits=IntakeLimits(max_file_bytes=100))
    assert err.value.code == ErrorCode.FILE_TOO_LARGE
    with pytest.raises(PostureError) as err:
        load_photo(data, limits=IntakeLimits(max_pixels=1000))
    assert err.value.code == ErrorCode.IMAGE_TOO_LARGE


def test_decompression_bomb_is_refused_before_decoding():
    # A flat 8000×8000 PNG compresses to a few kB: far more pixels than its bytes can honestly hold.
    bomb = _encode(Image.new("L", (8000, 8000)), "PNG", optimize=True)
    assert len(bomb) < 100_000
    with pytest.raises(PostureError) as err:
        load_photo(bomb)
    assert err.value.code == ErrorCode.DECOMPRESSION_BOMB
