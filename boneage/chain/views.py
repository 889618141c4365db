"""Geometric views of a processed image: the test-time views the app averages, and training's augmentation.

One ``affine`` serves both, so a served view is exactly a transform the model met in training.
"""

from __future__ import annotations

import cv2
import numpy as np

# Test-time augmentation: named sets of views (keyword arguments of ``affine``); {} is the image as is.
TTA_VIEWS: dict[str, list[dict]] = {
    "none": [],
    "zoom": [{}, {"scale": 0.93}, {"scale": 1.04}],
    # Two views: twice the passes of one (docs/model.md).
    "zoom2": [{}, {"scale": 0.93}],
    # One view, zoomed out: no extra pass, and 3.0's two networks read it better than the image as is.
    "zoomout": [{"scale": 0.93}],
    "zoom+rotate": [{}, {"scale": 0.93}, {"scale": 1.04}, {"angle": -6.0}, {"angle": 6.0}],
}


def affine(
    image: np.ndarray,
    angle: float = 0.0,
    scale: float = 1.0,
    stretch: float = 1.0,
    shift: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Rotate (degrees), zoom, change the width/height ratio and shift (share of the side) about the centre."""
    size = image.shape[0]
    theta = np.deg2rad(angle)
    rotation = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    linear = rotation @ np.diag([scale * np.sqrt(stretch), scale / np.sqrt(stretch)])
    centre = np.array([size / 2, size / 2])
    offset = centre - linear @ centre + np.asarray(shift) * size
    matrix = np.hstack([linear, offset[:, None]])
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=0.0)
