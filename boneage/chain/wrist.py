"""The wrist check: does the chain's image still show the wrist, or was the film cut above it?

A film cut above the wrist still shows a hand, so the outline checks pass, but the carpal bones
and the end of the radius, which the model reads maturity from, are gone: such films were read
about two years too old, with no warning (docs/segmentation.md). No shape of the outline tells
the cases apart, since atlas plates end right at the wrist. So a small network looks at the
image the model will see, shrunk to :data:`CHECK_SIZE`, and says whether the wrist is in it.
It learnt from RSNA films and copies of them cut above and below the wrist
(``train_wrist_check.py``; :mod:`boneage.training.wrist`). Weights ship like the U-Net's
(safetensors + manifest with sha256) under ``weights/wrist-check/``.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from boneage.chain.network import ChainNetwork
from boneage.weights import DEFAULT_WEIGHTS_DIR, Manifest, ResolvedWeights

ARCHITECTURE = "wrist-check"
CHECK_SIZE = 128  # the wrist bones are large: this side keeps them, and the check costs a few ms
CHECK_MEAN, CHECK_STD = 0.25, 0.25  # fixed, as the model's input: the weights learnt with these
DEFAULT_WRIST_CHECK_DIR = DEFAULT_WEIGHTS_DIR / "wrist-check"
WRIST_CHECK_ENV = "BONEAGE_WRIST_CHECK"


def to_check_pixels(image: np.ndarray) -> np.ndarray:
    """The chain's image (float [0, 1], any side) as the check's uint8 input."""
    small = cv2.resize(image, (CHECK_SIZE, CHECK_SIZE), interpolation=cv2.INTER_AREA)
    return np.round(np.clip(small, 0.0, 1.0) * 255).astype(np.uint8)


def check_input(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, S, S) check pixels as the network's standardised (N, 1, S, S) input."""
    pixels = torch.from_numpy(np.asarray(images, dtype=np.float32) / 255.0)
    return ((pixels - CHECK_MEAN) / CHECK_STD).unsqueeze(1)


class WristCheckNet(nn.Module):
    """A timm backbone (1 input channel) and one logit: the wrist is missing."""

    def __init__(self, backbone: str = "efficientnet_lite0", dropout: float = 0.2):
        super().__init__()
        import timm

        self.backbone = timm.create_model(backbone, pretrained=False, in_chans=1, num_classes=0)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.backbone.num_features, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images)).squeeze(1)


class WristCheck(ChainNetwork):
    """A loaded check: ``missing_probability(image)`` for the chain's image, and its threshold."""

    architecture = ARCHITECTURE
    network = WristCheckNet
    what = "wrist check"
    env_var = WRIST_CHECK_ENV
    default_dir = DEFAULT_WRIST_CHECK_DIR
    graph_outputs = ("missing_logit",)
    size = CHECK_SIZE

    def __init__(self, model: WristCheckNet, manifest: Manifest, weights: ResolvedWeights | None = None):
        super().__init__(model.to(memory_format=torch.channels_last), manifest, weights)  # faster on CPU
        self.threshold = float(manifest.preprocess["threshold"])

    @torch.inference_mode()
    def missing_probability(self, image: np.ndarray) -> float:
        """How likely the wrist is missing from the chain's image (float [0, 1], any side)."""
        pixels = check_input(to_check_pixels(image)[None]).to(memory_format=torch.channels_last)
        logit = self.forward(pixels)
        return float(torch.sigmoid(logit)[0])

    def wrist_missing(self, image: np.ndarray) -> bool:
        return self.missing_probability(image) > self.threshold
