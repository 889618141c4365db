"""The chain's settings: one frozen dataclass, stored in every model's manifest.

A model learnt through one chain and must be served through the same one, so these settings
travel with its weights (``manifest.json``'s ``preprocess``); change them only by retraining.
The defaults are the chain the app serves; ``train.py`` offers each field as an option.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from boneage.chain.source import SourceTransform


def setting(default: Any = MISSING, *, help: str, factory: Any = MISSING, **how: Any) -> Any:
    """A settings field that a training script offers as an option (boneage.training.options).

    ``how``: ``flag`` (default ``--field-name``), ``choices``, ``metavar``, ``negate`` (the flag
    that switches a True default off), ``required``.
    """
    return field(default=default, default_factory=factory, metadata={"help": help, **how})


@dataclass(frozen=True)
class PreprocessConfig:
    """Settings of the chain. Stored in the weights manifest; change them only by retraining."""

    size: int = setting(384, help="model input side in pixels")
    # How the training images were formed; repeated on every input first (see boneage.chain.source).
    source_transform: SourceTransform | None = None
    crop_to_hand: bool = setting(True, help="do not crop to the hand", negate="--whole-image")
    # "unet": the learned hand outline and gate (boneage.chain.unet), as served; "classical":
    # thresholds and morphology, only where a chain names it (older models, tests).
    segmenter: str = setting(
        "unet",
        help="hand outline: the U-Net the app serves (with pose correction), or thresholds",
        choices=["unet", "classical"],
    )
    # Mirror right hands and turn sideways hands upright: with the U-Net only (see __post_init__).
    correct_pose: bool = True
    # After a U-Net outline, refuse films cut above the wrist (boneage.chain.wrist).
    check_wrist: bool = True
    crop_margin: float = 0.03
    mask_background: bool = setting(
        True, help="keep the background instead of blacking it", negate="--no-mask"
    )
    target_mean: float = 0.45
    clahe_clip: float = 2.0
    clahe_grid: int = 8
    median_kernel: int = setting(3, help="median denoise kernel of the chain (1: off)")
    sharpen_amount: float = setting(0.6, help="unsharp-mask amount of the chain (0: off)", flag="--sharpen")
    sharpen_sigma: float = 1.0
    min_hand_fraction: float = 0.05
    min_hand_contrast: float = 0.05  # share of the image's grey range; see boneage.chain.gate
    min_hand_contrast_full_scale: float = 0.01  # and in full-scale units: flat noise is no hand
    # U-Net gate, chosen on real hands against non-hand images (docs/segmentation.md):
    min_hand_confidence: float = 0.91  # mean hand probability inside the outline
    max_hand_solidity: float = 0.92  # outline area / its convex hull: fingers leave gaps, blobs do not
    # An outline with fewer than three clear gaps between fingers (boneage.chain.gate.finger_gaps)
    # needs the U-Net this sure of it: textures (the moon, a retina) and other scans (ultrasound,
    # MR) were outlined as fist-like blobs at 0.91-0.94.
    min_hand_confidence_few_fingers: float = 0.94
    # ... unless the wrist check sees a wrist beyond doubt in the square the model reads (missing
    # probability at most this): on such real films it was at most 0.003, on those scans 0.012+.
    max_wrist_missing_few_fingers: float = 0.005
    # Over-exposure: refuse when more than this share of the hand is burnt out at the image's
    # maximum (docs/segmentation.md). None: not checked.
    max_saturated_fraction: float | None = 0.1

    def __post_init__(self) -> None:
        if self.median_kernel > 1 and self.median_kernel % 2 == 0:
            raise ValueError(f"the median kernel must be odd (or 1 for none), not {self.median_kernel}")
        if self.segmenter not in ("unet", "classical"):
            raise ValueError(f"unknown segmenter {self.segmenter!r}")
        if self.segmenter != "unet":
            # The pose comes from the U-Net: a classical chain reads the film as it is.
            object.__setattr__(self, "correct_pose", False)

    @property
    def uses_unet(self) -> bool:
        return self.segmenter == "unet"

    @property
    def uses_wrist_check(self) -> bool:
        return self.segmenter == "unet" and self.check_wrist

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> PreprocessConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in values.items() if k in known}
        if isinstance(values.get("source_transform"), dict):
            values["source_transform"] = SourceTransform.from_dict(values["source_transform"])
        return cls(**values)
