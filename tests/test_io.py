from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from boneage.errors import EmptyImageError, ImageTooLargeError, InvalidImageError, NotAHandRadiographError
from boneage.io.decode import load_radiograph
from helpers import synthetic_hand


def _encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_8bit_png_is_float_in_unit_range():
    hand = synthetic_hand(100)
    radiograph = load_radiograph(_encode(Image.fromarray(hand)))
    assert radiograph.pixels.dtype == np.float32
    assert radiograph.shape == hand.shape
    assert radiograph.bit_depth == 8
    np.testing.assert_allclose(radiograph.pixels, hand / 255.0, atol=1e-6)


def test_16bit_png_keeps_its_depth(tmp_path):
    hand16 = synthetic_hand(100).astype(np.uint16) * 257
    path = tmp_path / "hand16.png"
    cv2.imwrite(str(path), hand16)
    radiograph = load_radiograph(path)
    assert radiograph.bit_depth == 16
    np.testing.assert_allclose(radiograph.pixels, hand16 / 65535.0, atol=1e-4)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA"])
def test_gray_content_in_colour_containers_is_accepted(mode):
    gray = Image.fromarray(synthetic_hand(100))
    radiograph = load_radiograph(_encode(gray.convert(mode)))
    assert radiograph.pixels.ndim == 2
    assert abs(float(radiograph.pixels.mean()) - np.asarray(gray).mean() / 255) < 0.01


def test_jpeg_decodes():
    radiograph = load_radiograph(_encode(Image.fromarray(synthetic_hand(100)), "JPEG", quality=90))
    assert radiograph.source_format == "JPEG"
    assert radiograph.pixels.shape == (400, 320)


def test_exif_orientation_is_applied():
    hand = Image.fromarray(synthetic_hand(100))  # 320 wide, 400 tall
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    radiograph = load_radiograph(_encode(hand, "JPEG", exif=exif))
    assert radiograph.shape == (320, 400)


def test_colour_photograph_is_refused():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)
    photo[..., 0] = 220  # strongly red
    with pytest.raises(NotAHandRadiographError, match="colour photograph"):
        load_radiograph(_encode(Image.fromarray(photo)))


@pytest.mark.parametrize(
    "payload, error",
    [
        (b"", InvalidImageError),
        (b"<html><script>alert(1)</script></html>", InvalidImageError),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, InvalidImageError),
    ],
)
def test_non_images_raise_typed_errors(payload, error):
    with pytest.raises(error):
        load_radiograph(payload)


def test_truncated_png_is_invalid():
    data = _encode(Image.fromarray(synthetic_hand(100)))
    with pytest.raises(InvalidImageError):
        load_radiograph(data[: len(data) // 2])


def test_pixel_limit_is_checked_before_decoding():
    big = Image.new("L", (3000, 3000))
    with pytest.raises(ImageTooLargeError, match="megapixels"):
        load_radiograph(_encode(big), max_pixels=1_000_000)


@pytest.mark.parametrize("value", [0, 255, 128])
def test_constant_images_are_empty(value):
    with pytest.raises(EmptyImageError):
        load_radiograph(_encode(Image.new("L", (300, 300), value)))


def test_nearly_black_image_is_empty():
    dark = np.zeros((300, 300), np.uint8)
    dark[::7, ::7] = 4
    with pytest.raises(EmptyImageError, match="black"):
        load_radiograph(_encode(Image.fromarray(dark)))


def test_tiny_image_is_refused():
    tiny = np.random.default_rng(0).integers(0, 255, (40, 30), dtype=np.uint8)
    with pytest.raises(EmptyImageError, match="pixels"):
        load_radiograph(_encode(Image.fromarray(tiny)))


def test_missing_file(tmp_path):
    with pytest.raises(InvalidImageError, match="not found"):
        load_radiograph(tmp_path / "nope.png")


def test_malloc_arena_cap_applies_on_glibc():
    """The server caps glibc malloc arenas (flat memory in the soak benchmark); elsewhere a no-op."""
    import platform
    import subprocess
    import sys

    code = "from boneage.web.runtime import limit_malloc_arenas; print(limit_malloc_arenas(2))"
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    ).stdout
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert out.strip() == str(glibc)
