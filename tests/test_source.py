"""The source transform: uploads are formed the way the training images were."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from boneage.chain.preprocess import Chain, PreprocessConfig, preprocess
from boneage.chain.source import RSNA_TRAIN_100, RSNA_TRAIN_299, SourceTransform, apply_source_transform
from boneage.io.decode import load_radiograph
from boneage.model.inputs import to_model_input
from boneage.predictor import Predictor
from boneage.training.data import CachedImages, build_cache, read_samples
from helpers import synthetic_hand, write_kaggle_dataset
from train import main


def test_squash_matches_pillow_nearest_bit_for_bit():
    """rsna-train-100 was made with Pillow's NEAREST resize; ours must pick the same pixels."""
    image = synthetic_hand(100, size=(517, 403), seed=3)
    expected = np.asarray(Image.fromarray(image).resize((100, 100), Image.Resampling.NEAREST))
    ours = apply_source_transform(image.astype(np.float32) / 255, RSNA_TRAIN_100)
    np.testing.assert_array_equal(np.round(ours * 255).astype(np.uint8), expected)


def test_squash_matches_pillow_bilinear_not_opencv_linear():
    """rsna-train-299 was made with Pillow's BILINEAR, which averages every source pixel when it
    shrinks; OpenCV's INTER_LINEAR samples 2 x 2 pixels and aliases on fine detail."""
    rng = np.random.default_rng(5)
    image = synthetic_hand(100, size=(1500, 1200), seed=5)
    image = np.clip(image.astype(np.int16) + rng.integers(-40, 40, image.shape), 0, 255).astype(np.uint8)
    expected = np.asarray(Image.fromarray(image).resize((299, 299), Image.Resampling.BILINEAR), np.float32)
    ours = apply_source_transform(image.astype(np.float32) / 255, RSNA_TRAIN_299) * 255
    assert ours.shape == (299, 299)
    assert np.abs(ours - expected).mean() < 0.3  # Pillow's 8-bit resize rounds; ours keeps floats
    assert np.abs(ours - expected).max() <= 1.0
    opencv = cv2.resize(image.astype(np.float32), (299, 299), interpolation=cv2.INTER_LINEAR)
    assert np.abs(opencv - expected).mean() > 2 * np.abs(ours - expected).mean() + 1.0


def test_unknown_resampling_is_refused():
    with pytest.raises(ValueError, match="pillow-bilinear"):
        SourceTransform(299, 299, "bicubic")


def test_training_sized_images_pass_unchanged():
    pixels = np.random.default_rng(0).random((100, 100), dtype=np.float32)
    assert apply_source_transform(pixels, RSNA_TRAIN_100) is pixels
    assert apply_source_transform(pixels, None) is pixels


def test_transform_round_trips_through_the_manifest_config():
    config = PreprocessConfig(size=128, source_transform=RSNA_TRAIN_100, crop_to_hand=False)
    restored = PreprocessConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert restored == config and restored.source_transform == RSNA_TRAIN_100
    with pytest.raises(ValueError):
        SourceTransform(100, 100, resample="magic")


def test_chain_reports_mask_and_crop_in_the_uploads_pixels():
    pixels = synthetic_hand(100, size=(800, 640)).astype(np.float32) / 255
    result = preprocess(pixels, Chain.classical(size=96, source_transform=RSNA_TRAIN_100))
    assert result.source_mask.shape == (800, 640)
    x0, y0, x1, y1 = result.crop_box
    assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 800 and y1 - y0 > 400


def test_app_path_and_training_path_give_the_same_model_input(tmp_path: Path):
    """A full-size upload in the app == the same radiograph squashed like rsna-train-100 in training."""
    full = synthetic_hand(150, size=(1040, 800), seed=5)
    cv2.imwrite(str(tmp_path / "upload.png"), full)
    # training side: the radiograph as rsna-train-100 holds it (Pillow NEAREST 100x100), via the cache
    root = write_kaggle_dataset(tmp_path / "train", count=1)
    small = Image.fromarray(full).resize((100, 100), Image.Resampling.NEAREST)
    small.save(root / "boneage-training-dataset" / "1000.png")
    chain = Chain.classical(size=128, source_transform=RSNA_TRAIN_100, mask_background=False)
    samples = read_samples(root)
    cache = build_cache(samples, chain.config, tmp_path / "cache", workers=1)
    training_input = CachedImages(cache.images, samples, [0], augment=False)[0][0]
    # app side: the full-size upload, decoded and run through the chain
    app_image = preprocess(load_radiograph(tmp_path / "upload.png").pixels, chain).image
    app_input = to_model_input(app_image)[0]
    assert training_input.shape == app_input.shape == (1, 128, 128)
    # equal up to the training cache's uint8 rounding (half a grey level, in standardised units)
    assert float((training_input - app_input).abs().max()) <= 0.5 / 255 / 0.25 + 1e-6


def test_predictor_applies_the_manifests_source_transform(tmp_path: Path, kaggle_dataset: Path):
    out = tmp_path / "w"
    args = ["--data", str(kaggle_dataset), "--out", str(out), "--arch", "seed-cnn", "--size", "32"]
    args += ["--epochs", "1", "--batch-size", "8", "--workers", "0", "--limit", "12", "--source-size", "100"]
    args += ["--segmenter", "classical"]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["preprocess"]["source_transform"] == {
        "width": 100,
        "height": 100,
        "resample": "nearest",
        "keep_aspect": False,
    }
    predictor = Predictor.load(explicit=out)
    pixels = synthetic_hand(120, size=(900, 700)).astype(np.float32) / 255
    squashed = apply_source_transform(pixels, RSNA_TRAIN_100)
    assert predictor.predict_pixels(pixels, True) == pytest.approx(predictor.predict_pixels(squashed, True))
    plain = PreprocessConfig.from_dict({**manifest["preprocess"], "source_transform": None})
    unsquashed = predictor.predict_months([preprocess(pixels, Chain(plain)).image], [True])[0]
    assert unsquashed != pytest.approx(predictor.predict_pixels(pixels, True), abs=1e-4)
