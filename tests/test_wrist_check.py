"""The wrist check: where the fingers end, the cut examples, training, and the gate it adds."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from boneage.chain.preprocess import Chain, PreprocessConfig, preprocess
from boneage.chain.unet import DEFAULT_SEGMENTER_DIR
from boneage.chain.wrist import (
    CHECK_SIZE,
    DEFAULT_WRIST_CHECK_DIR,
    WristCheck,
    to_check_pixels,
)
from boneage.errors import (
    ModelNotInstalledError,
    NotAHandRadiographError,
    WeightsIntegrityError,
    WristMissingError,
)
from boneage.io.decode import load_radiograph
from boneage.training.data import read_samples
from boneage.training.wrist import (
    MISSING_RANGE,
    PRESENT_RANGE,
    WristTrainConfig,
    build_examples,
    choose_threshold,
    epoch_indices,
    example_chain,
    film_examples,
    hand_extent,
    summarise,
    tilt_degrees,
    train_wrist_check,
)
from boneage.weights import Manifest
from boneage.words import error_message, error_title

needs_segmenter = pytest.mark.skipif(
    not (DEFAULT_SEGMENTER_DIR / "manifest.json").is_file(), reason="no shipped segmenter"
)
needs_wrist_check = pytest.mark.skipif(
    not (DEFAULT_WRIST_CHECK_DIR / "manifest.json").is_file(), reason="no shipped wrist check"
)
# The plates named in docs/segmentation.md's robustness table, young and old, girls and boys.
PLATES = ("F02", "F08", "F13", "M05", "M13", "M20")


def drawn_hand() -> np.ndarray:
    """An upright outline: four fingers (rows 10-59) apart, a palm (60-99), a forearm (100-139)."""
    mask = np.zeros((150, 120), bool)
    for x in (20, 40, 60, 80):
        mask[10:60, x : x + 12] = True
    mask[60:100, 15:100] = True
    mask[100:140, 35:80] = True
    return mask


def _served_config() -> PreprocessConfig:
    return PreprocessConfig.from_dict(
        Manifest.load(DEFAULT_WRIST_CHECK_DIR.parent / "manifest.json").preprocess
    )


def _atlas_examples(tmp_path, atlas_dir, n_train: int, n_val: int):
    """Training and validation examples from the first atlas plates, through a small chain."""
    samples = read_samples(atlas_dir)[: n_train + n_val]
    config = PreprocessConfig.from_dict({**_served_config().to_dict(), "size": 128})
    train = build_examples(samples[:n_train], config, tmp_path / "train.npz", workers=1)
    return train, build_examples(samples[n_train:], config, tmp_path / "val.npz", workers=1)


def test_hand_extent_finds_the_webs_below_the_fingers():
    extent = hand_extent(drawn_hand())
    assert (extent.top, extent.bottom) == (10, 139)
    assert 56 <= extent.web <= 59  # the last rows that cross three fingers or more
    assert extent.row(0.0) == extent.web and extent.row(1.0) == extent.web + extent.finger_length


def test_hand_extent_needs_fingers_apart():
    blob = np.zeros((100, 100), bool)
    blob[10:90, 20:80] = True
    assert hand_extent(blob) is None
    assert hand_extent(np.zeros((10, 10), bool)) is None


def test_tilt_degrees_is_the_outline_against_the_vertical():
    mask = drawn_hand()
    assert tilt_degrees(mask) < 5
    turned = cv2.warpAffine(mask.astype(np.uint8), cv2.getRotationMatrix2D((60, 75), 30, 1.0), (120, 150))
    assert 25 < tilt_degrees(turned.astype(bool)) < 35


def test_the_two_labels_never_meet():
    assert MISSING_RANGE[1] < PRESENT_RANGE[0]  # cuts in between are neither: not used


def test_choose_threshold_refuses_at_most_the_allowed_whole_films():
    whole = np.array([0.1, 0.9, 0.5, 0.3, 0.95])
    for allowed in (0, 1, 2):
        threshold = choose_threshold(whole, allowed)
        assert int((whole > threshold).sum()) == allowed
    assert choose_threshold(whole, 10) == 0.0


def test_summarise_counts_refusals_by_kind():
    probabilities = np.array([0.1, 0.8, 0.9, 0.2, 0.7])
    wrist = np.array([True, True, False, False, True])
    cut = np.array([np.nan, np.nan, 0.5, -0.1, 2.0], np.float32)
    summary = summarise(probabilities, wrist, cut, threshold=0.5)
    assert summary["whole_films"] == {"n": 2, "refused": 1}
    assert summary["cut_above_wrist"] == {"n": 2, "refused": 1}
    assert summary["only_fingers"] == {"n": 1, "refused": 0}
    assert summary["cut_below_wrist"] == {"n": 1, "refused": 1}


def test_epoch_indices_take_every_cut_and_as_many_whole_films_as_missing_wrists():
    wrist = np.array([True] * 10 + [False] * 3 + [True] * 2)
    cut = np.array([np.nan] * 10 + [0.1, 0.2, 0.3] + [2.0, 2.1], np.float32)
    chosen = epoch_indices(wrist, cut, np.random.default_rng(0))
    assert len(chosen) == len(set(chosen)) == 5 + 3
    assert set(range(10, 15)) <= set(chosen.tolist())


def test_to_check_pixels_shrinks_the_chain_image():
    image = np.linspace(0, 1, 448 * 448, dtype=np.float32).reshape(448, 448)
    pixels = to_check_pixels(image)
    assert pixels.shape == (CHECK_SIZE, CHECK_SIZE) and pixels.dtype == np.uint8
    assert pixels[0, 0] < 5 and pixels[-1, -1] > 250


@needs_segmenter
def test_film_examples_cut_a_real_plate_above_and_below_its_wrist(atlas_dir):
    chain = Chain.load(example_chain(_served_config()))
    assert chain.wrist is None  # the examples train the check: they are not checked
    examples = film_examples(str(atlas_dir / "images" / "M13.png"), chain, seed=3)
    whole, *cuts = examples
    assert whole.wrist and whole.cut is None and whole.image.shape == (CHECK_SIZE, CHECK_SIZE)
    missing = [e for e in cuts if not e.wrist]
    assert len(missing) == 1 and MISSING_RANGE[0] <= missing[0].cut <= MISSING_RANGE[1]
    if missing[0].image is not None:  # the chain may refuse a film of fingers alone
        assert np.abs(missing[0].image.astype(int) - whole.image).mean() > 5


@needs_segmenter
def test_training_writes_a_check_that_loads_and_answers(tmp_path, atlas_dir):
    train, val = _atlas_examples(tmp_path, atlas_dir, n_train=4, n_val=2)
    with np.load(train) as data:
        assert int(np.isnan(data["cut"]).sum()) == 4  # every whole plate
        assert len(data["images"]) - 4 + len(data["refused_film"]) >= 4  # and its cuts
    report = train_wrist_check(
        WristTrainConfig(train, val, tmp_path / "out", epochs=1, batch_size=4, pretrained=False, limit=8)
    )
    check = WristCheck.load(tmp_path / "out")
    assert check.threshold == pytest.approx(report["manifest"]["preprocess"]["threshold"], abs=1e-6)
    assert 0.0 <= check.missing_probability(np.zeros((128, 128), np.float32)) <= 1.0
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["history"][0]["whole_films"]["n"] == 2


@needs_segmenter
def test_a_stopped_run_resumes_to_the_same_weights(tmp_path, atlas_dir):
    from safetensors.torch import load_file

    train, val = _atlas_examples(tmp_path, atlas_dir, n_train=3, n_val=2)

    def run(out, **kwargs):
        return train_wrist_check(
            WristTrainConfig(train, val, out, epochs=2, batch_size=4, pretrained=False, limit=4, **kwargs)
        )

    run(tmp_path / "straight")
    assert run(tmp_path / "resumed", stop_after=1)["stopped_after"] == 1
    assert not (tmp_path / "resumed" / "manifest.json").exists()
    run(tmp_path / "resumed", resume=True)
    straight = load_file(str(tmp_path / "straight" / "wrist-check-lite0-128.safetensors"))
    resumed = load_file(str(tmp_path / "resumed" / "wrist-check-lite0-128.safetensors"))
    assert all(torch.equal(straight[name], resumed[name]) for name in straight)


@needs_wrist_check
def test_the_shipped_check_refuses_plates_cut_above_the_wrist_and_keeps_whole_ones(atlas_dir):
    """Cut above the wrist, the plates were read about two years too old, with no warning."""
    chain = Chain.load(_served_config())
    refused = 0
    for name in PLATES:
        pixels = load_radiograph(atlas_dir / "images" / f"{name}.png").pixels
        preprocess(pixels, chain)  # the whole plate: accepted
        palm_and_fingers = np.ascontiguousarray(pixels[: int(0.6 * pixels.shape[0])])
        try:
            preprocess(palm_and_fingers, chain)
        except WristMissingError as exc:
            assert isinstance(exc, NotAHandRadiographError) and exc.code == "wrist_missing"
            assert exc.params["probability"] > chain.wrist.threshold
            refused += 1
    assert refused >= len(PLATES) - 1


def test_the_wrist_message_is_translated():
    error = WristMissingError(probability=0.93)
    title, message = error_title(error, "zh-TW"), error_message(error, "zh-TW")
    assert (title, message[:12]) == ("沒有手腕", "這張影像中看起來沒有手腕")
    assert error_title(error, "en") == "The wrist is missing" and str(error).startswith("The wrist seems")


def test_a_chain_that_checks_the_wrist_needs_its_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("BONEAGE_WRIST_CHECK", str(tmp_path / "nothing-here"))
    with pytest.raises(ModelNotInstalledError):
        Chain.load(PreprocessConfig())
    assert Chain.load(PreprocessConfig(check_wrist=False)).wrist is None


@needs_wrist_check
def test_the_served_check_computes_what_the_stored_network_does():
    """Served channels-last: the same probabilities as the stored network."""
    from safetensors.torch import load_file

    from boneage.chain.wrist import WristCheckNet, check_input

    check = WristCheck.load()
    network = WristCheckNet(**check.manifest.architecture_kwargs).eval()
    state = load_file(str(DEFAULT_WRIST_CHECK_DIR / check.manifest.filename))
    network.load_state_dict({name: tensor.float() for name, tensor in state.items()})
    images = np.random.default_rng(1).random((3, 448, 448)).astype(np.float32)
    with torch.inference_mode():
        expected = torch.sigmoid(network(check_input(np.stack([to_check_pixels(i) for i in images]))))
    served = [check.missing_probability(image) for image in images]
    assert np.allclose(served, expected.numpy(), atol=1e-4)


@needs_segmenter
@needs_wrist_check
def test_each_chain_network_refuses_the_other_ones_weights():
    """Verified weights of another network are refused by name, not loaded into the wrong one."""
    from boneage.chain.unet import UNetSegmenter

    with pytest.raises(WeightsIntegrityError, match="is not a wrist check"):
        WristCheck.load(DEFAULT_SEGMENTER_DIR)
    with pytest.raises(WeightsIntegrityError, match="is not a hand segmenter"):
        UNetSegmenter.load(DEFAULT_WRIST_CHECK_DIR)
