"""How the training images were formed, repeated on every upload before the chain.

A model only knows the kind of picture it learnt from. The RSNA copy in ``rsna-train-100`` was
made by resizing each whole radiograph to 100 x 100 with Pillow's nearest-neighbour resampling,
aspect ratio not kept; an upload must be made the same way or the model sees a different kind
of image. The manifest records this as ``source_transform``; ``None`` means the model was
trained on full-resolution radiographs and uploads go to the chain unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

# OpenCV's INTER_NEAREST_EXACT samples pixel centres like Pillow's NEAREST; INTER_NEAREST does not.
_RESAMPLING = {"nearest": cv2.INTER_NEAREST_EXACT, "area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR}


@dataclass(frozen=True)
class SourceTransform:
    """The whole radiograph resized to ``width`` x ``height`` (aspect not kept) with ``resample``."""

    width: int
    height: int
    resample: str = "nearest"
    keep_aspect: bool = False

    def __post_init__(self) -> None:
        if self.resample not in _RESAMPLING:
            raise ValueError(f"Unknown resampling {self.resample!r}; known: {', '.join(_RESAMPLING)}")
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


def apply_source_transform(pixels: np.ndarray, transform: SourceTransform | None) -> np.ndarray:
    """Form ``pixels`` (float32 HxW) the way the model's training images were formed.

    An image that already has the target size is returned unchanged, so training images pass
    through this step bit for bit.
    """
    if transform is None or pixels.shape == (transform.height, transform.width):
        return pixels
    return cv2.resize(
        pixels, (transform.width, transform.height), interpolation=_RESAMPLING[transform.resample]
    )
