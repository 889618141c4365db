from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from boneage.chain.imageops import (
    apply_clahe,
    bounding_box,
    letterbox,
    median_denoise,
    normalise_intensity,
    sharpen,
)
from boneage.chain.orientation import normalise_polarity
from boneage.chain.preprocess import Chain, PreprocessConfig, preprocess
from boneage.chain.segmentation import fill_holes, largest_component, segment_hand
from boneage.errors import NotAHandRadiographError
from boneage.model.inputs import INPUT_MEAN, INPUT_STD, to_model_input
from helpers import synthetic_hand


def test_segmentation_finds_the_hand_and_drops_the_marker(hand_pixels):
    mask = segment_hand(hand_pixels)
    assert mask.dtype == bool and mask.shape == hand_pixels.shape
    assert 0.15 < mask.mean() < 0.6
    assert not mask[:60, :60].any(), "the 'L' marker must not be part of the hand"
    assert mask[int(0.68 * 400), 160], "the palm centre is hand"


def test_largest_component_and_hole_filling():
    binary = np.zeros((50, 50), np.uint8)
    binary[5:30, 5:30] = 1
    binary[10:15, 10:15] = 0  # a hole
    binary[40:45, 40:45] = 1  # a small separate blob
    mask = fill_holes(largest_component(binary))
    assert mask[12, 12] and not mask[42, 42]
    assert mask.sum() == 25 * 25


def test_bounding_box_with_margin():
    mask = np.zeros((100, 80), bool)
    mask[20:60, 10:30] = True
    assert bounding_box(mask) == (10, 20, 30, 60)
    assert bounding_box(mask, margin=0.1) == (6, 16, 34, 64)


@pytest.mark.parametrize("shape", [(300, 100), (100, 300), (257, 255)])
def test_letterbox_preserves_aspect_ratio(shape):
    image = np.ones(shape, np.float32)
    out = letterbox(image, 128)
    assert out.shape == (128, 128)
    rows, cols = np.nonzero(out > 0.5)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert max(height, width) == 128
    assert abs(width / height - shape[1] / shape[0]) < 0.05
    assert (out == 0).sum() == 128 * 128 - height * width, "the rest is black padding"


def test_polarity_inverts_white_background(hand_pixels):
    inverted_input = 1.0 - hand_pixels
    restored, inverted = normalise_polarity(inverted_input)
    assert inverted
    np.testing.assert_allclose(restored, hand_pixels, atol=1e-6)
    assert normalise_polarity(hand_pixels)[1] is False


def test_intensity_normalisation_fixes_the_hand_mean():
    rng = np.random.default_rng(0)
    image = rng.uniform(0.2, 0.4, (64, 64)).astype(np.float32)
    mask = np.zeros((64, 64), bool)
    mask[16:48, 16:48] = True
    out = normalise_intensity(image, mask, target_mean=0.45)
    assert abs(float(out[mask].mean()) - 0.45) < 0.03
    assert out.min() >= 0 and out.max() <= 1


def test_clahe_raises_local_contrast():
    image = np.tile(np.linspace(0.4, 0.5, 64, dtype=np.float32), (64, 1))
    out = apply_clahe(image, 2.0, 8)
    assert out.std() > image.std()
    assert out.dtype == np.float32


def test_median_removes_salt_noise():
    image = np.full((32, 32), 0.5, np.float32)
    image[10, 10] = 1.0
    assert median_denoise(image, 3)[10, 10] == pytest.approx(0.5, abs=1e-3)


def test_sharpen_increases_edge_contrast():
    image = np.zeros((32, 32), np.float32)
    image[:, 16:] = 0.5
    image = cv2.GaussianBlur(image, (0, 0), 1.5)
    out = sharpen(image, amount=1.0, sigma=1.0)
    assert np.abs(np.diff(out, axis=1)).max() > np.abs(np.diff(image, axis=1)).max()


def test_whole_chain_output(hand_pixels):
    result = preprocess(hand_pixels, Chain.classical(size=256, mask_background=True))
    assert result.image.shape == (256, 256) and result.image.dtype == np.float32
    assert result.image.min() >= 0.0 and result.image.max() <= 1.0
    assert result.mask.shape == (256, 256) and result.mask.dtype == bool
    assert (result.image[~result.mask] == 0).all(), "background is masked to black"
    x0, y0, x1, y1 = result.crop_box
    assert x0 > 0 and y0 > 60, "the crop excludes the marker corner"
    # aspect ratio of the crop is preserved in the letterboxed mask
    rows, cols = np.nonzero(result.mask)
    crop_ratio = (x1 - x0) / (y1 - y0)
    assert abs((np.ptp(cols) + 1) / (np.ptp(rows) + 1) - crop_ratio) < 0.12


def test_chain_is_deterministic(hand_pixels):
    chain = Chain.classical()
    a, b = preprocess(hand_pixels, chain), preprocess(hand_pixels, chain)
    np.testing.assert_array_equal(a.image, b.image)


def test_no_hand_is_refused():
    noise = np.random.default_rng(0).uniform(0, 0.02, (300, 300)).astype(np.float32)
    noise[140:150, 140:150] = 1.0
    with pytest.raises(NotAHandRadiographError):
        preprocess(noise, Chain.classical())


def test_model_input_is_standardised():
    batch = to_model_input([np.full((8, 8), INPUT_MEAN, np.float32), np.ones((8, 8), np.float32)])
    assert batch.shape == (2, 1, 8, 8) and batch.dtype == torch.float32
    assert float(batch[0].abs().max()) == 0.0
    assert float(batch[1, 0, 0, 0]) == pytest.approx((1 - INPUT_MEAN) / INPUT_STD)


def test_config_round_trips_through_dict():
    config = PreprocessConfig(size=320, clahe_clip=3.0)
    assert PreprocessConfig.from_dict({**config.to_dict(), "unknown": 1}) == config


def test_larger_inputs_give_same_size_output():
    big = cv2.resize(synthetic_hand(60), (960, 1200)).astype(np.float32) / 255
    assert preprocess(big, Chain.classical(size=128)).image.shape == (128, 128)


def test_hand_inside_a_collimated_field_is_found(hand_pixels):
    """A dark frame around a grey exposed field: the mask is the hand, not the whole field."""
    field = 0.3 + 0.5 * hand_pixels
    framed = np.pad(field, 10, constant_values=0.02)
    mask = segment_hand(framed)
    assert 0.08 < mask.mean() < 0.6
    assert not mask[14:18, 14:18].any(), "grey field corner is background"


def test_dim_low_contrast_radiograph_is_accepted(hand_pixels):
    """An underexposed film that uses only a narrow grey band still shows its hand."""
    dim = (0.15 + 0.12 * hand_pixels).astype(np.float32)
    result = preprocess(dim, Chain.classical(size=128))
    assert 0.1 < result.hand_fraction < 0.7
