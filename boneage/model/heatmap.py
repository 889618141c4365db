"""Where the model looked: Grad-CAM on the image the model saw.

Grad-CAM weights a convolutional layer's feature maps by the gradient of the predicted bone age
and keeps the positive part: regions whose features pushed the estimate. One forward and one
backward pass (tens of milliseconds on a CPU), so every result can carry it. The layer is the
deepest one with at least 1/16 of the input's resolution: at 128 px that is an 8 x 8 grid,
fine enough to tell the carpals from the fingers.

A heatmap shows what changed the number, not why; it is shown as an aid, never as a finding.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np
import torch
from torch import nn

from boneage.model.architectures import resize_square
from boneage.model.inputs import to_model_input

MIN_GRID_FRACTION = 1 / 16


def candidate_layers(model: nn.Module) -> list[nn.Module]:
    """Stages in forward order: a timm backbone's blocks, or a plain CNN's feature layers."""
    backbone = getattr(model, "backbone", None)
    if backbone is not None and hasattr(backbone, "blocks"):
        return list(backbone.blocks)
    features = getattr(model, "features", None)
    if isinstance(features, nn.Sequential):
        return [layer for layer in features if isinstance(layer, nn.MaxPool2d | nn.ReLU)]
    return [module for module in model.modules() if isinstance(module, nn.Conv2d)]


def grad_cam(model: nn.Module, image: np.ndarray, male: bool) -> np.ndarray:
    """A [0, 1] float map the size of ``image`` (the processed square the model saw).

    Safe while other threads run the same model: the hooks are this call's own and keep only
    the activations of this thread's forward pass. (Shared hooks once picked up another
    request's activations, made without gradients, and the request failed.) No global state
    is touched: gradients are enabled for this thread only.
    """
    size = image.shape[0]
    members = getattr(model, "members", None)
    if members is not None:  # an ensemble: where each member looked, equally weighted
        maps = [
            _resized(grad_cam(member, _resized(image, side or size), male), size)
            for member, side in zip(members, model.member_sides, strict=True)
        ]
        return _scaled_to_one(np.mean(maps, axis=0))
    outputs: list[torch.Tensor] = []
    caller = threading.get_ident()

    def keep(_module, _inputs, output) -> None:
        if threading.get_ident() == caller:
            outputs.append(output)

    handles = [layer.register_forward_hook(keep) for layer in candidate_layers(model)]
    try:
        with torch.enable_grad():
            inputs = to_model_input([image]).requires_grad_(True)
            months = model(inputs, torch.tensor([1.0 if male else 0.0]))
            usable = [o for o in outputs if o.ndim == 4 and o.shape[-1] >= size * MIN_GRID_FRACTION]
            if not usable:
                return np.zeros(image.shape, np.float32)
            activation = usable[-1]
            (gradient,) = torch.autograd.grad(months.sum(), activation)
    finally:
        for handle in handles:
            handle.remove()
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * activation).sum(dim=1))[0].detach().numpy()
    cam = cv2.resize(cam, (size, size), interpolation=cv2.INTER_CUBIC)
    return _scaled_to_one(np.clip(cam, 0, None))


def _resized(image: np.ndarray, side: int) -> np.ndarray:
    """A square float image at ``side`` pixels, resized as the ensemble resizes a member's input."""
    return resize_square(torch.from_numpy(image)[None, None], side)[0, 0].numpy()


def _scaled_to_one(heat: np.ndarray) -> np.ndarray:
    """A non-negative map divided by its peak (all zeros stays zeros), as float32."""
    return (heat / heat.max()).astype(np.float32) if heat.max() > 0 else np.zeros_like(heat, np.float32)


def overlay_heatmap(image: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The grey model view with the heatmap blended over it (RGB uint8)."""
    grey = cv2.cvtColor(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    colour = cv2.applyColorMap(np.round(heat * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    colour = cv2.cvtColor(colour, cv2.COLOR_BGR2RGB)
    weight = (alpha * heat)[..., None]
    return np.round(grey * (1 - weight) + colour * weight).astype(np.uint8)
