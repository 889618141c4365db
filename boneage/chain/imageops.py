"""The chain's pixel operations: crop, letterbox, intensity normalisation, CLAHE, denoise, sharpen.

Each is a small pure function of an image (float32 in [0, 1]) and its settings, so it can be
tested alone; :mod:`boneage.chain.preprocess` runs them in order.
"""

from __future__ import annotations

import cv2
import numpy as np


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


def to_input_pixels(
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


def stretch_contrast(image: np.ndarray, low: float = 1.0, high: float = 99.5) -> tuple[np.ndarray, float]:
    """``image`` stretched so its ``low`` and ``high`` percentiles span [0, 1], and the span in
    the input's grey scale (what the stretch divided by)."""
    bottom, top = np.percentile(image, [low, high])
    span = max(float(top - bottom), 1e-3)
    return np.clip((image - bottom) / span, 0, 1).astype(np.float32), span


def with_margin(image: np.ndarray, share: float) -> np.ndarray:
    """``image`` with ``share`` of each side added around it in the median grey of its border:
    a hand cropped close, fingers at the edge, then lies on background as the films' hands do."""
    top, side = round(share * image.shape[0]), round(share * image.shape[1])
    edges = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    return cv2.copyMakeBorder(image, top, top, side, side, cv2.BORDER_CONSTANT, value=float(np.median(edges)))
