"""The hand U-Net, its training plates, pose correction, the image gate and the fallback."""

from __future__ import annotations

import functools
import json

import cv2
import numpy as np
import pytest
import torch

from boneage.chain.gate import FoundHand, doubtful_fingers, film_area, finger_gaps, second_hand_ratio
from boneage.chain.orientation import (
    Orientation,
    nearest_quarter_turns,
    orient_upright,
    rotate_expanded,
)
from boneage.chain.preprocess import Chain, PreprocessConfig, preprocess
from boneage.chain.unet import (
    DEFAULT_SEGMENTER_DIR,
    HandUNet,
    UNetSegmenter,
    dice,
    letterbox_for_unet,
    unletterbox,
)
from boneage.cli.gate_eval import (
    accepted,
    document_cases,
    generated_cases,
    medical_cases,
    non_hand_cases,
    texture_crop_cases,
)
from boneage.cli.robustness import both_hands
from boneage.errors import ModelNotInstalledError, NotAHandRadiographError, WeightsIntegrityError
from boneage.io.decode import load_radiograph
from boneage.training.composite import _place, load_hands, render_plate, training_pair
from boneage.training.segmenter import SegmentTrainConfig, evaluate_segmenter, split_hands, train_segmenter
from boneage.weights import Manifest, sha256_of
from conftest import SHARED_DATA

HIRES_DIR = SHARED_DATA / "rsna-train-hires"
needs_hires = pytest.mark.skipif(not (HIRES_DIR / "images").is_dir(), reason="rsna-train-hires not present")
needs_segmenter = pytest.mark.skipif(
    not (DEFAULT_SEGMENTER_DIR / "manifest.json").is_file(), reason="no shipped segmenter"
)


def fake_hands_dir(root, count: int = 6):
    """Background-removed hand cut-outs like rsna-train-hires: palm + fingers, background exactly 0."""
    images = root / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        image = np.zeros((260, 200), np.uint8)
        cv2.ellipse(image, (100, 180), (60, 50), 0, 0, 360, int(rng.integers(90, 140)), -1)
        for finger, x in enumerate((45, 75, 100, 125, 150)):
            top = 40 + int(rng.integers(0, 30)) + (60 if finger == 0 else 0)
            cv2.line(image, (x, 160), (x + (finger - 2) * 8, top), int(rng.integers(150, 250)), 14)
        cv2.imwrite(str(images / f"{2000 + index}.png"), image)
    return root


def test_unet_keeps_the_input_size_and_gives_a_pose():
    logits, pose = HandUNet((4, 8, 16))(torch.zeros(2, 1, 64, 64))
    assert logits.shape == (2, 1, 64, 64)
    assert pose.shape == (2, 3)


def test_letterbox_round_trip_maps_back_onto_the_input():
    pixels = np.zeros((300, 120), np.float32)
    pixels[50:250, 30:90] = 1.0
    square, box = letterbox_for_unet(pixels, 128)
    assert square.shape == (128, 128)
    back = unletterbox(square, box)
    assert back.shape == pixels.shape
    assert dice(back > 0.5, pixels > 0.5) > 0.95


def test_placed_hand_mask_follows_the_pixels(tmp_path):
    hand = load_hands(fake_hands_dir(tmp_path), long_side=200)[0]
    rng = np.random.default_rng(3)
    for _ in range(5):
        pixels, weight, _, _ = _place(hand, (256, 200), rng, extent=0.8)
        assert dice(weight > 0.5, pixels > 0.05) > 0.9


def test_plates_have_a_hand_and_negatives_have_none(tmp_path):
    hands = load_hands(fake_hands_dir(tmp_path))
    rng = np.random.default_rng(1)
    for _ in range(10):
        plate, mask, _ = render_plate(hands, rng)
        assert plate.dtype == np.float32 and plate.min() >= 0.0 and plate.max() <= 1.0
        assert 0.02 < mask.mean() < 0.9
    for _ in range(5):
        square, mask, pose = training_pair(hands, rng, 96, negative_rate=1.0)
        assert square.shape == (96, 96) and not mask.any() and pose[0] == 0.0


def test_hand_split_is_deterministic_and_disjoint():
    ids = [str(i) for i in range(38)]
    train, held = split_hands(ids, 8, seed=42)
    assert split_hands(ids, 8, seed=42) == (train, held)
    assert len(held) == 8 and not set(train) & set(held) and len(train) + len(held) == 38


def _tiny_config(hands_dir, out_dir, **overrides) -> SegmentTrainConfig:
    values = dict(
        hands_dir=hands_dir, out_dir=out_dir, image_size=64, channels=(4, 8, 16), steps=4,
        batch_size=4, holdout=2, eval_plates=3, workers=0, checkpoint_every=2,
    )  # fmt: skip
    return SegmentTrainConfig(**{**values, **overrides})


def test_segmenter_training_writes_weights_manifest_report_and_resumes_exactly(tmp_path):
    hands_dir = fake_hands_dir(tmp_path / "hands")
    straight = train_segmenter(_tiny_config(hands_dir, tmp_path / "straight"))
    manifest = straight["manifest"]
    assert manifest.architecture == "hand-unet" and len(manifest.training["held_out_ids"]) == 2
    assert (tmp_path / "straight" / "report.md").read_text().count("|") > 10
    assert "clean_unet_dice_mean" in manifest.metrics and "mirrored_accuracy" in manifest.metrics
    # Stop after 2 steps, resume: the same weights to the last bit.
    stopped = train_segmenter(_tiny_config(hands_dir, tmp_path / "resumed", stop_after=2))
    assert stopped["stopped_after"] == 2
    train_segmenter(_tiny_config(hands_dir, tmp_path / "resumed", resume=True))
    assert sha256_of(tmp_path / "resumed" / manifest.filename) == manifest.sha256
    loaded = UNetSegmenter.load(tmp_path / "straight")
    assert loaded(np.random.default_rng(0).random((90, 70)).astype(np.float32)).shape == (90, 70)


@needs_segmenter
def test_shipped_segmenter_is_verified_and_documented():
    manifest = Manifest.load(DEFAULT_SEGMENTER_DIR / "manifest.json")
    assert sha256_of(DEFAULT_SEGMENTER_DIR / manifest.filename) == manifest.sha256
    assert manifest.training["command"].startswith("python train_segmenter.py")
    assert set(manifest.training["held_out_ids"]).isdisjoint(manifest.training["train_ids"])


@needs_segmenter
@needs_hires
def test_shipped_segmenter_dice_on_held_out_hands():
    segmenter = UNetSegmenter.load()
    held_out = segmenter.manifest.training["held_out_ids"]
    result = evaluate_segmenter(segmenter, HIRES_DIR, held_out, plates=24, seed=123)["per_set"]
    assert result["clean_unet"]["dice_mean"] > 0.95
    assert result["plates_unet"]["dice_mean"] > 0.9
    assert result["squashed_unet"]["dice_mean"] > 0.85


@functools.cache
def _served_chain() -> Chain:
    """The shipped model's chain, loaded once for this module's tests."""
    from boneage.weights import DEFAULT_WEIGHTS_DIR

    return Chain.load(
        PreprocessConfig.from_dict(Manifest.load(DEFAULT_WEIGHTS_DIR / "manifest.json").preprocess)
    )


@needs_segmenter
def test_gate_refuses_documents_photos_and_noise():
    config = _served_chain()
    assert config.config.segmenter == "unet"
    cases = [
        c for c in non_hand_cases() if c.name in {"camera-grey", "page", "text", "coins-inverted", "brick"}
    ]
    cases += list(document_cases(3, seed=11)) + list(generated_cases(4, seed=11))
    assert len(cases) >= 10
    taken = [case.name for case in cases if accepted(case.data, config)[0]]
    assert taken == []


@needs_segmenter
def test_gate_accepts_real_hand_radiographs(atlas_dir):
    config = _served_chain()
    for path in sorted((atlas_dir / "images").glob("*.png"))[::6]:
        ok, reason = accepted(path, config)
        assert ok, (path.stem, reason)


@needs_segmenter
def test_refusal_reason_is_plain_words():
    page = next(document_cases(1, seed=5))
    with pytest.raises(NotAHandRadiographError) as caught:
        preprocess(load_radiograph(page.data).pixels, _served_chain())
    assert "hand" in str(caught.value) and "Traceback" not in str(caught.value)


@needs_segmenter
def test_right_hands_and_sideways_films_are_turned_back(atlas_dir):
    segmenter = _served_chain().unet
    pixels = load_radiograph(atlas_dir / "images" / "M10.png").pixels
    assert orient_upright(pixels, segmenter)[1] == Orientation()
    assert orient_upright(np.ascontiguousarray(pixels[:, ::-1]), segmenter)[1].mirrored
    turned = orient_upright(np.ascontiguousarray(np.rot90(pixels, -1)), segmenter)[1]
    assert abs(abs(turned.rotated_degrees) - 90) < 25
    upside_down = orient_upright(np.ascontiguousarray(pixels[::-1, ::-1]), segmenter)[1]
    assert abs(abs(upside_down.rotated_degrees) - 180) < 25


@needs_segmenter
def test_mirrored_turned_and_inverted_uploads_keep_their_bone_age(atlas_dir):
    from boneage.predictor import Predictor

    predictor = Predictor.load()
    for name in ("F10", "M13", "M20"):
        pixels = load_radiograph(atlas_dir / "images" / f"{name}.png").pixels
        clean = predictor.predict_pixels(pixels, name.startswith("M"))
        for variant in (pixels[:, ::-1], np.rot90(pixels, 1), pixels[::-1, ::-1], 1.0 - pixels):
            months = predictor.predict_pixels(
                np.ascontiguousarray(variant, dtype=np.float32), name.startswith("M")
            )
            assert abs(months - clean) < 12, name


@needs_segmenter
def test_a_film_scanned_sideways_is_turned_back_exactly(atlas_dir):
    """A quarter turn is undone without resampling: the chain sees the very same film. The pose
    head reads the small hands (M04, M08, F03) 20-35 degrees short of the quarter turn."""
    config = _served_chain()
    for name in ("F10", "M13", "M20", "M04", "M08", "F03"):
        pixels = load_radiograph(atlas_dir / "images" / f"{name}.png").pixels
        clean = preprocess(pixels, config)
        for turns in (1, -1):
            turned = preprocess(np.ascontiguousarray(np.rot90(pixels, turns)), config)
            assert turned.orientation.rotated_degrees == -90.0 * turns, name
            np.testing.assert_array_equal(turned.upright, pixels)
            np.testing.assert_array_equal(turned.image, clean.image)


def test_pose_estimates_near_a_quarter_turn_are_taken_as_one():
    assert [nearest_quarter_turns(d) for d in (90.0, 52.0, 129.9, -83.0, -90.0)] == [1, 1, 1, -1, -1]
    assert [nearest_quarter_turns(d) for d in (0.0, 30.0, 49.0, -131.0, 180.0)] == [0] * 5


def test_film_area_leaves_out_flat_frames_only():
    film = np.random.default_rng(0).uniform(0.1, 0.9, (60, 40)).astype(np.float32)
    assert film_area(film).all()
    framed = cv2.copyMakeBorder(film, 12, 0, 5, 7, cv2.BORDER_CONSTANT, value=1.0)
    inside = film_area(framed)
    assert inside[12:, 5:45].all() and inside.sum() == film.size
    assert not film_area(np.full((30, 30), 0.5, np.float32)).any()


@needs_segmenter
def test_a_white_frame_is_not_taken_for_burnt_out_bone(atlas_dir):
    """The forearm runs off these plates; its outline ran on into the white pad, which counted
    as over-exposed bone, and the plates were refused."""
    config = _served_chain()
    for name in ("F00", "F01", "F13"):
        pixels = load_radiograph(atlas_dir / "images" / f"{name}.png").pixels
        top, side = int(0.3 * pixels.shape[0]), int(0.3 * pixels.shape[1])
        framed = cv2.copyMakeBorder(pixels, top, top, side, side, cv2.BORDER_CONSTANT, value=1.0)
        hand = preprocess(framed, config).source_mask  # refused as over-exposed before
        film = np.zeros_like(hand)
        film[top - 3 : top + pixels.shape[0] + 3, side - 3 : side + pixels.shape[1] + 3] = True
        assert hand.any() and not (hand & ~film).any(), name  # 3 px: the squash's rounding


def test_second_hand_ratio_compares_the_two_largest_outlines():
    binary = np.zeros((40, 60), bool)
    assert second_hand_ratio(binary) == 0.0
    binary[5:25, 5:15] = True  # 200 px
    assert second_hand_ratio(binary) == 0.0
    binary[5:15, 30:40] = True  # 100 px
    binary[30:32, 50:52] = True  # a marker: 4 px
    assert second_hand_ratio(binary) == pytest.approx(0.5)


@needs_segmenter
def test_both_hands_on_one_film_are_refused_with_a_reason(atlas_dir):
    """Read as one film, each hand was squashed to half its width: 7.9 months off, silently."""
    from boneage.words import error_message

    config = _served_chain()
    for name in ("F10", "M13", "M20"):
        pixels = load_radiograph(atlas_dir / "images" / f"{name}.png").pixels
        preprocess(pixels, config)  # one hand: accepted
        with pytest.raises(NotAHandRadiographError, match="more than one hand") as caught:
            preprocess(both_hands(pixels), config)
        assert caught.value.code == "two_hands" and caught.value.params["ratio"] > 0.4
        assert error_message(caught.value, "zh-TW").startswith("這張影像中看起來不只一隻手")


def test_rotate_expanded_keeps_every_pixel():
    pixels = np.zeros((100, 60), np.float32)
    pixels[10:90, 10:50] = 1.0
    turned = rotate_expanded(pixels, 90)
    assert turned.shape == (60, 100)
    assert abs(float(turned.sum()) - float(pixels.sum())) / float(pixels.sum()) < 0.02


def test_a_missing_unet_is_an_error_when_the_chain_is_built(tmp_path, monkeypatch):
    """No quiet fallback to another chain: a model that names the U-Net gets it or does not load."""
    monkeypatch.setenv("BONEAGE_SEGMENTER", str(tmp_path / "nothing-here"))
    with pytest.raises(ModelNotInstalledError):
        Chain.load(PreprocessConfig(size=64, segmenter="unet", correct_pose=True, check_wrist=False))
    assert Chain.load(PreprocessConfig(segmenter="classical", correct_pose=False)).networks == {}


def test_broken_segmenter_weights_are_an_error_too(tmp_path, monkeypatch):
    hands_dir = fake_hands_dir(tmp_path / "hands")
    train_segmenter(_tiny_config(hands_dir, tmp_path / "seg"))
    manifest = json.loads((tmp_path / "seg" / "manifest.json").read_text())
    (tmp_path / "seg" / manifest["filename"]).write_bytes(b"not weights")
    monkeypatch.setenv("BONEAGE_SEGMENTER", str(tmp_path / "seg"))
    with pytest.raises(WeightsIntegrityError):
        Chain.load(PreprocessConfig(size=64, segmenter="unet", check_wrist=False))


def _drawn_hand(fingers: int = 5) -> np.ndarray:
    """A hand-shaped mask: a palm and the first ``fingers`` of thumb and four fingers, spread."""
    mask = np.zeros((300, 260), np.uint8)
    cv2.ellipse(mask, (130, 215), (55, 50), 0, 0, 360, 1, -1)
    tips = [(20, 150), (60, 40), (115, 15), (170, 30), (225, 80)]
    roots = [(90, 220), (95, 190), (120, 180), (150, 185), (170, 200)]
    for root, tip in list(zip(roots, tips, strict=True))[:fingers]:
        cv2.line(mask, root, tip, 1, 20)
    return mask.astype(bool)


def test_finger_gaps_count_the_dents_between_fingers():
    assert finger_gaps(_drawn_hand()) == 4
    assert finger_gaps(_drawn_hand(2)) == 2  # a thumb and one finger
    assert finger_gaps(_drawn_hand(1)) == 1  # a mitten: only the thumb stands apart
    disc = cv2.circle(np.zeros((200, 200), np.uint8), (100, 100), 70, 1, -1).astype(bool)
    assert finger_gaps(disc) == 0 and finger_gaps(np.zeros((50, 50), bool)) == 0


@pytest.mark.parametrize(
    "fingers, confidence, doubtful", [(2, 0.92, True), (2, 0.96, False), (5, 0.92, False)]
)
def test_an_outline_without_clear_fingers_is_doubtful_unless_the_unet_is_sure(fingers, confidence, doubtful):
    """The moon and a turned retina were outlined as fist-like blobs at confidence 0.91-0.94."""
    mask = _drawn_hand(fingers)
    found = FoundHand(mask.astype(np.float32), mask, False, "unet", confidence)
    doubt = doubtful_fingers(found, PreprocessConfig())
    assert (doubt is not None) == doubtful
    if doubtful:
        assert doubt == {"finger_gaps": 2, "confidence": confidence}


@needs_segmenter
@pytest.mark.parametrize("film_id", ["14343", "7518"])
def test_a_real_hand_with_its_fingers_together_passes_on_its_clear_wrist(film_id):
    """RSNA films whose outline has few finger gaps and an unsure U-Net, like the moon's: the
    wrist check sees their wrist beyond doubt, and they are read; the moon's it does not."""
    path = SHARED_DATA / "rsna-train-299" / "boneage-training-dataset" / f"{film_id}.jpg"
    if not path.is_file():
        pytest.skip("no rsna-train-299")
    chain = _served_chain()
    assert accepted(path, chain) == (True, None)
    moon = next(c for c in non_hand_cases() if c.name == "moon")
    with pytest.raises(NotAHandRadiographError) as caught:
        preprocess(load_radiograph(moon.data).pixels, chain)
    assert caught.value.code == "no_fingers" and caught.value.params["finger_gaps"] < 3


@needs_segmenter
def test_the_moon_a_retina_and_other_medical_images_are_refused():
    """The four non-hands the gate took before (the moon three ways, a turned retina), and the
    harder set: CT, MR and ultrasound images, and crops of astronomy and microscopy photos."""
    pytest.importorskip("skimage")
    chain = _served_chain()
    before = [
        c for c in non_hand_cases() if c.name in {"moon", "moon-grey", "moon-inverted", "retina-turned"}
    ]
    harder = list(medical_cases()) + list(texture_crop_cases(16, seed=7))
    assert len(before) == 4 and len(harder) >= 30
    assert [case.name for case in before + harder if accepted(case.data, chain)[0]] == []


def test_non_hand_set_is_deterministic_and_varied():
    first, second = non_hand_cases(seed=3), non_hand_cases(seed=3)
    assert [c.data for c in first] == [c.data for c in second]
    assert len({c.category for c in first}) >= 7 and len(first) >= 350
