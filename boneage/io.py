"""Decode uploaded files into one grayscale float image.

Everything downstream works on :class:`Radiograph`: a float32 array in [0, 1] where bright means
dense (bone), plus what we learnt while decoding. Decoding is defensive because uploads come from
the public internet: we check the pixel count before decoding pixels, refuse colour photographs
early, and turn every decoder failure into a typed :mod:`boneage.errors` exception.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from boneage.errors import (
    EmptyImageError,
    ImageTooLargeError,
    InvalidImageError,
    NotAHandRadiographError,
)

# 50 megapixels: a 16-bit CR plate is at most about 4k x 5k, i.e. 20 MP.
MAX_PIXELS = 50_000_000
MIN_SIDE = 64
MAX_FILE_BYTES = 64 * 1024 * 1024
# Mean absolute chroma (0-255 scale) above which an RGB upload is a colour photo, not an X-ray.
COLOUR_CHROMA_LIMIT = 12.0

ImageSource = str | os.PathLike | bytes | BinaryIO


@dataclass(frozen=True)
class Radiograph:
    """A decoded radiograph: float32 pixels in [0, 1], 2-D, bright = dense."""

    pixels: np.ndarray
    source_format: str
    bit_depth: int
    metadata: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape  # type: ignore[return-value]


def _read_bytes(source: ImageSource) -> bytes:
    if isinstance(source, bytes):
        data = source
    elif hasattr(source, "read"):
        data = source.read(MAX_FILE_BYTES + 1)
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidImageError(f"File not found: {path.name}")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ImageTooLargeError(_too_large_file_message())
        data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise ImageTooLargeError(_too_large_file_message())
    if not data:
        raise InvalidImageError("The file is empty (0 bytes). Please upload the X-ray image again.")
    return data


def _too_large_file_message() -> str:
    return f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB. Please upload a smaller image."


def is_dicom(data: bytes) -> bool:
    """DICOM Part 10 files carry 'DICM' after a 128-byte preamble."""
    return len(data) >= 132 and data[128:132] == b"DICM"


def load_radiograph(source: ImageSource, *, max_pixels: int = MAX_PIXELS) -> Radiograph:
    """Decode PNG, JPEG, TIFF, BMP (8 or 16 bit, grey, RGB or RGBA) or DICOM into a Radiograph.

    Raises:
        InvalidImageError: not an image, corrupt or truncated.
        ImageTooLargeError: more than ``max_pixels`` pixels or a file over the size limit.
        EmptyImageError: constant, all-black or tiny images.
        NotAHandRadiographError: a colour photograph.
    """
    data = _read_bytes(source)
    if is_dicom(data):
        from boneage.dicom import decode_dicom

        radiograph = decode_dicom(data, max_pixels=max_pixels)
    else:
        radiograph = _decode_raster(data, max_pixels=max_pixels)
    check_not_empty(radiograph.pixels)
    return radiograph


def _decode_raster(data: bytes, *, max_pixels: int) -> Radiograph:
    try:
        image = Image.open(io.BytesIO(data))
        check_pixel_count(*image.size, max_pixels=max_pixels)
        image.load()
        fmt = image.format or "unknown"
        image = ImageOps.exif_transpose(image)
    except ImageTooLargeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError("The image is too large to open safely.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImageError(
            "This file could not be read as an image. Please upload a PNG, JPEG or DICOM file "
            "of the hand X-ray."
        ) from exc
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    return Radiograph(pixels=_to_gray_float(image), source_format=fmt, bit_depth=_bit_depth(image))


def check_pixel_count(width: int, height: int, *, max_pixels: int) -> None:
    """Refuse before decoding: headers are read first, so a bomb never reaches memory."""
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"The image is {width} x {height} pixels; the limit is {max_pixels // 1_000_000} "
            "megapixels. Please upload a smaller export of the radiograph."
        )


def _bit_depth(image: Image.Image) -> int:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return 16
    if image.mode == "F":
        return 32
    return 8


def _to_gray_float(image: Image.Image) -> np.ndarray:
    """Convert any PIL mode to float32 [0, 1] grayscale; refuse colour photographs.

    Works in place where it can: a 50 MP upload must not cost gigabytes.
    """
    mode = image.mode
    if mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1", "LA"):
        image = image.convert("RGBA" if "A" in mode or mode == "P" else "RGB")
        mode = image.mode
    if mode in ("RGB", "RGBA"):
        array = np.asarray(image)
        gray = colour_to_gray(array[..., :3])
        if mode == "RGBA":
            gray *= array[..., 3] * np.float32(1 / 255)  # transparent areas become black background
        return gray
    if mode == "L":
        gray = np.asarray(image, dtype=np.float32)
        gray *= np.float32(1 / 255)
        return gray
    if mode.startswith("I;16") or mode == "I":
        gray = np.asarray(image).astype(np.float32)
        top = 65535.0 if mode.startswith("I;16") or gray.max() > 4095 else 4095.0
        gray *= np.float32(1 / top)
        return np.clip(gray, 0.0, 1.0, out=gray)
    if mode == "F":
        return rescale_to_unit(np.asarray(image, dtype=np.float32))
    raise InvalidImageError(f"Unsupported image mode {mode!r}.")


def colour_to_gray(rgb: np.ndarray, top: float = 255.0) -> np.ndarray:
    """(H, W, 3) integer RGB with maximum ``top`` to float32 luma in [0, 1]; refuse colour photos.

    Radiographs are often saved as RGB with three equal channels; a real colour image has
    chroma well above JPEG noise. The check runs on a subsample, the conversion per channel.
    """
    sample = rgb[:: _sample_step(rgb), :: _sample_step(rgb)].astype(np.float32) * np.float32(255.0 / top)
    chroma = float(np.abs(sample - sample.mean(axis=2, keepdims=True)).mean())
    if chroma > COLOUR_CHROMA_LIMIT:
        raise NotAHandRadiographError(
            "This looks like a colour photograph, not an X-ray. Please upload the radiograph "
            "of the left hand (a grayscale image)."
        )
    gray = np.zeros(rgb.shape[:2], np.float32)
    for channel, weight in enumerate((0.299, 0.587, 0.114)):
        gray += rgb[..., channel] * np.float32(weight / top)
    return np.clip(gray, 0.0, 1.0, out=gray)


def _sample_step(pixels: np.ndarray, target: int = 1_000_000) -> int:
    """Stride that leaves about ``target`` pixels: statistics without full-size copies."""
    height, width = pixels.shape[:2]
    return max(1, math.ceil(math.sqrt(height * width / target)))


def rescale_to_unit(array: np.ndarray) -> np.ndarray:
    """Min-max rescale to [0, 1]; non-finite values become 0."""
    array = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(array.min()), float(array.max())
    if high <= low:
        return np.zeros_like(array, dtype=np.float32)
    return ((array - low) / (high - low)).astype(np.float32)


def check_not_empty(pixels: np.ndarray) -> None:
    """Refuse images too small, constant, or nearly all black/white to hold a hand."""
    if pixels.ndim != 2:
        raise InvalidImageError("Expected a single grayscale image.")
    height, width = pixels.shape
    if min(height, width) < MIN_SIDE:
        raise EmptyImageError(
            f"The image is only {width} x {height} pixels. Please upload the full-resolution X-ray "
            f"(at least {MIN_SIDE} pixels on each side)."
        )
    sample = pixels[:: _sample_step(pixels), :: _sample_step(pixels)]
    if np.count_nonzero(sample >= 0.03) < 0.01 * sample.size:  # 99th percentile below 0.03
        raise EmptyImageError("The image is almost completely black. Please check the export.")
    if float(sample.std()) < 0.01:
        raise EmptyImageError("The image is blank (one flat colour). Please check the upload and try again.")
