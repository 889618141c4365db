"""Realistic training plates for the hand segmenter, made from hands with an exact mask.

``rsna-train-hires`` holds 38 real RSNA hands whose background was removed (exactly 0), so
``pixels > 0`` is an exact hand mask. Alone they are too clean to learn from: a real upload has a
grey, uneven background, collimation borders, cassette edges, L/R markers, rulers, noise, any
rotation, either hand, either polarity, and in ``rsna-train-100`` a 100x100 nearest squash.
:func:`render_plate` puts a hand on such a plate; the mask follows every geometric step, and
anything drawn over the hand removes it from the mask. :func:`render_negative` makes plates with
no hand (documents, blobs, bars, chest-like films) whose mask is empty, so that a bright blob or
a page of text is not outlined as a hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from boneage.chain.unet import letterbox_for_unet, standardise

PLATE_LONG_SIDE = 256


@dataclass(frozen=True)
class Hand:
    """A cut-out hand: grey levels in [0, 1] (0 outside) and its exact mask, cropped to the hand."""

    sample_id: str
    pixels: np.ndarray
    mask: np.ndarray


def load_hands(folder: Path, ids: list[str] | None = None, long_side: int = 384) -> list[Hand]:
    """Read background-removed hands (``images/<id>.png``), shrink them, crop each to its mask."""
    paths = sorted((Path(folder) / "images").glob("*.png"))
    hands = []
    for path in paths:
        if ids is not None and path.stem not in ids:
            continue
        grey = np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255.0
        scale = long_side / max(grey.shape)
        size = (round(grey.shape[1] * scale), round(grey.shape[0] * scale))
        mask = cv2.resize((grey > 0).astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        ys, xs = np.nonzero(mask)
        box = slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)
        hands.append(Hand(path.stem, (grey * mask)[box], mask[box]))
    return hands


def _background(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Film background: a base grey, a linear gradient, smooth blotches and grain."""
    height, width = shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / width + np.sin(angle) * yy / height).astype(np.float32)
    plate = rng.uniform(0.0, 0.45) + rng.uniform(0.0, 0.25) * ramp
    blotches = cv2.resize(
        rng.random((6, 6)).astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC
    )
    plate = plate + rng.uniform(0.0, 0.12) * blotches
    return plate.astype(np.float32)


def _place(
    hand: Hand, shape: tuple[int, int], rng: np.random.Generator, extent: float
) -> tuple[np.ndarray, np.ndarray, bool, float]:
    """Rotate, scale, maybe mirror and shift the hand onto a canvas of ``shape``.

    Returns the grey levels, the mask weight, whether it was mirrored and the rotation (degrees,
    counter-clockwise, as ``cv2.getRotationMatrix2D``).
    """
    pixels, mask = hand.pixels, hand.mask.astype(np.float32)
    if rng.random() < 0.6:  # the forearm runs on: the cut-out ends at the wrist, real films do not
        rows = int(rng.uniform(0.1, 0.6) * pixels.shape[0])
        pixels = np.concatenate([pixels, np.repeat(pixels[-2:-1], rows, axis=0)])
        mask = np.concatenate([mask, np.repeat(mask[-2:-1], rows, axis=0)])
    mirrored = bool(rng.random() < 0.5)
    if mirrored:  # a right hand, or a left hand shown mirrored
        pixels, mask = pixels[:, ::-1], mask[:, ::-1]
    height, width = shape
    angle = rng.uniform(-100, 100) if rng.random() < 0.3 else rng.normal(0, 12)
    squash = np.exp(rng.normal(0, 0.12))  # anisotropic: the RSNA squash stretches hands
    scale = extent * min(height, width * 1.3) / max(pixels.shape)
    centre = (pixels.shape[1] / 2, pixels.shape[0] / 2)
    matrix = cv2.getRotationMatrix2D(centre, angle, scale)
    matrix[0] *= squash
    shift = (1 - extent) * 0.5
    target = (width * (0.5 + rng.uniform(-shift, shift)), height * (0.5 + rng.uniform(-shift, shift)))
    moved = matrix @ np.array([centre[0], centre[1], 1.0])
    matrix[:, 2] += np.array(target) - moved
    warp = dict(dsize=(width, height), flags=cv2.INTER_LINEAR, borderValue=0)
    return (
        cv2.warpAffine(pixels, matrix, **warp),
        cv2.warpAffine(mask, matrix, **warp),
        mirrored,
        float(angle),
    )


def _draw_clutter(plate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Markers, labels, rulers, a cassette edge strip, a corner patch; returns what was drawn on."""
    height, width = plate.shape
    drawn = np.zeros(plate.shape, np.uint8)
    for _ in range(rng.integers(0, 3)):  # L/R markers and text labels
        text = str(rng.choice(["L", "R", "LT", "RT", "L 5", "12", "AB", "RSNA"]))
        scale = rng.uniform(0.4, 1.6) * width / 256
        org = (int(rng.uniform(0, 0.85) * width), int(rng.uniform(0.1, 1.0) * height))
        cv2.putText(drawn, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, 1, max(1, int(scale * 2)))
    if rng.random() < 0.15:  # a ruler: a bar with ticks
        x0, y0 = int(rng.uniform(0, 0.8) * width), int(rng.uniform(0, 0.9) * height)
        length, thick = int(rng.uniform(0.2, 0.6) * width), max(2, height // 60)
        cv2.rectangle(drawn, (x0, y0), (x0 + length, y0 + thick), 1, -1)
        for tick in range(x0, x0 + length, max(3, width // 40)):
            cv2.line(drawn, (tick, y0), (tick, y0 - thick), 1, 1)
    if rng.random() < 0.25:  # a bright cassette edge strip along one side
        side, band = rng.integers(4), max(2, int(rng.uniform(0.01, 0.06) * min(height, width)))
        region = [
            (slice(None), slice(0, band)),
            (slice(None), slice(width - band, width)),
            (slice(0, band), slice(None)),
            (slice(height - band, height), slice(None)),
        ][side]
        drawn[region] = 1
    if rng.random() < 0.15:  # a rectangular patch in a corner (label sticker, scanner frame)
        w, h = int(rng.uniform(0.08, 0.3) * width), int(rng.uniform(0.08, 0.3) * height)
        x0, y0 = (0 if rng.random() < 0.5 else width - w), (0 if rng.random() < 0.5 else height - h)
        drawn[y0 : y0 + h, x0 : x0 + w] = 1
    return drawn.astype(bool)


def _collimate(shape: tuple[int, int], mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An exposed rectangle around (most of) the hand; outside it the film is unexposed."""
    height, width = shape
    ys, xs = np.nonzero(mask > 0.5)
    if ys.size == 0:
        return np.ones(shape, bool)
    pad = rng.uniform(-0.02, 0.12, size=4) * np.array([width, height, width, height])
    x0 = int(np.clip(xs.min() - pad[0], 0, width))
    y0 = int(np.clip(ys.min() - pad[1], 0, height))
    x1 = int(np.clip(xs.max() + pad[2], 0, width))
    y1 = int(np.clip(ys.max() + pad[3], 0, height))
    field = np.zeros(shape, bool)
    field[y0:y1, x0:x1] = True
    return field


@dataclass(frozen=True)
class Pose:
    """How the single hand on a plate was placed (None on plates with two hands)."""

    mirrored: bool
    rotation_degrees: float


def render_plate(
    hands: list[Hand], rng: np.random.Generator, long_side: int = PLATE_LONG_SIDE
) -> tuple[np.ndarray, np.ndarray, Pose | None]:
    """A synthetic radiograph (float32 [0, 1], bright hand on dark film), its hand mask and pose."""
    aspect = rng.uniform(0.65, 1.45)  # height / width
    shape = (long_side, round(long_side / aspect)) if aspect >= 1 else (round(long_side * aspect), long_side)
    plate = _background(shape, rng)
    two_hands = rng.random() < 0.08
    tissue = np.zeros(shape, np.float32)
    mask = np.zeros(shape, np.float32)
    for index in range(2 if two_hands else 1):
        hand = hands[rng.integers(len(hands))]
        extent = rng.uniform(0.35, 0.55) if two_hands else rng.uniform(0.5, 1.0)
        pixels, weight, mirrored, angle = _place(hand, shape, rng, extent)
        pose = None if two_hands else Pose(mirrored, angle)
        if two_hands:  # keep the hands apart: the left one on the left half
            half = np.zeros(shape, np.float32)
            half[:, : shape[1] // 2] = 1.0 if index == 0 else 0.0
            half[:, shape[1] // 2 :] = 0.0 if index == 0 else 1.0
            pixels, weight = pixels * half, weight * half
        tissue = np.maximum(tissue, pixels)
        mask = np.maximum(mask, weight)
    contrast, gamma = rng.uniform(0.2, 0.75), rng.uniform(0.6, 1.6)
    plate = plate + contrast * np.power(np.clip(tissue, 0, 1), gamma) * (mask > 0.5)
    hand_mask = mask > 0.5
    if rng.random() < 0.35:
        field = _collimate(shape, mask, rng)
        plate[~field] = rng.uniform(0.55, 1.0) if rng.random() < 0.7 else rng.uniform(0.0, 0.1)
        hand_mask &= field
    clutter = _draw_clutter(plate, rng)
    plate[clutter] = rng.uniform(0.6, 1.0)
    hand_mask &= ~clutter
    return _finish(plate, rng), hand_mask, pose


def _finish(plate: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur, grain, exposure and sometimes inverted polarity."""
    if rng.random() < 0.5:
        plate = cv2.GaussianBlur(plate, (0, 0), sigmaX=rng.uniform(0.3, 1.5))
    plate = plate + rng.normal(0, rng.uniform(0.0, 0.04), plate.shape).astype(np.float32)
    plate = np.clip(plate, 0, 1) ** rng.uniform(0.7, 1.4)
    if rng.random() < 0.15:
        plate = 1.0 - plate
    return plate.astype(np.float32)


def render_negative(rng: np.random.Generator, long_side: int = PLATE_LONG_SIDE) -> np.ndarray:
    """A grey image with no hand in it: a document, blobs, bars or a chest-like film."""
    aspect = rng.uniform(0.65, 1.45)
    shape = (long_side, round(long_side / aspect)) if aspect >= 1 else (round(long_side * aspect), long_side)
    height, width = shape
    kind = rng.integers(4)
    if kind == 0:  # a page of text
        image = np.full(shape, rng.uniform(0.75, 1.0), np.float32)
        ink = np.zeros(shape, np.uint8)
        for row in range(
            int(rng.uniform(0.05, 0.12) * height), height, max(6, int(rng.uniform(0.04, 0.09) * height))
        ):
            words = " ".join(
                "".join(rng.choice(list("abcdefghijklmnop"), rng.integers(2, 9))) for _ in range(8)
            )
            cv2.putText(
                ink, words, (int(0.05 * width), row), cv2.FONT_HERSHEY_SIMPLEX, rng.uniform(0.25, 0.5), 1, 1
            )
        image[ink > 0] = rng.uniform(0.0, 0.3)
    else:
        image = _background(shape, rng)
        if kind == 1:  # bright blobs and shapes
            for _ in range(rng.integers(1, 5)):
                centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
                axes = (int(rng.uniform(0.05, 0.4) * width), int(rng.uniform(0.05, 0.4) * height))
                cv2.ellipse(image, centre, axes, rng.uniform(0, 180), 0, 360, rng.uniform(0.4, 1.0), -1)
        elif kind == 2:  # long bones / bars
            for _ in range(rng.integers(1, 4)):
                p0 = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
                p1 = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
                cv2.line(image, p0, p1, rng.uniform(0.5, 1.0), max(3, int(rng.uniform(0.04, 0.15) * width)))
        else:  # a chest-like film: bright body, two dark lungs, rib arcs, spine
            cv2.ellipse(
                image, (width // 2, height // 2), (int(0.45 * width), int(0.48 * height)), 0, 0, 360, 0.75, -1
            )
            for sign in (-1, 1):
                centre = (width // 2 + sign * int(0.2 * width), int(0.45 * height))
                cv2.ellipse(image, centre, (int(0.15 * width), int(0.3 * height)), 0, 0, 360, 0.3, -1)
                for rib in range(6):
                    y = int((0.2 + 0.1 * rib) * height)
                    cv2.ellipse(
                        image, (centre[0], y), (int(0.17 * width), int(0.05 * height)), 0, 180, 360, 0.6, 2
                    )
            cv2.rectangle(image, (width // 2 - width // 30, 0), (width // 2 + width // 30, height), 0.9, -1)
    return _finish(image, rng)


def training_pair(
    hands: list[Hand],
    rng: np.random.Generator,
    size: int,
    negative_rate: float = 0.15,
    squash_rate: float = 0.35,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One example exactly as the segmenter sees it: plate -> maybe 100x100 squash -> letterbox.

    Returns the input square, its mask and the pose target ``[known, mirrored, cos, sin]``
    (``known`` is 0 where there is no single hand, so the pose loss skips it).
    """
    pose = None
    if rng.random() < negative_rate:
        plate = render_negative(rng)
        mask = np.zeros(plate.shape, bool)
    else:
        plate, mask, pose = render_plate(hands, rng)
    target = np.zeros(4, np.float32)
    if pose is not None:
        radians = np.radians(pose.rotation_degrees)
        target[:] = (1.0, float(pose.mirrored), np.cos(radians), np.sin(radians))
    if rng.random() < squash_rate:  # like rsna-train-100: nearest, aspect not kept
        plate = cv2.resize(plate, (100, 100), interpolation=cv2.INTER_NEAREST_EXACT)
        mask = cv2.resize(mask.astype(np.uint8), (100, 100), interpolation=cv2.INTER_NEAREST_EXACT) > 0

    square, _ = letterbox_for_unet(standardise(plate), size)
    mask_square, _ = letterbox_for_unet(mask.astype(np.float32), size)
    return square, mask_square > 0.5, target
