"""The preprocessing chain: decoded pixels to the square image the model reads.

One :class:`Chain` serves training, evaluation and the app alike. It is built from a model's
settings (:class:`PreprocessConfig`, stored in its manifest) and owns the networks those name::

    pose (U-Net: mirror, turn upright) -> source transform (squash as the training images were)
    -> quality (noise, JPEG blocks, size: boneage.chain.quality) -> gate (polarity, outline, refusals: boneage.chain.gate) -> crop to the hand -> letterbox
    -> intensity normalisation -> CLAHE -> median denoise -> sharpen -> background mask
    -> wrist check (refuse a film cut above the wrist)

When the gate or the wrist check refuses a collimated film (a bright exposed field on a dark
surround), the same steps are tried once more inside the field, its contrast stretched; a film
read that way is marked (``in_field``) and answered with a caution.

The pixel steps are in :mod:`boneage.chain.imageops`. A chain whose settings name a network that
is not installed fails when it is built, never quietly runs another chain.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import cv2
import numpy as np

from boneage.chain.config import PreprocessConfig
from boneage.chain.gate import FIELD_MIN_SIDE_PX, FoundHand, collimated_field, locate_hand
from boneage.chain.imageops import (
    apply_clahe,
    bounding_box,
    crop,
    letterbox,
    median_denoise,
    normalise_intensity,
    sharpen,
    stretch_contrast,
    to_input_pixels,
)
from boneage.chain.network import ChainNetwork
from boneage.chain.orientation import Orientation, normalise_polarity, orient_upright
from boneage.chain.quality import UploadQuality, assess
from boneage.chain.source import apply_source_transform
from boneage.chain.unet import UNetSegmenter
from boneage.chain.wrist import WristCheck
from boneage.errors import NotAHandRadiographError, WristMissingError

__all__ = ["Chain", "PreprocessConfig", "PreprocessResult", "preprocess"]


@dataclass(frozen=True)
class PreprocessResult:
    """The processed square image, its mask, and where the hand was in the input."""

    image: np.ndarray  # float32 (size, size) in [0, 1]
    mask: np.ndarray  # bool (size, size): hand pixels of ``image``
    source_mask: np.ndarray  # bool, input resolution: the hand as found in the upload
    crop_box: tuple[int, int, int, int]  # x0, y0, x1, y1 in input pixels
    hand_fraction: float  # share of the input covered by the hand
    inverted: bool  # the input had a white background and was inverted
    orientation: Orientation = Orientation()  # mirrored / turned before the chain
    # The upload after that turn (None when it was used as it is): source_mask and crop_box
    # refer to this image then.
    upright: np.ndarray | None = None
    segmenter: str = "classical"  # which segmenter outlined the hand
    quality: UploadQuality | None = None  # noise, JPEG blocks and size, at the source size
    # The hand was found only on a second look, inside the film's collimated field: answered
    # with a caution (boneage.meaning.quality).
    in_field: bool = False


# Refusals worth a second look inside a collimated field: the outline's and the wrist check's,
# which a bright collimation rectangle on a dark surround can mislead; never a second hand or a
# burnt-out film.
RETRIED_IN_FIELD = frozenset({"outline_unsure", "no_hand", "no_fingers", "no_contrast", "wrist_missing"})


@dataclass(frozen=True)
class _Reading:
    """The gate's hand, the crop and the square the model reads."""

    found: FoundHand
    crop_box: tuple[int, int, int, int]
    image: np.ndarray
    mask: np.ndarray


class Chain:
    """A model's chain: its settings and the networks they name, loaded and owned here.

    Build it once (:meth:`load`) and run it on many images; it is safe to share between threads.
    """

    def __init__(
        self,
        config: PreprocessConfig | None = None,
        unet: UNetSegmenter | None = None,
        wrist: WristCheck | None = None,
    ):
        self.config = config or PreprocessConfig()
        if self.config.uses_unet and unet is None:
            raise ValueError("this chain's settings need the hand U-Net")
        if self.config.uses_wrist_check and wrist is None:
            raise ValueError("this chain's settings need the wrist check")
        self.unet = unet if self.config.uses_unet else None
        self.wrist = wrist if self.config.uses_wrist_check else None

    @classmethod
    def load(
        cls,
        config: PreprocessConfig | None = None,
        unet: str | os.PathLike | None = None,
        wrist: str | os.PathLike | None = None,
    ) -> Chain:
        """The chain for ``config``, with verified weights for each network it names.

        ``unet`` and ``wrist`` are folders; by default each network's environment variable
        (``BONEAGE_SEGMENTER``, ``BONEAGE_WRIST_CHECK``), else its folder under ``weights/``.

        Raises:
            ModelNotInstalledError: a network the settings name is not installed.
            WeightsIntegrityError: its weights fail their check.
        """
        config = config or PreprocessConfig()
        return cls(
            config,
            UNetSegmenter.load(unet) if config.uses_unet else None,
            WristCheck.load(wrist) if config.uses_wrist_check else None,
        )

    @classmethod
    def classical(cls, **settings) -> Chain:
        """The chain without networks: classical outline, no pose correction, no wrist check."""
        return cls(PreprocessConfig(segmenter="classical", correct_pose=False, **settings))

    @property
    def networks(self) -> dict[str, ChainNetwork]:
        """The chain's own networks by what they do: {"hand segmenter": ..., "wrist check": ...}."""
        return {network.what: network for network in (self.unet, self.wrist) if network is not None}

    def runtimes(self) -> dict[str, str]:
        """What answers for each network: {"wrist check": "onnxruntime 1.32.0", ...}."""
        return {what: network.runtime for what, network in self.networks.items()}

    def __call__(self, pixels: np.ndarray) -> PreprocessResult:
        return preprocess(pixels, self)


def preprocess(pixels: np.ndarray, chain: Chain) -> PreprocessResult:
    """Run the whole chain on a float32 [0, 1] grayscale radiograph.

    ``source_mask`` and ``crop_box`` are given in the input's own pixels even when the source
    transform resized it first.

    Raises:
        NotAHandRadiographError: the gate refused the image (:func:`boneage.chain.gate.locate_hand`),
            or, as a :class:`WristMissingError`, the wrist check finds no wrist in it.
    """
    config = chain.config
    orientation, upright = Orientation(), None
    if config.correct_pose and chain.unet is not None:
        pixels, orientation = orient_upright(pixels, chain.unet)
        upright = pixels if orientation.changed else None
    input_shape = pixels.shape
    pixels = apply_source_transform(pixels, config.source_transform)
    try:
        reading, in_field = _read(pixels, chain), False
    except NotAHandRadiographError as refusal:
        reading, in_field = _read_in_field(pixels, chain, refusal, input_shape), True
    found, crop_box = reading.found, reading.crop_box
    source_mask = found.mask
    if found.pixels.shape != input_shape:
        source_mask, crop_box = to_input_pixels(source_mask, crop_box, input_shape)
    quality = assess(found.pixels, crop_box)  # the hand's size in the upload's own pixels
    return PreprocessResult(
        image=reading.image,
        mask=reading.mask,
        source_mask=source_mask,
        crop_box=crop_box,
        hand_fraction=float(found.mask.mean()),
        inverted=found.inverted,
        orientation=orientation,
        upright=upright,
        segmenter=found.segmenter,
        quality=quality,
        in_field=in_field,
    )


def _read(pixels: np.ndarray, chain: Chain) -> _Reading:
    """The gate, the crop, the square and the wrist check, on the source-transformed image."""
    config = chain.config
    found = locate_hand(pixels, config, chain.unet)
    crop_box = (
        bounding_box(found.mask, margin=config.crop_margin)
        if config.crop_to_hand
        else (0, 0, found.pixels.shape[1], found.pixels.shape[0])
    )
    image, mask = _square(found.pixels, found.mask, crop_box, config)
    if (
        chain.wrist is not None
        and (missing := chain.wrist.missing_probability(image)) > chain.wrist.threshold
    ):
        raise WristMissingError(probability=round(missing, 4))
    return _Reading(found, crop_box, image, mask)


def _read_in_field(
    pixels: np.ndarray, chain: Chain, refusal: NotAHandRadiographError, input_shape: tuple[int, ...]
) -> _Reading:
    """A second look, inside a collimated film's exposed field, with its contrast stretched.

    A bright collimation rectangle on a dark surround misleads the outline (and then the wrist
    check) on films a radiologist reads without trouble. Only a refusal of those kinds is
    retried, only where a field is found (:func:`boneage.chain.gate.collimated_field`) at least
    ``FIELD_MIN_SIDE_PX`` of the upload's pixels long, with
    every check the first look makes; otherwise the first refusal stands. Films the first look
    accepts never come here, so their answers are unchanged.
    """
    if chain.unet is None or refusal.code not in RETRIED_IN_FIELD:
        raise refusal
    polar, inverted = normalise_polarity(pixels)
    if (box := collimated_field(polar)) is None:
        raise refusal
    x0, y0, x1, y1 = box
    side = max((x1 - x0) * input_shape[1] / pixels.shape[1], (y1 - y0) * input_shape[0] / pixels.shape[0])
    if side < FIELD_MIN_SIDE_PX:  # too few of the upload's own pixels to read the hand well
        raise refusal
    try:
        inner = _read(stretch_contrast(polar[y0:y1, x0:x1]), chain)
    except NotAHandRadiographError:
        raise refusal from None
    mask = np.zeros(polar.shape, bool)
    mask[y0:y1, x0:x1] = inner.found.mask
    found = replace(
        inner.found, pixels=polar, mask=mask, inverted=inverted != inner.found.inverted,
        segmenter=f"{inner.found.segmenter} in the collimated field",
    )  # fmt: skip
    cx0, cy0, cx1, cy1 = inner.crop_box
    return _Reading(found, (cx0 + x0, cy0 + y0, cx1 + x0, cy1 + y0), inner.image, inner.mask)


def _square(
    pixels: np.ndarray, hand: np.ndarray, box: tuple[int, int, int, int], config: PreprocessConfig
) -> tuple[np.ndarray, np.ndarray]:
    """The crop, letterboxed to the model's square and normalised; and the hand's mask in it."""
    image = letterbox(crop(pixels, box), config.size, interpolation=cv2.INTER_AREA)
    mask = letterbox(crop(hand.astype(np.uint8), box), config.size, interpolation=cv2.INTER_NEAREST)
    mask = mask.astype(bool)
    image = normalise_intensity(image, mask, config.target_mean)
    image = apply_clahe(image, config.clahe_clip, config.clahe_grid)
    image = median_denoise(image, config.median_kernel)
    image = sharpen(image, config.sharpen_amount, config.sharpen_sigma)
    if config.mask_background:
        image = image * mask
    return np.clip(image, 0.0, 1.0).astype(np.float32), mask
