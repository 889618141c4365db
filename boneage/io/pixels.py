"""What every decoder hands on: :class:`Radiograph`, and the checks and conversions they share.

PNG/JPEG/TIFF (:mod:`boneage.io.decode`) and DICOM (:mod:`boneage.io.dicom`) both build on this
module and on nothing of each other's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from boneage.errors import EmptyImageError, ImageTooLargeError, InvalidImageError, NotAHandRadiographError

# 50 megapixels: a 16-bit CR plate is at most about 4k x 5k, i.e. 20 MP.
MAX_PIXELS = 50_000_000


MIN_SIDE = 64


# Mean absolute chroma (0-255 scale) above which an RGB upload is a colour photo, not an X-ray.
COLOUR_CHROMA_LIMIT = 12.0


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


def check_pixel_count(width: int, height: int, *, max_pixels: int) -> None:
    """Refuse before decoding: headers are read first, so a bomb never reaches memory."""
    if width * height > max_pixels:
        raise ImageTooLargeError(
            "too_many_pixels", width=width, height=height, megapixels=max_pixels // 1_000_000
        )


def colour_to_gray(rgb: np.ndarray, top: float = 255.0) -> np.ndarray:
    """(H, W, 3) integer RGB with maximum ``top`` to float32 luma in [0, 1]; refuse colour photos.

    Radiographs are often saved as RGB with three equal channels; a real colour image has
    chroma well above JPEG noise. The check runs on a subsample, the conversion per channel.
    """
    sample = rgb[:: _sample_step(rgb), :: _sample_step(rgb)].astype(np.float32) * np.float32(255.0 / top)
    chroma = float(np.abs(sample - sample.mean(axis=2, keepdims=True)).mean())
    if chroma > COLOUR_CHROMA_LIMIT:
        raise NotAHandRadiographError("colour_photo", chroma=round(chroma, 4))
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
        raise InvalidImageError("not_grayscale")
    height, width = pixels.shape
    if min(height, width) < MIN_SIDE:
        raise EmptyImageError("image_too_small", width=width, height=height, side=MIN_SIDE)
    sample = pixels[:: _sample_step(pixels), :: _sample_step(pixels)]
    if np.count_nonzero(sample >= 0.03) < 0.01 * sample.size:  # 99th percentile below 0.03
        raise EmptyImageError("image_black")
    if float(sample.std()) < 0.01:
        raise EmptyImageError("image_blank")


# The JPEG standard's example luminance quantisation table (Annex K), which the IJG library and
# Pillow scale by the quality setting. Only its sum is needed: the scale is the same everywhere.
_IJG_LUMINANCE_SUM = 3688


def jpeg_quality(quantization: dict | None) -> int | None:
    """The quality (1-100, as the IJG library and Pillow count it) a JPEG was saved at, from its
    luminance quantisation table; None when there is none.

    Encoders that use other tables (cameras, some editors) get the IJG quality whose table is as
    coarse on average, which is what matters here: how much detail the blocks threw away.
    """
    if not quantization:
        return None
    table = quantization.get(0) or next(iter(quantization.values()))
    scale = 100.0 * float(sum(table)) / _IJG_LUMINANCE_SUM  # IJG: 5000/q below 50, 200 - 2q above
    quality = 5000.0 / scale if scale > 100.0 else (200.0 - scale) / 2.0
    return int(round(min(100.0, max(1.0, quality))))
