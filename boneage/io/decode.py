"""Decode uploaded files into one grayscale float image.

Everything downstream works on :class:`Radiograph`: a float32 array in [0, 1] where bright means
dense (bone), plus what we learnt while decoding. Decoding is defensive because uploads come from
the public internet: we check the pixel count before decoding pixels, refuse colour photographs
early, and turn every decoder failure into a typed :mod:`boneage.errors` exception.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from boneage.errors import ImageTooLargeError, InvalidImageError
from boneage.io.dicom import decode_dicom
from boneage.io.pixels import (
    MAX_PIXELS,
    Radiograph,
    check_not_empty,
    check_pixel_count,
    colour_to_gray,
    jpeg_quality,
    rescale_to_unit,
)

MAX_FILE_BYTES = 64 * 1024 * 1024

ImageSource = str | os.PathLike | bytes | BinaryIO


def _read_bytes(source: ImageSource) -> bytes:
    if isinstance(source, bytes):
        data = source
    elif hasattr(source, "read"):
        data = source.read(MAX_FILE_BYTES + 1)
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidImageError("file_not_found", name=path.name)
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ImageTooLargeError("file_too_large", megabytes=MAX_FILE_BYTES // (1024 * 1024))
        data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise ImageTooLargeError("file_too_large", megabytes=MAX_FILE_BYTES // (1024 * 1024))
    if not data:
        raise InvalidImageError("file_empty")
    return data


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
        quantization = getattr(image, "quantization", None) if fmt == "JPEG" else None
        image = ImageOps.exif_transpose(image)
    except ImageTooLargeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError("image_too_large_to_open") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImageError("not_an_image") from exc
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    # How coarsely a JPEG was compressed, from its own tables: a small upload is judged by it
    # (boneage.meaning.quality). Read before exif_transpose, which may return a copy without them.
    metadata = {"jpeg_quality": quality} if (quality := jpeg_quality(quantization)) is not None else {}
    return Radiograph(
        pixels=_to_gray_float(image), source_format=fmt, bit_depth=_bit_depth(image), metadata=metadata
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
    raise InvalidImageError("unsupported_mode", mode=mode)
