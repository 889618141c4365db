"""How the training images were formed, repeated on every upload before the chain.

A model only knows the kind of picture it learnt from. The RSNA copies were made by squashing
each whole radiograph, aspect ratio not kept: ``rsna-train-100`` to 100 x 100 with Pillow's
nearest-neighbour resampling, ``rsna-train-299`` to 299 x 299 with Pillow's bilinear one. An
upload must be made the same way or the model sees a different kind of image. The manifest records this as ``source_transform``; ``None`` means the model was
trained on full-resolution radiographs and uploads go to the chain unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
from PIL import Image

# OpenCV's INTER_NEAREST_EXACT samples pixel centres like Pillow's NEAREST; INTER_NEAREST does not.
_RESAMPLING = {"nearest": cv2.INTER_NEAREST_EXACT, "area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR}
# Pillow's own filters. Its bilinear widens when it shrinks (every source pixel counts), unlike
# OpenCV's INTER_LINEAR, which samples 2 x 2 pixels and aliases on a 2000 -> 299 shrink: on a
# 1600 x 2080 radiograph they differ by 1.4 grey levels on average, INTER_AREA by 0.4, Pillow's
# float resize of the same image by 0.1 (its 8-bit resize rounds).
_PILLOW_RESAMPLING = {"pillow-bilinear": Image.Resampling.BILINEAR}


@dataclass(frozen=True)
class SourceTransform:
    """The whole radiograph resized to ``width`` x ``height`` (aspect not kept) with ``resample``."""

    width: int
    height: int
    resample: str = "nearest"
    keep_aspect: bool = False

    def __post_init__(self) -> None:
        known = {**_RESAMPLING, **_PILLOW_RESAMPLING}
        if self.resample not in known:
            raise ValueError(f"Unknown resampling {self.resample!r}; known: {', '.join(known)}")
        if self.keep_aspect:
            raise ValueError("Only aspect-changing squashes (keep_aspect=False) are supported.")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None) -> SourceTransform | None:
        return None if not values else cls(**values)

    def describe(self) -> str:
        return (
            f"whole radiograph resized to {self.width}x{self.height} px, aspect ratio not kept, "
            f"{self.resample} resampling"
        )


RSNA_TRAIN_100 = SourceTransform(width=100, height=100, resample="nearest")
RSNA_TRAIN_299 = SourceTransform(width=299, height=299, resample="pillow-bilinear")


def apply_source_transform(pixels: np.ndarray, transform: SourceTransform | None) -> np.ndarray:
    """Form ``pixels`` (float32 HxW) the way the model's training images were formed.

    An image that already has the target size is returned unchanged, so training images pass
    through this step bit for bit.
    """
    if transform is None or pixels.shape == (transform.height, transform.width):
        return pixels
    size = (transform.width, transform.height)
    if transform.resample in _PILLOW_RESAMPLING:
        image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.float32), mode="F")
        return np.asarray(image.resize(size, _PILLOW_RESAMPLING[transform.resample]), dtype=np.float32)
    return cv2.resize(pixels, size, interpolation=_RESAMPLING[transform.resample])
