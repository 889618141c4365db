"""The preprocessing chain: one function, used by training, the app and evaluation alike.

    hand mask -> crop to the hand -> aspect-preserving letterbox -> mean-intensity normalisation
    -> CLAHE -> median denoise -> sharpen -> background masked to black

Each step is a small pure function so it can be tested alone; :func:`preprocess` chains them and
returns the processed image together with the mask, so the UI can show what the model saw.
The settings travel with the weights (``manifest.json``) so inference repeats training exactly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import cv2
import numpy as np
import torch

from boneage.chain.network import ChainNetwork
from boneage.chain.orientation import Orientation, border_pixels, normalise_polarity, orient_upright
from boneage.chain.segmentation import segment_hand
from boneage.chain.source import SourceTransform, apply_source_transform
from boneage.chain.unet import outline
from boneage.chain.wrist import shared_wrist_check
from boneage.errors import NotAHandRadiographError, WristMissingError

__all__ = ["border_pixels", "normalise_polarity"]  # re-exported: part of the chain's surface

# Model inputs are standardised with fixed constants (not per-image) so intensities keep meaning.
INPUT_MEAN = 0.25
INPUT_STD = 0.25
# Rows and columns at an image's edges within this range of grey levels count as a flat frame.
FRAME_TOLERANCE = 2 / 255
# A second outline at least this large against the largest is a second hand (both hands on one
# film). RSNA films: 3 of 12,010 above it, two of them both hands; single hands with a marker
# reach 0.30 (docs/segmentation.md).
MAX_SECOND_HAND_RATIO = 0.4
WRIST_MISSING_MESSAGE = (
    "The wrist seems to be missing from this image: the bone age is read from the wrist bones as "
    "well as the hand. Please upload the whole radiograph of the left hand and wrist."
)


@dataclass(frozen=True)
class PreprocessConfig:
    """Settings of the chain. Stored in the weights manifest; change them only by retraining."""

    size: int = 384
    # How the training images were formed; repeated on every input first (see boneage.chain.source).
    source_transform: SourceTransform | None = None
    crop_to_hand: bool = True  # False: the whole (formed) radiograph is letterboxed
    # "unet": the learned hand outline (boneage.chain.unet), falling back to "classical" when the
    # segmenter weights are not installed; "classical": thresholds and morphology.
    segmenter: str = "classical"
    correct_pose: bool = False  # mirror right hands and turn sideways hands upright (needs the U-Net)
    crop_margin: float = 0.03
    mask_background: bool = True
    target_mean: float = 0.45
    clahe_clip: float = 2.0
    clahe_grid: int = 8
    median_kernel: int = 3
    sharpen_amount: float = 0.6
    sharpen_sigma: float = 1.0
    min_hand_fraction: float = 0.05
    min_hand_contrast: float = 0.05  # share of the image's grey range; see hand_contrast
    min_hand_contrast_full_scale: float = 0.01  # and in full-scale units: flat noise is no hand
    # U-Net gate, chosen on real hands against non-hand images (docs/segmentation.md):
    min_hand_confidence: float = 0.91  # mean hand probability inside the outline
    max_hand_solidity: float = 0.92  # outline area / its convex hull: fingers leave gaps, blobs do not
    # Over-exposure: refuse when more than this share of the hand is burnt out at the image's
    # maximum (real films: under 4%; clipped exports: over 15%). None: not checked.
    max_saturated_fraction: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> PreprocessConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in values.items() if k in known}
        if isinstance(values.get("source_transform"), dict):
            values["source_transform"] = SourceTransform.from_dict(values["source_transform"])
        return cls(**values)


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
    segmenter: str = "classical"  # which segmenter outlined the hand (after any fallback)


def preprocess(
    pixels: np.ndarray, config: PreprocessConfig | None = None, check_wrist: bool = True
) -> PreprocessResult:
    """Run the whole chain on a float32 [0, 1] grayscale radiograph.

    The same function serves training, evaluation and the app. ``source_mask`` and ``crop_box``
    are given in the input's own pixels even when the source transform resized it first.
    ``check_wrist=False`` skips the wrist check: only for making the check's own training examples.

    Raises:
        NotAHandRadiographError: no hand-sized object was found, or it failed the gate (see
            :func:`locate_hand`), or the wrist check finds no wrist in the image
            (:mod:`boneage.chain.wrist`; when its weights are installed and the U-Net outlined the
            hand): then a :class:`WristMissingError`, a kind of NotAHandRadiographError.
    """
    config = config or PreprocessConfig()
    orientation, upright = Orientation(), None
    if config.correct_pose and (unet := _shared_unet()) is not None:
        pixels, orientation = orient_upright(pixels, unet)
        upright = pixels if orientation.changed else None
    input_shape = pixels.shape
    pixels = apply_source_transform(pixels, config.source_transform)
    found = locate_hand(pixels, config)
    pixels, source_mask, inverted = found.pixels, found.mask, found.inverted
    hand_fraction = float(source_mask.mean())
    if config.crop_to_hand:
        crop_box = bounding_box(source_mask, margin=config.crop_margin)
    else:
        crop_box = (0, 0, pixels.shape[1], pixels.shape[0])
    image = crop(pixels, crop_box)
    mask = crop(source_mask.astype(np.uint8), crop_box)
    image = letterbox(image, config.size, interpolation=cv2.INTER_AREA)
    mask = letterbox(mask, config.size, interpolation=cv2.INTER_NEAREST).astype(bool)
    image = normalise_intensity(image, mask, config.target_mean)
    image = apply_clahe(image, config.clahe_clip, config.clahe_grid)
    image = median_denoise(image, config.median_kernel)
    image = sharpen(image, config.sharpen_amount, config.sharpen_sigma)
    if config.mask_background:
        image = image * mask
    image = np.clip(image, 0.0, 1.0).astype(np.float32)
    if (
        check_wrist
        and found.segmenter == "unet"
        and (wrist := shared_wrist_check()) is not None
        and wrist.wrist_missing(image)
    ):
        raise WristMissingError(WRIST_MISSING_MESSAGE)
    if pixels.shape != input_shape:
        source_mask, crop_box = _to_input_pixels(source_mask, crop_box, input_shape)
    return PreprocessResult(
        image=image,
        mask=mask,
        source_mask=source_mask,
        crop_box=crop_box,
        hand_fraction=hand_fraction,
        inverted=inverted,
        orientation=orientation,
        upright=upright,
        segmenter=found.segmenter,
    )


def _to_input_pixels(
    mask: np.ndarray, box: tuple[int, int, int, int], shape: tuple[int, int]
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Map a mask and a box found on the source-transformed image back onto the input."""
    scale_y, scale_x = shape[0] / mask.shape[0], shape[1] / mask.shape[1]
    full = cv2.resize(mask.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    x0, y0, x1, y1 = box
    scaled = (
        int(round(x0 * scale_x)),
        int(round(y0 * scale_y)),
        int(min(shape[1], round(x1 * scale_x))),
        int(min(shape[0], round(y1 * scale_y))),
    )
    return full.astype(bool), scaled


@dataclass(frozen=True)
class FoundHand:
    """The hand as the gate accepted it."""

    pixels: np.ndarray  # bright bone on a dark background
    mask: np.ndarray
    inverted: bool
    segmenter: str  # "unet" or "classical"
    confidence: float | None  # U-Net: mean hand probability inside the outline


def find_hand(pixels: np.ndarray, config: PreprocessConfig) -> tuple[np.ndarray, np.ndarray, bool]:
    """Bright-on-dark pixels, the hand's mask and whether the input was inverted (see locate_hand)."""
    found = locate_hand(pixels, config)
    return found.pixels, found.mask, found.inverted


def locate_hand(pixels: np.ndarray, config: PreprocessConfig) -> FoundHand:
    """Polarity, the hand's outline, and the image gate: is this a usable hand radiograph?

    Raises:
        NotAHandRadiographError: no hand-sized object; an outline the U-Net is unsure of; more
            than one hand; or nothing that stands out from the background. The message says
            which, plainly.
    """
    pixels, inverted = normalise_polarity(pixels)
    unet = _shared_unet() if config.segmenter == "unet" else None
    confidence, hand_parts = None, None
    inside = film_area(pixels)  # a flat frame is the same whichever way the film is inverted
    if unet is not None:
        probability = unet.probability(pixels)
        hand_parts = (probability > unet.threshold) & inside
        mask, confidence = outline(probability, unet.threshold)
        if mask.any() and local_contrast(pixels, mask) < 0:
            # The border misled the polarity (a dark film photographed on a bright light box):
            # with the hand outlined, its own surroundings decide.
            pixels, inverted = (1.0 - pixels).astype(np.float32), not inverted
    else:
        mask = segment_hand(pixels)
    mask = mask & inside
    if float(mask.mean()) < config.min_hand_fraction:
        raise NotAHandRadiographError(
            "No hand could be found in this image. Please upload a radiograph of the whole left "
            "hand and wrist, palm down, on a dark background."
        )
    if confidence is not None and confidence < config.min_hand_confidence:
        raise NotAHandRadiographError(
            "This does not look clearly like a hand X-ray: the hand's outline could not be "
            "traced with confidence. Please upload the radiograph of the left hand and wrist."
        )
    if unet is not None and solidity(mask) > config.max_hand_solidity:
        raise NotAHandRadiographError(
            "This does not look like a hand: the object found has no fingers. Please upload the "
            "radiograph of the left hand and wrist, with the fingers spread."
        )
    if hand_parts is not None and second_hand_ratio(hand_parts) > MAX_SECOND_HAND_RATIO:
        raise NotAHandRadiographError(
            "This image seems to show more than one hand. Please upload the radiograph of the "
            "left hand only, or crop the image to the left hand first."
        )
    if (
        config.max_saturated_fraction is not None
        and saturated_fraction(pixels, mask) > config.max_saturated_fraction
    ):
        raise NotAHandRadiographError(
            "This X-ray is over-exposed: the bones are burnt out to white and their detail is lost. "
            "Please upload a properly exposed radiograph (or the original DICOM file)."
        )
    if unet is not None:
        # The U-Net outline is trusted: compare the hand with the film right around it, not
        # with a border that may be a bright surround.
        relative = local_contrast(pixels, mask)
        full_scale = local_contrast(pixels, mask, relative=False)
    else:
        relative, full_scale = hand_contrast(pixels, mask)
    if relative < config.min_hand_contrast or full_scale < config.min_hand_contrast_full_scale:
        raise NotAHandRadiographError(
            "This image has no object that stands out from the background like a hand on an "
            "X-ray. Please upload the radiograph of the left hand."
        )
    return FoundHand(pixels, mask, inverted, "unet" if unet is not None else "classical", confidence)


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


def chain_networks(config: PreprocessConfig) -> list[ChainNetwork]:
    """The chain's own networks that ``config`` runs, as this process shares them (the hand U-Net
    for the pose and the outline, the wrist check after a U-Net outline), those installed."""
    uses_unet = config.segmenter == "unet"
    unet = _shared_unet() if uses_unet or config.correct_pose else None
    wrist = shared_wrist_check() if uses_unet and unet is not None else None
    return [network for network in (unet, wrist) if network is not None]


def _shared_unet():
    """The installed U-Net, or None: then the classical segmenter is the fallback."""
    from boneage.chain.unet import shared_segmenter  # torch model: loaded only when asked for

    return shared_segmenter()


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


def bounding_box(mask: np.ndarray, margin: float = 0.0) -> tuple[int, int, int, int]:
    """Tight box (x0, y0, x1, y1), exclusive end, around ``mask``, grown by ``margin`` of its size."""
    height, width = mask.shape
    x0, y0, box_w, box_h = cv2.boundingRect(mask.astype(np.uint8))
    if box_w == 0 or box_h == 0:
        return 0, 0, width, height
    x1, y1 = x0 + box_w, y0 + box_h
    pad = int(round(margin * max(box_w, box_h)))
    return (
        int(max(0, x0 - pad)),
        int(max(0, y0 - pad)),
        int(min(width, x1 + pad)),
        int(min(height, y1 + pad)),
    )


def crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return image[y0:y1, x0:x1]


def letterbox(image: np.ndarray, size: int, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """Resize so the longer side is ``size`` and centre on a black square: no stretching."""
    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    canvas = np.zeros((size, size), dtype=image.dtype)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas


def normalise_intensity(image: np.ndarray, mask: np.ndarray, target_mean: float) -> np.ndarray:
    """Stretch the hand's 0.5-99.5 percentile range to [0, 1], then gamma so its mean is fixed.

    This removes exposure and scanner differences while keeping the order of intensities.
    """
    hand = image[mask] if mask.any() else image.ravel()
    low, high = np.percentile(hand, [0.5, 99.5])
    if high - low < 1e-6:
        return np.zeros_like(image, dtype=np.float32)
    stretched = np.clip((image - low) / (high - low), 0.0, 1.0).astype(np.float32)
    mean = float(stretched[mask].mean()) if mask.any() else float(stretched.mean())
    if 0.01 < mean < 0.99:
        gamma = np.log(target_mean) / np.log(mean)
        stretched = np.power(stretched, np.float32(gamma))
    return stretched.astype(np.float32)


def _to_uint16(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 65535).astype(np.uint16)


def apply_clahe(image: np.ndarray, clip_limit: float, grid: int) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation, at 16-bit precision."""
    if clip_limit <= 0:
        return image
    clahe = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(grid, grid))
    return clahe.apply(_to_uint16(image)).astype(np.float32) / 65535.0


def median_denoise(image: np.ndarray, kernel: int) -> np.ndarray:
    if kernel <= 1:
        return image
    return cv2.medianBlur(_to_uint16(image), kernel).astype(np.float32) / 65535.0


def sharpen(image: np.ndarray, amount: float, sigma: float) -> np.ndarray:
    """Unsharp mask: add back ``amount`` of the detail removed by a Gaussian blur."""
    if amount <= 0:
        return image
    blurred = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma)
    return np.clip(image + amount * (image - blurred), 0.0, 1.0).astype(np.float32)


def to_model_input(images: np.ndarray | list[np.ndarray]) -> torch.Tensor:
    """Stack processed images (H, W) in [0, 1] into a standardised (N, 1, H, W) float tensor."""
    batch = np.stack(images) if isinstance(images, list) else images
    if batch.ndim == 2:
        batch = batch[None]
    tensor = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))[:, None]
    return (tensor - INPUT_MEAN) / INPUT_STD
