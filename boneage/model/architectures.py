"""Bone-age regressors and the registry that maps a name to a constructor.

Every model takes ``(images, male)`` — images (N, 1, H, W) standardised by
:func:`boneage.model.inputs.to_model_input`, ``male`` (N,) as 0/1 floats — and returns bone age in
months (N,). The label mean and spread live in buffers, so a saved state dict is self-contained.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_TARGET_MEAN = 127.0  # RSNA training set: mean bone age ~127 months, sd ~41
DEFAULT_TARGET_STD = 41.0


class BoneAgeRegressor(nn.Module):
    """Base: predicts a standardised age and maps it back to months with stored label stats."""

    uses_sex: bool = True

    def __init__(self, target_mean: float = DEFAULT_TARGET_MEAN, target_std: float = DEFAULT_TARGET_STD):
        super().__init__()
        self.register_buffer("target_mean", torch.tensor(float(target_mean)))
        self.register_buffer("target_std", torch.tensor(float(target_std)))

    def forward_standardised(self, images: torch.Tensor, male: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, images: torch.Tensor, male: torch.Tensor) -> torch.Tensor:
        return self.forward_standardised(images, male) * self.target_std + self.target_mean


class SeedCNN(BoneAgeRegressor):
    """The original student model: four conv+ReLU+pool blocks, three dense layers, no sex input."""

    uses_sex = False

    def __init__(self, input_size: int = 224, dropout: float = 0.3, **kwargs):
        super().__init__(**kwargs)
        channels = [1, 32, 64, 128, 128]
        blocks: list[nn.Module] = []
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            blocks += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*blocks)
        flat = channels[-1] * (input_size // 16) ** 2
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, 256),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(256, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(128, 64),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(64, 1),
        )

    def forward_standardised(self, images: torch.Tensor, male: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images)).squeeze(1)


class TimmSexRegressor(BoneAgeRegressor):
    """A timm backbone (1 input channel) whose pooled features are joined with the child's sex.

    Sex enters after pooling through a small embedding: bone maturation differs by sex at every
    age (girls mature earlier), and published RSNA systems gain several months of MAE from it.
    """

    def __init__(
        self, backbone: str = "efficientnet_b0", dropout: float = 0.2, drop_path_rate: float = 0.1, **kwargs
    ):
        super().__init__(**kwargs)
        import timm

        self.backbone_name = backbone
        self.backbone = timm.create_model(
            backbone, pretrained=False, in_chans=1, num_classes=0, drop_path_rate=drop_path_rate
        )
        # MobileNetV3 has a conv head after pooling: its width, not num_features, is the output.
        features = getattr(self.backbone, "head_hidden_size", None) or self.backbone.num_features
        self.sex_embedding = nn.Sequential(nn.Linear(1, 32), nn.SiLU())
        self.head = nn.Sequential(
            nn.Linear(features + 32, 256), nn.SiLU(), nn.Dropout(dropout), nn.Linear(256, 1)
        )

    def forward_standardised(self, images: torch.Tensor, male: torch.Tensor) -> torch.Tensor:
        pooled = self.backbone(images)
        sex = self.sex_embedding(male.float().view(-1, 1))
        return self.head(torch.cat([pooled, sex], dim=1)).squeeze(1)


class BoneAgeEnsemble(BoneAgeRegressor):
    """The mean bone age of several trained regressors, each seeing the same processed image.

    Independently trained networks err partly independently: two of them averaged were 0.15
    months closer than either alone on validation (docs/model.md). Each member keeps its own
    label mean and spread; ``members`` is a list of ``{"architecture": name, **kwargs}``. A
    member that learnt at another input size says so with ``"resize_to": side``: the app runs
    the chain once, at the ensemble's size, and that member reads the image resized to its own
    side (which a 384 px network read as well as its own chain's output, docs/model.md). An
    ensemble is assembled from trained members, never trained as one.
    """

    def __init__(self, members: list[dict], **kwargs):
        super().__init__(**kwargs)
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two members")
        self.members = nn.ModuleList(
            create_model(spec["architecture"], **_member_kwargs(spec)) for spec in members
        )
        self.member_sides: list[int | None] = [spec.get("resize_to") for spec in members]
        self.uses_sex = any(member.uses_sex for member in self.members)

    def forward_standardised(self, images: torch.Tensor, male: torch.Tensor) -> torch.Tensor:
        return (self.forward(images, male) - self.target_mean) / self.target_std

    def forward(self, images: torch.Tensor, male: torch.Tensor) -> torch.Tensor:
        months = [
            member(resize_square(images, side), male)
            for member, side in zip(self.members, self.member_sides, strict=True)
        ]
        return torch.stack(months).mean(dim=0)


def _member_kwargs(spec: dict) -> dict:
    return {key: value for key, value in spec.items() if key not in ("architecture", "resize_to")}


def resize_square(images: torch.Tensor, side: int | None) -> torch.Tensor:
    """Images (N, C, H, W) resized to ``side`` x ``side`` (antialiased, so a reduction averages
    pixels as the chain's letterbox does); unchanged when ``side`` is None or already theirs."""
    if side is None or tuple(images.shape[-2:]) == (side, side):
        return images
    return F.interpolate(images, size=(side, side), mode="bilinear", antialias=True, align_corners=False)


# name -> (constructor, default keyword arguments)
_REGISTRY: dict[str, tuple[Callable[..., BoneAgeRegressor], dict]] = {
    "seed-cnn": (SeedCNN, {}),
    "efficientnet-b0-sex": (TimmSexRegressor, {"backbone": "efficientnet_b0"}),
    "mobilenetv3-sex": (TimmSexRegressor, {"backbone": "mobilenetv3_large_100"}),
    "efficientnet-lite0-sex": (TimmSexRegressor, {"backbone": "efficientnet_lite0"}),
    "efficientnet-lite1-sex": (TimmSexRegressor, {"backbone": "efficientnet_lite1"}),
    "timm-sex": (TimmSexRegressor, {}),
    "ensemble": (BoneAgeEnsemble, {}),
}


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def describe_architecture(name: str, kwargs: dict, input_size: int | None = None) -> str:
    """How a person reads an architecture: an ensemble names its members, joined by '+'.

    Members that read the image at different sizes carry their side in pixels. No words around
    the names: the result card shows this in every language.
    """
    if name != "ensemble":
        return name
    members = kwargs.get("members", [])
    if not any("resize_to" in spec for spec in members):
        return " + ".join(spec["architecture"] for spec in members)
    return " + ".join(f"{spec['architecture']} {spec.get('resize_to', input_size)} px" for spec in members)


def create_model(name: str, **kwargs) -> BoneAgeRegressor:
    """Build a registered model; ``kwargs`` override the registered defaults."""
    if name not in _REGISTRY:
        raise KeyError(f"Unknown model {name!r}; known models: {', '.join(list_models())}")
    constructor, defaults = _REGISTRY[name]
    return constructor(**{**defaults, **kwargs})
