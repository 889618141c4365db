"""Serving speed: fold each batch norm into the convolution before it.

In eval mode a batch norm is a fixed per-channel scale and shift, so it can be written into the
preceding convolution's weights and bias (``torch.nn.utils.fusion.fuse_conv_bn_eval``). The
network computes the same function without the norms' separate passes over memory, which on
the CPU is a large share of an answer's time (benchmarks/results/predict.json).

A convolution and a batch norm are folded when they are adjacent children of one module, the
order in which timm's EfficientNets register and call them. Because registration order is not
proof of data flow, the folded copy is checked against the original on a random input and
dropped if they disagree.
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

log = logging.getLogger(__name__)

FOLD_TOLERANCE_MONTHS = 1e-3


def fold_batch_norms(model: nn.Module, input_size: int = 256) -> nn.Module:
    """A copy of ``model`` (put in eval mode) with its batch norms folded; ``model``'s weights are
    untouched, so a caller can still save them.

    Returns ``model`` itself when there is nothing to fold, or when folding would change the
    output by more than ``FOLD_TOLERANCE_MONTHS`` (a layout this pairing does not understand).
    """
    model.eval()
    folded = copy.deepcopy(model)
    if _fold_children(folded) == 0:
        return model
    images = torch.rand(2, 1, input_size, input_size, generator=torch.Generator().manual_seed(0))
    male = torch.tensor([0.0, 1.0])
    with torch.inference_mode():
        difference = (model(images, male) - folded(images, male)).abs().max().item()
    if difference > FOLD_TOLERANCE_MONTHS:
        log.warning("Batch-norm folding changed the output by %.3g months; serving unfolded.", difference)
        return model
    return folded


def _fold_children(model: nn.Module) -> int:
    """Fold in place every (Conv2d, BatchNorm2d) pair of adjacent siblings; returns how many."""
    count = 0
    for parent in list(model.modules()):
        previous: tuple[str, nn.Conv2d] | None = None
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.BatchNorm2d) and previous is not None:
                conv_name, conv = previous
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, child))
                setattr(parent, name, _after_norm(child))
                count += 1
                previous = None
            else:
                previous = (name, child) if isinstance(child, nn.Conv2d) else None
    return count


def _after_norm(norm: nn.BatchNorm2d) -> nn.Module:
    """What the norm did besides normalising: timm's BatchNormAct2d also drops out and activates."""
    rest = [
        getattr(norm, part) for part in ("drop", "act") if isinstance(getattr(norm, part, None), nn.Module)
    ]
    return nn.Sequential(*rest) if rest else nn.Identity()
