"""The image gate: is this a usable hand radiograph, and where is the hand?

:func:`locate_hand` sets the polarity (bright bone on a dark background), outlines the hand
(the U-Net, or the classical segmenter where a chain asks for it by name) and refuses what no
one can read: no hand-sized object, an outline the U-Net is unsure of, a blob with no fingers,
two hands, a burnt-out film, nothing that stands out from the background. Each refusal is a
:class:`~boneage.errors.NotAHandRadiographError` with its code and the measurement that failed.
The thresholds live in :class:`~boneage.chain.preprocess.PreprocessConfig` (chosen on real
hands against non-hand images: docs/segmentation.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from boneage.chain.config import PreprocessConfig
from boneage.chain.orientation import normalise_polarity
from boneage.chain.segmentation import segment_hand
from boneage.chain.unet import UNetSegmenter, outline
from boneage.errors import NotAHandRadiographError

# Rows and columns at an image's edges within this range of grey levels count as a flat frame.
FRAME_TOLERANCE = 2 / 255
# A second outline at least this large against the largest is a second hand (both hands on one
# film): the shipped threshold, chosen on the RSNA films (docs/segmentation.md).
MAX_SECOND_HAND_RATIO = 0.4
# A gap between two fingers: a dent in the outline's convex hull at least this deep, as a share
# of the square root of the outline's area (about 0.4-0.5 on spread hands); fewer than
# MIN_FINGER_GAPS of them asks for a surer outline (PreprocessConfig.min_hand_confidence_few_fingers).
FINGER_GAP_DEPTH = 0.3
MIN_FINGER_GAPS = 3
# A collimated film: the exposed field, a bright rectangle at any angle, on the dark, flat,
# unexposed surround. When the outline fails on the whole film it is tried again inside the
# field (boneage.chain.preprocess); these say what counts as one (docs/segmentation.md).
FIELD_SHARE = (0.08, 0.97)  # of the image
FIELD_RECTANGULARITY = 0.85  # its area over that of the smallest rectangle around it
FIELD_STEP = 0.06  # the field's median grey over the surround's, full scale
FIELD_SURROUND_SD = 0.08  # the surround is flat
FIELD_INSET = 0.015  # of each side, cut away with the field's blurred edge
# The field's longer side in the upload's own pixels: smaller fields are not read a second time.
# On 100 px films the second look was far off (docs/segmentation.md), as the size curve of
# boneage.meaning.quality would predict for so few pixels.
FIELD_MIN_SIDE_PX = 150


@dataclass(frozen=True)
class FoundHand:
    """The hand as the gate accepted it."""

    pixels: np.ndarray  # bright bone on a dark background
    mask: np.ndarray
    inverted: bool
    segmenter: str  # "unet" or "classical"
    confidence: float | None  # U-Net: mean hand probability inside the outline


def find_hand(
    pixels: np.ndarray, config: PreprocessConfig, unet: UNetSegmenter | None = None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Bright-on-dark pixels, the hand's mask and whether the input was inverted (see locate_hand)."""
    found = locate_hand(pixels, config, unet)
    return found.pixels, found.mask, found.inverted


def locate_hand(pixels: np.ndarray, config: PreprocessConfig, unet: UNetSegmenter | None) -> FoundHand:
    """Polarity, the hand's outline, and the image gate: is this a usable hand radiograph?

    ``unet`` outlines the hand; None runs the classical segmenter (a chain that names it).

    Raises:
        NotAHandRadiographError: no hand-sized object; an outline the U-Net is unsure of; more
            than one hand; a burnt-out film; or nothing that stands out from the background.
            Its code says which, its params the measurement.
    """
    pixels, inverted = normalise_polarity(pixels)
    inside = film_area(pixels)  # a flat frame is the same whichever way the film is inverted
    if unet is None:
        found, hand_parts = (
            FoundHand(pixels, segment_hand(pixels) & inside, inverted, "classical", None),
            None,
        )
    else:
        found, hand_parts = _unet_outline(pixels, inverted, inside, unet)
    _check_outline(found, config)
    if hand_parts is not None and (second := second_hand_ratio(hand_parts)) > MAX_SECOND_HAND_RATIO:
        raise NotAHandRadiographError("two_hands", ratio=round(second, 3))
    _check_exposure_and_contrast(found, config)
    return found


def _unet_outline(
    pixels: np.ndarray, inverted: bool, inside: np.ndarray, unet: UNetSegmenter
) -> tuple[FoundHand, np.ndarray]:
    """The U-Net's outline, and every part it takes for hand (a second hand shows there)."""
    probability = unet.probability(pixels)
    hand_parts = (probability > unet.threshold) & inside
    mask, confidence = outline(probability, unet.threshold)
    if mask.any() and local_contrast(pixels, mask) < 0:
        # The border misled the polarity (a dark film photographed on a bright light box):
        # with the hand outlined, its own surroundings decide.
        pixels, inverted = (1.0 - pixels).astype(np.float32), not inverted
    return FoundHand(pixels, mask & inside, inverted, "unet", confidence), hand_parts


def _check_outline(found: FoundHand, config: PreprocessConfig) -> None:
    share = float(found.mask.mean())
    if share < config.min_hand_fraction:
        raise NotAHandRadiographError("no_hand", hand_share=round(share, 4))
    if found.confidence is not None and found.confidence < config.min_hand_confidence:
        raise NotAHandRadiographError("outline_unsure", confidence=round(found.confidence, 4))
    if found.segmenter != "unet":
        return
    if (shape := solidity(found.mask)) > config.max_hand_solidity:
        raise NotAHandRadiographError("no_fingers", solidity=round(shape, 4))


def doubtful_fingers(found: FoundHand, config: PreprocessConfig) -> dict | None:
    """What makes the outline doubtful, or None: fewer than ``MIN_FINGER_GAPS`` clear gaps
    between fingers, and a U-Net not sure of it. The moon, a turned retina, an ultrasound and an
    MR slice were outlined so; so were real films with the fingers held together (about 5 in
    10,000), which the wrist check then tells apart (boneage.chain.preprocess)."""
    if found.segmenter != "unet" or found.confidence >= config.min_hand_confidence_few_fingers:
        return None
    if (gaps := finger_gaps(found.mask)) >= MIN_FINGER_GAPS:
        return None
    return {"finger_gaps": gaps, "confidence": round(found.confidence, 4)}


def _check_exposure_and_contrast(found: FoundHand, config: PreprocessConfig) -> None:
    pixels, mask = found.pixels, found.mask
    if config.max_saturated_fraction is not None:
        burnt = saturated_fraction(pixels, mask)
        if burnt > config.max_saturated_fraction:
            raise NotAHandRadiographError("over_exposed", saturated_share=round(burnt, 4))
    if found.segmenter == "unet":
        # The U-Net outline is trusted: compare the hand with the film right around it, not
        # with a border that may be a bright surround.
        relative = local_contrast(pixels, mask)
        full_scale = local_contrast(pixels, mask, relative=False)
    else:
        relative, full_scale = hand_contrast(pixels, mask)
    if relative < config.min_hand_contrast or full_scale < config.min_hand_contrast_full_scale:
        raise NotAHandRadiographError(
            "no_contrast", contrast=round(relative, 4), contrast_full_scale=round(full_scale, 4)
        )


def film_area(pixels: np.ndarray, tolerance: float = FRAME_TOLERANCE) -> np.ndarray:
    """True inside any flat frame around the image: the hand cannot lie on one.

    Viewers, screenshots and scanners pad a film with rows and columns of one grey level. A
    forearm that runs off the film into a white pad was outlined into it, and the pad's white
    then counted as burnt-out bone (atlas plates with a white border: 3 of 53 refused as
    over-exposed). Real film has noise: on the RSNA films the mask met a frame in 11 of 12,010,
    by at most 10 pixels.
    """
    top, bottom = _flat_edge_run(pixels, tolerance), _flat_edge_run(pixels[::-1], tolerance)
    left, right = _flat_edge_run(pixels.T, tolerance), _flat_edge_run(pixels.T[::-1], tolerance)
    inside = np.zeros(pixels.shape, dtype=bool)
    inside[top : pixels.shape[0] - bottom, left : pixels.shape[1] - right] = True
    return inside


def second_hand_ratio(binary: np.ndarray) -> float:
    """Area of the second-largest outline over the largest's (0 when there is one or none).

    The chain reads one hand. Given both hands side by side, it read one of them squashed to
    half its width (the whole film is squashed to a square): atlas plates put beside their
    mirror image moved by 7.9 months on average, with no warning.
    """
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    areas = np.sort(stats[1:, cv2.CC_STAT_AREA])[::-1]
    return float(areas[1] / areas[0]) if count > 2 else 0.0


def _flat_edge_run(lines: np.ndarray, tolerance: float) -> int:
    """How many lines from the first are each flat and of the first line's grey level."""
    levels = lines.mean(axis=1)
    flat = (lines.max(axis=1) - lines.min(axis=1) <= tolerance) & (np.abs(levels - levels[0]) <= tolerance)
    return len(flat) if flat.all() else int(np.argmin(flat))


def hand_contrast(pixels: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Mean intensity of the hand minus the background: (share of the image's grey range, full scale).

    Relative, not in full-scale units: many real radiographs use only a narrow band of grey
    levels (an underexposed film scanned dark), and their hand still stands out within it.
    The range is the 1st-99th percentile spread. Estimated on a regular subsample of about a
    megapixel: it is a gate, not a measurement.
    """
    step = max(1, math.ceil(math.sqrt(mask.size / 1_000_000)))
    pixels, mask = pixels[::step, ::step], mask[::step, ::step]
    if mask.all() or not mask.any():
        return 0.0, 0.0
    low, high = np.percentile(pixels, [1, 99])
    difference = float(pixels[mask].mean() - pixels[~mask].mean())
    return difference / max(float(high - low), 1e-6), difference


def saturated_fraction(pixels: np.ndarray, mask: np.ndarray) -> float:
    """Share of the hand's pixels within 1% of the image's brightest value."""
    hand = pixels[mask]
    return float(np.mean(hand >= float(pixels.max()) - 0.01)) if hand.size else 0.0


def finger_gaps(mask: np.ndarray) -> int:
    """How many clear gaps between fingers the largest outline has: dents in its convex hull
    deeper than ``FINGER_GAP_DEPTH`` times the square root of its area. A spread hand has four;
    a blob traced in a texture (the moon's craters, a retina's vessels) has one or two."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return 0
    largest = max(contours, key=cv2.contourArea)
    if len(largest) < 4:
        return 0
    try:
        dents = cv2.convexityDefects(largest, cv2.convexHull(largest, returnPoints=False))
    except cv2.error:  # a self-touching outline: its hull indices are not monotonic
        dents = None
    if dents is None:
        return 0
    depths = dents.reshape(-1, 4)[:, 3] / 256.0  # fixed point, 8 fractional bits
    return int(np.sum(depths > FINGER_GAP_DEPTH * math.sqrt(cv2.contourArea(largest))))


def solidity(mask: np.ndarray) -> float:
    """Area of the largest outline over the area of its convex hull (a disc: 1; a spread hand: ~0.7)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return 1.0
    largest = max(contours, key=cv2.contourArea)
    hull = cv2.contourArea(cv2.convexHull(largest))
    return float(cv2.contourArea(largest) / hull) if hull > 0 else 1.0


def local_contrast(pixels: np.ndarray, mask: np.ndarray, relative: bool = True) -> float:
    """Mean of the hand minus the mean of a ring of background around it.

    The ring is 4% of the image's longer side wide. ``relative``: as a share of the image's
    1-99% grey range (see :func:`hand_contrast` for why); otherwise in full-scale units.
    """
    radius = max(2, round(0.04 * max(mask.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    ring = cv2.dilate(mask.astype(np.uint8), kernel).astype(bool) & ~mask
    if not ring.any() or not mask.any():
        return 0.0
    difference = float(pixels[mask].mean() - pixels[ring].mean())
    if not relative:
        return difference
    low, high = np.percentile(pixels, [1, 99])
    return difference / max(float(high - low), 1e-6)


@dataclass(frozen=True)
class Field:
    """A collimated film's exposed field: a rectangle at any angle, in the image's pixels."""

    centre: tuple[float, float]  # x, y
    size: tuple[float, float]  # width, height along the field's own sides
    degrees: float  # the field's turn, within ±45° (cv2.minAreaRect's convention)
    bounds: tuple[int, int, int, int]  # x0, y0, x1, y1: the box around it, within the image

    @property
    def longer_side(self) -> float:
        return max(self.size)

    def views(self, pixels: np.ndarray) -> Iterator[np.ndarray]:
        """The field as the chain may read it: the box around it, then (when the field is
        turned) the field turned square. A field turned by 45° or running off the image reads
        better one way or the other (RSNA films 1973 and 12037)."""
        x0, y0, x1, y1 = self.bounds
        yield pixels[y0:y1, x0:x1]
        if abs(self.degrees) >= 1.0:
            yield self.cut(pixels)

    def cut(self, pixels: np.ndarray) -> np.ndarray:
        """The field, turned square to the image and cut out, a little inside its edges (which
        are blurred): the film as it lay in its cassette, without the surround."""
        (cx, cy), (width, height) = self.centre, self.size
        inset = 1.0 - 2 * FIELD_INSET
        width, height = max(1, round(width * inset)), max(1, round(height * inset))
        turn = cv2.getRotationMatrix2D((cx, cy), self.degrees, 1.0)
        turn[:, 2] += (width / 2 - cx, height / 2 - cy)
        return cv2.warpAffine(
            pixels, turn, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )


def collimated_field(pixels: np.ndarray) -> Field | None:
    """A collimated film's exposed field, or None when there is none: the largest region
    brighter than Otsu's threshold, nearly a rectangle at some angle, clearly brighter than a
    flat surround. Photographs, documents and screens rarely are one."""
    grey = (np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    _, binary = cv2.threshold(cv2.GaussianBlur(grey, (0, 0), 2), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    contour = max(contours, key=cv2.contourArea)
    area, (height, width) = cv2.contourArea(contour), grey.shape
    centre, (side_a, side_b), degrees = cv2.minAreaRect(contour)
    if not FIELD_SHARE[0] * height * width <= area <= FIELD_SHARE[1] * height * width:
        return None
    if area < FIELD_RECTANGULARITY * side_a * side_b:
        return None
    field = np.zeros_like(binary)
    cv2.drawContours(field, [contour], -1, 255, -1)
    inside, outside = pixels[field > 0], pixels[field == 0]
    if (
        float(np.median(inside) - np.median(outside)) < FIELD_STEP
        or float(np.std(outside)) > FIELD_SURROUND_SD
    ):
        return None
    if degrees > 45:  # the same rectangle, named by its other pair of sides: the smaller turn
        degrees, (side_a, side_b) = degrees - 90, (side_b, side_a)
    elif degrees < -45:
        degrees, (side_a, side_b) = degrees + 90, (side_b, side_a)
    x, y, w, h = cv2.boundingRect(contour)
    return Field(centre, (side_a, side_b), degrees, (x, y, x + w, y + h))
