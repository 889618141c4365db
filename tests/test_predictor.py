from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from boneage.errors import InvalidAgeError, InvalidImageError, InvalidSexError, WeightsIntegrityError
from boneage.predictor import BackgroundPredictor, Predictor, analyse
from boneage.report.card import (
    DISPLAY_SIDE,
    model_view,
    no_model_markdown,
    overlay_hand,
    preview_image,
    result_markdown,
)
from boneage.weights import Manifest, ResolvedWeights, resolve_weights


@pytest.fixture(scope="module")
def predictor(trained_weights: Path) -> Predictor:
    return Predictor.load(explicit=trained_weights)


def test_prediction_result(predictor: Predictor, hand_png: Path):
    result = predictor.analyse(hand_png, "female", 120)
    assert 0 <= result.bone_age_months <= 240
    assert result.gap_months == pytest.approx(result.bone_age_months - 120)
    assert result.preprocessed.image.shape == (64, 64)  # the manifest's preprocessing size
    assert result.model.name == "seed-cnn-64" and result.model.source == "explicit"
    summary = result.to_dict()
    assert summary["interpretation"]["category"] in {"normal", "advanced", "delayed"}
    assert summary["expected_error_months"] == predictor.manifest.metrics["val_mae_months"]
    assert summary["image"]["width"] == 320
    assert set(summary["timing_ms"]) == {"decode", "preprocess", "model"}
    assert all(ms >= 0 for ms in summary["timing_ms"].values())


def test_same_input_same_answer(predictor: Predictor, hand_png: Path):
    first = predictor.analyse(hand_png, "male", 60).bone_age_months
    assert predictor.analyse(hand_png, "male", 60).bone_age_months == first


def test_report_card_says_what_it_means(predictor: Predictor, hand_png: Path):
    result = predictor.analyse(hand_png, "male", 60)
    card = result_markdown(result)
    assert f"{result.bone_age_months:.0f} months" in card
    assert "Typical error" in card
    assert "Not a diagnosis" not in card  # shown once on the page, not in every card
    assert overlay_hand(result).shape[2] == 3
    view = model_view(result)
    assert view.shape == (384, 384, 3)  # 64 px input shown 6x by pixel repetition
    np.testing.assert_array_equal(
        view[::6, ::6, 0], np.round(result.preprocessed.image * 255).astype(np.uint8)
    )


def test_without_a_model_the_chain_still_runs_and_says_so(hand_png: Path):
    result = analyse(hand_png, "female", 100, predictor=None)
    assert result.bone_age_months is None and result.model is None
    assert result.preprocessed.image.shape == (384, 384)
    assert result_markdown(result) == no_model_markdown()
    assert "no trained model is installed" in no_model_markdown().lower()


@pytest.mark.parametrize(
    "sex, age, error",
    [
        ("alien", 100, InvalidSexError),
        ("female", -3, InvalidAgeError),
        ("female", 300, InvalidAgeError),
        (None, 100, InvalidSexError),
        ("male", float("nan"), InvalidAgeError),
    ],
)
def test_bad_inputs(predictor: Predictor, hand_png: Path, sex, age, error):
    with pytest.raises(error):
        predictor.analyse(hand_png, sex, age)


def test_bad_file(predictor: Predictor, tmp_path: Path):
    bad = tmp_path / "fake.png"
    bad.write_text("not an image")
    with pytest.raises(InvalidImageError):
        predictor.analyse(bad, "female", 100)


def test_batch_prediction_matches_single(predictor: Predictor, hand_png: Path):
    image = predictor.analyse(hand_png, "female", 100).preprocessed.image
    batch = predictor.predict_months([image, image], [False, True])
    single = predictor.predict_months([image], [False])
    np.testing.assert_allclose(batch[0], single[0], rtol=1e-5)


def test_preview_is_capped_at_display_size():
    big = np.random.default_rng(0).uniform(0, 1, (2000, 1500)).astype(np.float32)
    assert preview_image(big).shape == (DISPLAY_SIDE, 576, 3)
    small = np.zeros((300, 200), np.float32)
    assert preview_image(small).shape == (300, 200, 3)  # never enlarged


def test_background_predictor_gives_the_same_model(
    predictor: Predictor, trained_weights: Path, hand_png: Path
):
    background = BackgroundPredictor(resolve_weights(trained_weights))
    assert background.info == predictor.info  # known before the model is built
    loaded = background.get(timeout=60)
    a = loaded.analyse(hand_png, "male", 100).bone_age_months
    assert a == pytest.approx(predictor.analyse(hand_png, "male", 100).bone_age_months, abs=1e-4)


def test_background_predictor_hands_a_build_failure_to_every_caller(trained_weights: Path):
    resolved = resolve_weights(trained_weights)
    manifest = Manifest.from_dict({**resolved.manifest.to_dict(), "architecture_kwargs": {"input_size": 96}})
    background = BackgroundPredictor(ResolvedWeights(manifest, resolved.path, resolved.source))
    for _ in range(2):
        with pytest.raises(WeightsIntegrityError, match="do not fit"):
            background.get(timeout=60)


def test_tta_views_in_the_manifest_are_averaged(predictor: Predictor, hand_pixels):
    """With TTA views the prediction is the mean over the views, each through the same model."""
    from dataclasses import replace

    from boneage.chain.preprocess import preprocess
    from boneage.chain.views import affine

    image = preprocess(hand_pixels, predictor.chain).image
    views = [{}, {"scale": 0.9}, {"angle": 5.0}]
    with_tta = Predictor(predictor.model, replace(predictor.manifest, tta=views))
    singles = [
        float(predictor.predict_months([affine(image, **v) if v else image], [True])[0]) for v in views
    ]
    assert float(with_tta.predict_months([image], [True])[0]) == pytest.approx(np.mean(singles), abs=1e-3)
    assert len(set(np.round(singles, 3))) > 1, "the views really differ"


def test_a_single_tta_view_replaces_the_image_as_is(predictor: Predictor, hand_pixels):
    """A one-view set (``zoomout``) reads only that view: one pass, not the image as is."""
    from dataclasses import replace

    from boneage.chain.preprocess import preprocess
    from boneage.chain.views import TTA_VIEWS, affine

    image = preprocess(hand_pixels, predictor.chain).image
    (view,) = TTA_VIEWS["zoomout"]
    zoomed_out = Predictor(predictor.model, replace(predictor.manifest, tta=TTA_VIEWS["zoomout"]))
    as_is = float(predictor.predict_months([image], [True])[0])
    expected = float(predictor.predict_months([affine(image, **view)], [True])[0])
    assert float(zoomed_out.predict_months([image], [True])[0]) == pytest.approx(expected, abs=1e-4)
    assert abs(expected - as_is) > 1e-3, "the view really differs from the image as is"


def test_the_image_shown_is_the_one_view_the_model_reads(predictor: Predictor, hand_png):
    """With one served view, "what the model looked at" and its heatmap are that view, not the
    chain's image as is; without views (or with several) they are the chain's image."""
    from dataclasses import replace

    from boneage.chain.views import TTA_VIEWS, affine
    from boneage.report.card import heatmap_view, model_view

    plain = predictor.analyse(hand_png, "male", 100, heatmap=True)
    assert plain.model_image is None and plain.model_input is plain.preprocessed.image
    zoomed_out = Predictor(predictor.model, replace(predictor.manifest, tta=TTA_VIEWS["zoomout"]))
    result = zoomed_out.analyse(hand_png, "male", 100, heatmap=True)
    expected = affine(result.preprocessed.image, **TTA_VIEWS["zoomout"][0])
    np.testing.assert_array_equal(result.model_input, expected)
    assert result.bone_age_months == pytest.approx(
        float(predictor.predict_months([expected], [True])[0]), abs=1e-4
    )
    np.testing.assert_allclose(result.heatmap, predictor.heatmap(expected, True), atol=1e-5)
    assert not np.array_equal(model_view(result), model_view(plain))
    assert heatmap_view(result).shape == model_view(result).shape
    several = Predictor(predictor.model, replace(predictor.manifest, tta=TTA_VIEWS["zoom2"]))
    assert several.analyse(hand_png, "male", 100).model_image is None


def test_heatmaps_while_other_requests_run_the_same_model(predictor: Predictor, hand_pixels):
    """Gradio answers requests on threads: a heatmap must not pick up another request's pass.

    Before the hooks kept to their own thread, Grad-CAM failed now and then under load with
    'One of the differentiated Tensors does not require grad'.
    """
    from concurrent.futures import ThreadPoolExecutor

    from boneage.chain.preprocess import preprocess

    image = preprocess(hand_pixels, predictor.chain).image
    expected = predictor.heatmap(image, True)
    assert expected.max() > 0

    def predictions(_):
        for _ in range(20):
            predictor.predict_months([image], [False])

    def heatmaps(_):
        return [predictor.heatmap(image, True) for _ in range(10)]

    with ThreadPoolExecutor(6) as pool:
        busy = [pool.submit(predictions, i) for i in range(3)]
        maps = [pool.submit(heatmaps, i) for i in range(3)]
        for future in busy:
            future.result()
        for future in maps:
            for heat in future.result():
                np.testing.assert_allclose(heat, expected, atol=1e-5)
