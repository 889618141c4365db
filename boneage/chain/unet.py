"""A small U-Net that outlines the hand, and the segmenter that runs it on any radiograph.

The network sees the radiograph letterboxed to a small square (128 px by default) and returns a
hand probability per pixel; :class:`UNetSegmenter` maps that back to the input's own pixels.
Small on purpose: it runs before every prediction on a 2-core CPU, and the outline it must find
(hand against background) does not need fine detail. Weights ship like the bone-age model's
(safetensors + manifest with sha256, see :mod:`boneage.weights`) under ``weights/segmenter/``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from boneage.chain.network import ChainNetwork
from boneage.weights import DEFAULT_WEIGHTS_DIR, Manifest, ResolvedWeights

ARCHITECTURE = "hand-unet"
DEFAULT_SEGMENTER_DIR = DEFAULT_WEIGHTS_DIR / "segmenter"
SEGMENTER_ENV = "BONEAGE_SEGMENTER"


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class HandUNet(nn.Module):
    """Encoder-decoder with skip connections; (N, 1, S, S) grey in, (N, 1, S, S) logits out."""

    def __init__(self, channels: tuple[int, ...] = (8, 16, 32, 64, 128)):
        super().__init__()
        self.channels = tuple(channels)
        self.down = nn.ModuleList()
        c_prev = 1
        for c in channels:
            self.down.append(_block(c_prev, c))
            c_prev = c
        self.up = nn.ModuleList(
            _block(c_high + c_low, c_low)
            for c_high, c_low in zip(channels[:0:-1], channels[-2::-1], strict=True)
        )
        self.head = nn.Conv2d(channels[0], 1, 1)
        # Pose from the bottleneck: [mirrored logit, cos, sin of the in-plane rotation].
        self.pose = nn.Linear(channels[-1], 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mask logits (N, 1, S, S), pose (N, 3)): is it a mirrored (right) hand, how is it turned."""
        skips = []
        for index, block in enumerate(self.down):
            if index:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        pose = self.pose(x.mean(dim=(2, 3)))
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x), pose


def standardise(pixels: np.ndarray) -> np.ndarray:
    """Stretch the 1-99 % grey range to [0, 1]: exposure and bit depth stop mattering."""
    low, high = np.percentile(pixels, [1, 99])
    if high - low < 1e-6:
        return np.zeros_like(pixels, dtype=np.float32)
    return np.clip((pixels - low) / (high - low), 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class Letterbox:
    """Where an image of ``shape`` sits inside the ``size`` square (for mapping back)."""

    shape: tuple[int, int]
    size: int
    top: int
    left: int
    height: int
    width: int


def letterbox_for_unet(pixels: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Resize (area) so the longer side is ``size``, centred on black; no stretching."""
    height, width = pixels.shape
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(pixels, (new_w, new_h), interpolation=interpolation)
    canvas = np.zeros((size, size), np.float32)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas, Letterbox((height, width), size, top, left, new_h, new_w)


def unletterbox(probability: np.ndarray, box: Letterbox) -> np.ndarray:
    """The ``size`` square probability map back onto the original image's pixels (bilinear)."""
    inside = probability[box.top : box.top + box.height, box.left : box.left + box.width]
    height, width = box.shape
    return cv2.resize(inside, (width, height), interpolation=cv2.INTER_LINEAR)


class UNetSegmenter(ChainNetwork):
    """A loaded U-Net: ``segmenter(pixels) -> bool mask`` like :func:`segment_hand`."""

    architecture = ARCHITECTURE
    network = HandUNet
    what = "hand segmenter"
    env_var = SEGMENTER_ENV
    default_dir = DEFAULT_SEGMENTER_DIR
    graph_outputs = ("mask_logits", "pose")

    def __init__(self, model: HandUNet, manifest: Manifest, weights: ResolvedWeights | None = None):
        super().__init__(model, manifest, weights)
        self.size = manifest.input_size
        self.threshold = float(manifest.preprocess.get("threshold", 0.5))

    @torch.inference_mode()
    def analyse(self, pixels: np.ndarray) -> HandView:
        """Hand probability per input pixel and the hand's pose, in one pass."""
        square, box = letterbox_for_unet(standardise(pixels), self.size)
        logits, pose = self.forward(torch.from_numpy(square)[None, None])
        mirrored, cos, sin = pose[0].tolist()
        return HandView(
            probability=unletterbox(torch.sigmoid(logits)[0, 0].numpy(), box),
            mirrored_probability=float(torch.sigmoid(torch.tensor(mirrored))),
            rotation_degrees=float(np.degrees(np.arctan2(sin, cos))),
        )

    def probability(self, pixels: np.ndarray) -> np.ndarray:
        """Hand probability per input pixel, float32 in [0, 1], same shape as ``pixels``."""
        return self.analyse(pixels).probability

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return self.probability(pixels) > self.threshold


@dataclass(frozen=True)
class HandView:
    """What the U-Net sees in one image."""

    probability: np.ndarray  # float32, the input's shape
    mirrored_probability: float  # a right hand (or a left hand shown mirrored)
    rotation_degrees: float  # counter-clockwise turn from upright, fingers up


def outline(probability: np.ndarray, threshold: float = 0.5) -> tuple[np.ndarray, float]:
    """The hand's outline (largest part, holes filled) and the mean probability inside it."""
    from boneage.chain.segmentation import clean_mask

    mask = clean_mask(probability > threshold)
    return mask, float(probability[mask].mean()) if mask.any() else 0.0


def dice(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Dice overlap of two boolean masks (1.0 when both are empty)."""
    total = int(predicted.sum()) + int(truth.sum())
    return 1.0 if total == 0 else 2.0 * int((predicted & truth).sum()) / total


def iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    union = int((predicted | truth).sum())
    return 1.0 if union == 0 else int((predicted & truth).sum()) / union
