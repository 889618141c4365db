"""The model's input: the chain's images, standardised with fixed constants.

Fixed, not per image, so that intensities keep their meaning after the chain has normalised
them; the weights learnt with these constants, so they change only with a retrained model.
"""

from __future__ import annotations

import numpy as np
import torch

INPUT_MEAN = 0.25
INPUT_STD = 0.25


def to_model_input(images: np.ndarray | list[np.ndarray]) -> torch.Tensor:
    """Stack processed images (H, W) in [0, 1] into a standardised (N, 1, H, W) float tensor."""
    batch = np.stack(images) if isinstance(images, list) else images
    if batch.ndim == 2:
        batch = batch[None]
    tensor = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))[:, None]
    return (tensor - INPUT_MEAN) / INPUT_STD
