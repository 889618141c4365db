"""Turning an upload so the model sees what it learnt from: bright bone, a left hand, fingers up.

Polarity: some exports are MONOCHROME1-like (bone dark on a white background); they are
inverted first, judged by the border.

The RSNA training films are left hands, mostly upright. A right hand (or a left hand exported
mirrored) and a film scanned sideways are common uploads; the U-Net's pose output says which,
and :func:`orient_upright` undoes it before the chain. Small tilts are left alone: the training
films have them too, and the model learnt with them. A film scanned sideways lies at an exact
quarter turn, so a turn near one is undone exactly (``np.rot90``, no resampling), not by the
pose head's estimate: resampling alone moved atlas bone ages by 1.8 months on average.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Chosen on real left hands (false mirrors: atlas 1/54, rsna-train-100 0.8%) against their
# mirrored copies (82% / 94% found): see docs/segmentation.md.
MIRROR_THRESHOLD = 0.9
ROTATE_ABOVE_DEGREES = 30.0
# A pose estimate this close to a quarter turn is taken as one. The head reads a small child's
# sideways hand 15-35 degrees short of 90; what is left after the exact turn is judged again.
QUARTER_TURN_SNAP_DEGREES = 40.0
DOUBTFUL_CONFIDENCE = 0.95  # below this, the half-turned film is tried too
HALF_TURN_MARGIN = 0.02
# The pose is judged on a copy at most this large: polarity and grey-range statistics of a
# 50-megapixel upload would otherwise cost seconds, for a network that looks at 128 px.
ANALYSIS_SIDE = 512


@dataclass(frozen=True)
class Orientation:
    """What was done to the upload before the chain (nothing by default)."""

    mirrored: bool = False
    rotated_degrees: float = 0.0  # counter-clockwise turn applied to make the hand upright

    @property
    def changed(self) -> bool:
        return self.mirrored or self.rotated_degrees != 0.0


def normalise_polarity(pixels: np.ndarray) -> tuple[np.ndarray, bool]:
    """Make bone bright on a dark background; invert images whose border is mostly bright."""
    border = border_pixels(pixels, width=max(2, min(pixels.shape) // 50))
    if float(np.median(border)) > 0.5 and float(np.median(border)) > float(np.median(pixels)):
        return (1.0 - pixels).astype(np.float32), True
    return pixels, False


def border_pixels(pixels: np.ndarray, width: int) -> np.ndarray:
    return np.concatenate(
        [
            pixels[:width].ravel(),
            pixels[-width:].ravel(),
            pixels[:, :width].ravel(),
            pixels[:, -width:].ravel(),
        ]
    )


def orient_upright(pixels: np.ndarray, segmenter) -> tuple[np.ndarray, Orientation]:
    """Mirror a right hand and turn a hand lying sideways or upside down upright.

    The pose head learnt turns up to ±100°. An upside-down film is recognised instead by the
    U-Net's own confidence: when the outline is doubtful, the film turned half round is tried,
    and kept if the hand is clearly more hand-like that way (atlas: 53 of 54 upside-down plates
    found, no upright plate turned). A film near a quarter turn is turned by exactly that, then
    looked at again: a tilt left over beyond :data:`ROTATE_ABOVE_DEGREES` is turned back by the
    head's estimate, and the mirror is judged on the upright film.
    """
    bright = normalise_polarity(shrink(pixels, ANALYSIS_SIDE))[0]
    view = segmenter.analyse(bright)
    half_turn = False
    confidence = hand_confidence(view.probability)
    if confidence < DOUBTFUL_CONFIDENCE:
        turned = segmenter.analyse(np.ascontiguousarray(bright[::-1, ::-1]))
        if hand_confidence(turned.probability) > confidence + HALF_TURN_MARGIN:
            pixels, view, half_turn = np.ascontiguousarray(pixels[::-1, ::-1]), turned, True
            bright = np.ascontiguousarray(bright[::-1, ::-1])
    rotation = 0.0
    if quarter_turns := nearest_quarter_turns(-view.rotation_degrees):
        rotation = 90.0 * quarter_turns
        pixels = np.ascontiguousarray(np.rot90(pixels, quarter_turns))
        # The upright film's own pose and side: the head reads both best on an upright hand.
        view = segmenter.analyse(np.ascontiguousarray(np.rot90(bright, quarter_turns)))
    if abs(view.rotation_degrees) > ROTATE_ABOVE_DEGREES:
        rotation -= view.rotation_degrees
        pixels = rotate_expanded(pixels, -view.rotation_degrees)
    mirrored = view.mirrored_probability > MIRROR_THRESHOLD
    if mirrored:
        pixels = np.ascontiguousarray(pixels[:, ::-1])
    total = (rotation + (180.0 if half_turn else 0.0) + 180.0) % 360.0 - 180.0
    return pixels, Orientation(mirrored=mirrored, rotated_degrees=round(total, 1))


def nearest_quarter_turns(degrees: float) -> int:
    """Counter-clockwise quarter turns (1 or -1) that the turn ``degrees`` stands for, or 0 when
    it is not within :data:`QUARTER_TURN_SNAP_DEGREES` of one."""
    for turns in (1, -1):
        if abs(degrees - 90.0 * turns) <= QUARTER_TURN_SNAP_DEGREES:
            return turns
    return 0


def hand_confidence(probability: np.ndarray, threshold: float = 0.5) -> float:
    """Mean hand probability inside the largest outline (0 when there is hardly any hand)."""
    from boneage.chain.unet import outline

    mask, confidence = outline(probability, threshold)
    return confidence if mask.mean() > 0.05 else 0.0


def shrink(pixels: np.ndarray, side: int) -> np.ndarray:
    """An area-averaged copy whose longer side is at most ``side`` (the U-Net sees 128 px anyway)."""
    scale = side / max(pixels.shape)
    if scale >= 1:
        return pixels
    size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def rotate_expanded(pixels: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate counter-clockwise by ``degrees`` on a canvas big enough to keep every pixel.

    New corners are filled with the median of the image's border, so they look like background.
    """
    height, width = pixels.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(round(height * sin + width * cos)), int(round(height * cos + width * sin))
    matrix[0, 2] += new_w / 2 - width / 2
    matrix[1, 2] += new_h / 2 - height / 2
    border = border_pixels(pixels, width=max(2, min(height, width) // 50))
    return cv2.warpAffine(
        pixels, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR, borderValue=float(np.median(border))
    )
