"""Hand segmentation.

The classical segmenter: threshold, morphology and the largest component, which drops text
labels, rulers and markers that are not connected to the hand. The served chain outlines the
hand with the U-Net (:mod:`boneage.chain.unet`); this one runs only in a chain that names it
(``segmenter="classical"``: older models, tests, and the gate's comparison in docs/segmentation.md).
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_SIDE = 512
# A mask over more than this share of the image is the exposed field, not a hand.
FIELD_FRACTION = 0.8
MIN_INNER_FRACTION = 0.08


def segment_hand(pixels: np.ndarray) -> np.ndarray:
    """Boolean mask of the hand (soft tissue and bone) in a bright-on-dark radiograph."""
    height, width = pixels.shape
    scale = min(1.0, WORK_SIDE / max(height, width))
    small = pixels
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
    gray = _stretch_to_uint8(small)
    side = max(gray.shape)
    gray = cv2.GaussianBlur(gray, (0, 0), sigmaX=max(1.0, side / 256))
    mask = _threshold_mask(gray, tissue_threshold(gray))
    if mask.mean() > FIELD_FRACTION:
        # Collimated plates: the first threshold found the exposed field inside a dark frame,
        # not the hand. The hand is the bright part of that field, so threshold again inside it.
        inner = _threshold_mask(gray, otsu_threshold(gray[mask]), within=mask)
        if MIN_INNER_FRACTION < inner.mean() < FIELD_FRACTION:
            mask = inner
    if scale < 1.0:
        mask = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
    return mask.astype(bool)


def clean_mask(binary: np.ndarray) -> np.ndarray:
    """The largest connected part with its holes filled: one hand, no islands."""
    return fill_holes(largest_component(binary.astype(np.uint8)))


def _threshold_mask(gray: np.ndarray, threshold: float, within: np.ndarray | None = None) -> np.ndarray:
    """Pixels above ``threshold``, cleaned: frame cleared, opened, closed, largest part, holes filled."""
    side = max(gray.shape)
    binary = (gray > threshold).astype(np.uint8)
    if within is not None:
        binary &= within.astype(np.uint8)
    # Scanned plates often have bright frame edges; a thin cleared frame detaches them.
    edge = max(2, side // 100)
    binary[:edge], binary[-edge:], binary[:, :edge], binary[:, -edge:] = 0, 0, 0, 0
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, _disk(max(1, side // 128)))
    binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, _disk(max(1, side // 64)))
    return fill_holes(largest_component(binary))


def _stretch_to_uint8(pixels: np.ndarray) -> np.ndarray:
    low, high = np.percentile(pixels, [1, 99])
    if high - low < 1e-6:
        return np.zeros(pixels.shape, dtype=np.uint8)
    return np.round(np.clip((pixels - low) / (high - low), 0, 1) * 255).astype(np.uint8)


def otsu_threshold(gray: np.ndarray) -> float:
    threshold, _ = cv2.threshold(gray.reshape(-1, 1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(threshold)


def tissue_threshold(gray: np.ndarray) -> float:
    """Threshold between background and soft tissue.

    Otsu on the whole image often splits bone from soft tissue instead; taking Otsu again on the
    darker class finds the background/tissue boundary when the histogram has three modes. We keep
    the lower of the two only when that darker class is itself clearly bimodal.
    """
    otsu = otsu_threshold(gray)
    dark = gray[gray <= otsu]
    if dark.size < 100:
        return float(otsu)
    lower, _ = cv2.threshold(dark.reshape(-1, 1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    below, above = dark[dark <= lower], dark[dark > lower]
    if below.size == 0 or above.size == 0:
        return float(otsu)
    separation = (float(above.mean()) - float(below.mean())) / (float(dark.std()) + 1e-6)
    # A clearly separated darker class means: background | soft tissue | bone.
    return float(lower) if separation > 1.6 and above.size > 0.15 * dark.size else float(otsu)


def largest_component(binary: np.ndarray) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count <= 1:
        return np.zeros_like(binary, dtype=bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == largest


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill background regions not connected to the image border."""
    padded = np.pad(mask.astype(np.uint8), 1)
    flood = padded.copy()
    cv2.floodFill(flood, np.zeros((flood.shape[0] + 2, flood.shape[1] + 2), np.uint8), (0, 0), 1)
    holes = flood[1:-1, 1:-1] == 0
    return mask | holes


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
