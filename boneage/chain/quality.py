"""How readable an upload is at the model's scale: noise, JPEG blocks and the hand's size.

The chain stretches a low-contrast film to the full grey range, then applies CLAHE and
sharpening: on an upload that is small to begin with (a thumbnail, a forwarded image, a
screenshot of a viewer), noise grows into speckle and JPEG's 8 × 8 blocks into tiles, and the
networks read both as bone. Full-resolution uploads are safe: the squash to the model's source
size averages the noise and the blocks away. So the image is judged after that squash, on the
pixels the chain will stretch:

- **noise**: the standard deviation of the noise in grey levels, robustly from the median of a
  Laplacian-like filter (Immerkær's mask; the median ignores the film's own edges);
- **blockiness**: how much larger the steps between pixels are on JPEG's 8-pixel grid than
  elsewhere (about 1.2 on the training films, which are JPEG quality 92); reported, not judged:
  on clean films it overlaps what quality 60-75 gives. A JPEG is judged instead by the quality
  its own quantisation tables say it was saved at (``jpeg_quality``, read by ``io``), together
  with its size;
- **size**: the hand's longer side in the upload's own pixels (the crop box): about 270 in the
  training films; a thumbnail's hand is far smaller, a tight crop's is not.

The pixels are not changed (removing the noise or the blocks before the stretch was measured
and did not pay: docs/history/model.md). What each measurement costs the bone age is measured
per kind of upload by ``python -m boneage.cli.quality``; :mod:`boneage.meaning.quality` turns
it into an outcome: answered, answered with a caution and a wider interval, or refused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import cv2
import numpy as np

# Immerkær (1996): the difference of two Laplacians, blind to linear ramps; its response to
# white noise of standard deviation s has standard deviation 6 s.
_NOISE_MASK = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_MAD_TO_SD = 1.4826
JPEG_BLOCK = 8


@dataclass(frozen=True)
class UploadQuality:
    """What was measured on the upload, at the model's source size."""

    noise_grey_levels: float
    blockiness: float
    hand_px: int
    jpeg_quality: int | None = (
        None  # the file's own, from its tables (io.pixels.jpeg_quality); None: not a JPEG
    )

    def with_file(self, jpeg_quality: int | None) -> UploadQuality:
        """These measurements and what the file says of its compression (the chain sees only pixels)."""
        return replace(self, jpeg_quality=jpeg_quality)

    def to_dict(self) -> dict:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def noise_grey_levels(pixels: np.ndarray) -> float:
    """The noise's standard deviation in 8-bit grey levels (0 for a clean, smooth film)."""
    response = cv2.filter2D(pixels.astype(np.float32) * 255.0, -1, _NOISE_MASK)[1:-1, 1:-1]
    spread = np.median(np.abs(response - np.median(response)))
    return float(_MAD_TO_SD * spread / 6.0)


def blockiness(pixels: np.ndarray) -> float:
    """Mean step across JPEG's 8-pixel grid over the mean step elsewhere (1: no blocks)."""
    grey = pixels.astype(np.float32) * 255.0
    steps = [np.abs(np.diff(grey, axis=1)).mean(axis=0), np.abs(np.diff(grey, axis=0)).mean(axis=1)]
    grid = np.s_[JPEG_BLOCK - 1 :: JPEG_BLOCK]
    on_grid = np.concatenate([step[grid] for step in steps])
    elsewhere = np.concatenate([np.delete(step, grid) for step in steps])
    return float(on_grid.mean() / max(float(elsewhere.mean()), 1e-6))


def assess(formed: np.ndarray, crop_box: tuple[int, int, int, int]) -> UploadQuality:
    """The quality of an upload: measured on ``formed`` (the squash of it the chain works on),
    and the size of the hand's ``crop_box`` in the upload's own pixels."""
    x0, y0, x1, y1 = crop_box
    return UploadQuality(noise_grey_levels(formed), blockiness(formed), int(max(x1 - x0, y1 - y0)))
