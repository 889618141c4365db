"""The preprocessing chain: decoded pixels to the square image the model reads.

One :class:`Chain` serves training, evaluation and the app alike. It is built from a model's
settings (:class:`PreprocessConfig`, stored in its manifest) and owns the networks those name::

    pose (U-Net: mirror, turn upright) -> source transform (squash as the training images were)
    -> quality (noise, JPEG blocks, size: boneage.chain.quality) -> gate (polarity, outline, refusals: boneage.chain.gate) -> crop to the hand -> letterbox
    -> intensity normalisation -> CLAHE -> median denoise -> sharpen -> background mask
    -> wrist check (refuse a film cut above the wrist)

When the gate or the wrist check refuses a film, it gets a second look: the whole chain runs
once more on a collimated film's exposed field (a bright rectangle on a dark surround), cut out
and turned square, its contrast stretched; or, where the outline alone was doubted, on the image
with a margin of its own background around it. A film read that way is marked
(``second_look``) and answered with a caution.

The pixel steps are in :mod:`boneage.chain.imageops`. A chain whose settings name a network that
is not installed fails when it is built, never quietly runs another chain.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace

import cv2
import numpy as np

from boneage.chain.config import PreprocessConfig
from boneage.chain.gate import FIELD_MIN_SIDE_PX, FoundHand, collimated_field, doubtful_fingers, locate_hand
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
    with_margin,
)
from boneage.chain.network import ChainNetwork
from boneage.chain.orientation import Orientation, normalise_polarity, orient_upright
from boneage.chain.quality import UploadQuality, assess
from boneage.chain.source import apply_source_transform
from boneage.chain.unet import UNetSegmenter
from boneage.chain.wrist import WristCheck
from boneage.errors import NotAHandRadiographError, UnreadableUploadError, WristMissingError

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
    # The image the hand was found in when it is not the upload itself (None when it is): the
    # upload after that turn, or a second look's view of it. source_mask and crop_box refer to it.
    upright: np.ndarray | None = None
    segmenter: str = "classical"  # which segmenter outlined the hand
    quality: UploadQuality | None = None  # noise, JPEG blocks and size, at the source size
    # The hand was found only on a second look (boneage.chain.preprocess._second_look): "field",
    # inside the film's collimated field; "margin", with a margin of background added around an
    # image cropped close to the hand. Answered with a caution (boneage.meaning.quality).
    second_look: str | None = None


# Refusals worth a second look: the outline's and the wrist check's, which a bright collimation
# rectangle on a dark surround can mislead; never a second hand or a burnt-out film.
RETRIED_ON_SECOND_LOOK = frozenset(
    {"outline_unsure", "no_hand", "no_fingers", "no_contrast", "wrist_missing"}
)
# Refusals of the outline alone, retried with a margin around the image (a hand cropped close).
RETRIED_WITH_MARGIN = frozenset({"outline_unsure", "no_fingers"})
MARGIN_SHARE = 0.1  # of each side, added on each side
# A margin makes outlines surer, of textures too (a crop of the moon passed with one): a hand
# found so must be beyond doubt, sure and with its fingers apart.
MARGIN_MIN_CONFIDENCE = 0.95
# How the segmenter is named for a hand found on a second look (the API's image.segmenter).
SECOND_LOOKS = {"field": "in the collimated field", "margin": "with a margin around the image"}


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
    transform resized it first (or in ``upright``, when the chain read another image of it).

    Raises:
        NotAHandRadiographError: the gate refused the image (:func:`boneage.chain.gate.locate_hand`),
            or, as a :class:`WristMissingError`, the wrist check finds no wrist in it.
        UnreadableUploadError: ``film_too_small``: refused so, the image holds a collimated film
            too small to read (see :func:`_second_look`).
    """
    try:
        return _first_look(pixels, chain)
    except NotAHandRadiographError as refusal:
        return _second_look(pixels, chain, refusal)


def _first_look(pixels: np.ndarray, chain: Chain, transform: bool = True) -> PreprocessResult:
    """Pose, source transform, gate, crop, square and wrist check, on the upload as it is.

    ``transform=False``: the pixels were source-transformed already (a second look at a part
    of the image the chain formed): they are not squashed again.
    """
    config = chain.config
    orientation, upright = Orientation(), None
    if config.correct_pose and chain.unet is not None:
        pixels, orientation = orient_upright(pixels, chain.unet)
        upright = pixels if orientation.changed else None
    input_shape = pixels.shape
    reading = _read(apply_source_transform(pixels, config.source_transform) if transform else pixels, chain)
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
    missing = chain.wrist.missing_probability(image) if chain.wrist is not None else None
    if missing is not None and missing > chain.wrist.threshold:
        raise WristMissingError(probability=round(missing, 4))
    if (doubt := doubtful_fingers(found, config)) is not None and (
        missing is None or missing > config.max_wrist_missing_few_fingers
    ):  # a texture outlined as a fist; a real hand's wrist is clear to the wrist check
        raise NotAHandRadiographError("no_fingers", **doubt)
    return _Reading(found, crop_box, image, mask)


def _second_look(pixels: np.ndarray, chain: Chain, refusal: NotAHandRadiographError) -> PreprocessResult:
    """The whole chain once more, on another view of the image the chain formed: a collimated
    film's exposed field (the box around it, else the field turned square), or the image with a
    margin of its own background around it; the first view that passes every check is read.

    A bright collimation rectangle on a dark surround, often turned in the frame, misleads the
    pose, the outline and then the wrist check on films a radiologist reads without trouble; a
    hand cropped close, its fingers at the image's edge, leaves the U-Net's outline unsure
    (atlas plate M24). Only refusals of those kinds are retried, with every check the first look
    makes; otherwise the first refusal stands. A field under ``FIELD_MIN_SIDE_PX`` of the
    upload's own pixels is refused as too small to read (:class:`UnreadableUploadError`), which
    says what to upload instead. Films the first look accepts never come here, so their answers
    are unchanged. The result's ``upright`` is the view as read, in the formed image's pixels;
    its noise is given at the upload's contrast.
    """
    if chain.unet is None or refusal.code not in RETRIED_ON_SECOND_LOOK:
        raise refusal
    formed = apply_source_transform(pixels, chain.config.source_transform)
    polar, inverted = normalise_polarity(formed)
    read = _first_view_read(_second_views(polar, pixels.shape, refusal), chain)
    if read is None:
        raise refusal
    look, inner, cut, span = read
    quality = inner.quality
    if quality is not None:  # the stretch scaled the noise along with the film
        quality = replace(quality, noise_grey_levels=quality.noise_grey_levels * span)
    return replace(
        inner,
        upright=inner.upright if inner.upright is not None else cut,
        inverted=inverted != inner.inverted,
        segmenter=f"{inner.segmenter} {SECOND_LOOKS[look]}",
        quality=quality,
        second_look=look,
    )


def _first_view_read(
    views: Iterator[tuple[str, np.ndarray]], chain: Chain
) -> tuple[str, PreprocessResult, np.ndarray, float] | None:
    """The first view whose stretched pixels pass every check: (its look, the result, the
    pixels read, the stretch's span); None when none does. A field is read with the pose
    correction, then without it: the field is the film's own frame, and the hand lies upright
    in it more often than the pose head, turning it by 40° (RSNA film 1973), would have it."""
    for look, view in views:
        cut, span = stretch_contrast(view)
        for variant in (_strict(chain),) if look == "margin" else (chain, _without_pose(chain)):
            try:
                return look, _first_look(cut, variant, transform=False), cut, span
            except NotAHandRadiographError:
                continue
    return None


def _strict(chain: Chain) -> Chain:
    """The same networks with the outline checks a hand found with a margin must pass."""
    config = replace(
        chain.config, min_hand_confidence=MARGIN_MIN_CONFIDENCE, min_hand_confidence_few_fingers=1.0
    )
    return Chain(config, chain.unet, chain.wrist)


def _without_pose(chain: Chain) -> Chain:
    """The same networks and checks, the upload read as it lies."""
    return Chain(replace(chain.config, correct_pose=False), chain.unet, chain.wrist)


def _second_views(
    polar: np.ndarray, upload_shape: tuple[int, ...], refusal: NotAHandRadiographError
) -> Iterator[tuple[str, np.ndarray]]:
    """("field" | "margin", a view of the formed image) in the order the second look tries them."""
    field = collimated_field(polar)
    if field is not None:
        scale = max(upload_shape[0] / polar.shape[0], upload_shape[1] / polar.shape[1])
        if field.longer_side * scale < FIELD_MIN_SIDE_PX:  # a thumbnail of a film: too few pixels
            raise UnreadableUploadError("film_too_small", side=round(field.longer_side * scale)) from refusal
        for view in field.views(polar):
            yield "field", view
    if refusal.code in RETRIED_WITH_MARGIN:
        yield "margin", with_margin(polar, MARGIN_SHARE)


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
