"""Upload quality: what the chain measures, the three outcomes, and each one through the app."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from boneage.chain.quality import blockiness, noise_grey_levels
from boneage.errors import UnreadableUploadError
from boneage.meaning.quality import QualityCurves, QualityVerdict
from boneage.weights import DEFAULT_WEIGHTS_DIR, Manifest
from conftest import SHARED_DATA

RSNA_FILM = SHARED_DATA / "rsna-train-299" / "boneage-training-dataset" / "1377.jpg"
needs_film = pytest.mark.skipif(not RSNA_FILM.is_file(), reason="no rsna-train-299")
SHIPPED = Manifest.load(DEFAULT_WEIGHTS_DIR / "manifest.json")
needs_curves = pytest.mark.skipif(not SHIPPED.quality, reason="the shipped manifest has no quality curves")


def _film() -> np.ndarray:
    return np.asarray(Image.open(RSNA_FILM).convert("L"))


def _noisy(film: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    grain = np.random.default_rng(seed).normal(0, sigma, film.shape)
    return np.clip(film + grain, 0, 255).astype(np.uint8)


def _bytes(film: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(film).save(buffer, fmt, **options)
    return buffer.getvalue()


def test_noise_is_measured_in_grey_levels_and_a_smooth_image_has_none():
    ramp = np.tile(np.linspace(0.2, 0.8, 256, dtype=np.float32), (256, 1))
    assert noise_grey_levels(ramp) < 0.3
    for sigma in (2.0, 4.0, 8.0):
        grain = np.random.default_rng(1).normal(0, sigma / 255, ramp.shape).astype(np.float32)
        assert noise_grey_levels(ramp + grain) == pytest.approx(sigma, rel=0.1)


@needs_film
def test_jpeg_blocks_are_measured_and_the_training_films_have_few():
    film = _film().astype(np.float32) / 255
    assert blockiness(film) < 1.4  # the training films are JPEG quality 92
    compressed = (
        np.asarray(Image.open(io.BytesIO(_bytes(_film(), "JPEG", quality=20)))).astype(np.float32) / 255
    )
    assert blockiness(compressed) > 2.0
    assert blockiness(cv2.GaussianBlur(film, (0, 0), 2.0)) < 1.2


CURVES = QualityCurves.from_dict(
    {
        "curves": {
            "noise": [
                {"measured": 0.3, "extra_error_months": 0.0, "shift_p90_months": 0.0},
                {"measured": 2.0, "extra_error_months": 2.0, "shift_p90_months": 5.0},
                {"measured": 8.0, "extra_error_months": 20.0, "shift_p90_months": 40.0},
            ],
            "size": [
                {"measured": -270.0, "extra_error_months": 0.0, "shift_p90_months": 0.0},
                {"measured": -100.0, "extra_error_months": 5.0, "shift_p90_months": 12.0},
            ],
        }
    }
)


class _Measured:
    def __init__(self, noise=0.2, block=1.2, hand=270):
        self.noise_grey_levels, self.blockiness, self.hand_px = noise, block, hand


def test_the_outcome_follows_the_measured_curve():
    assert CURVES.judge(_Measured()).outcome == "answer"
    assert CURVES.judge(_Measured(noise=0.5)) == QualityVerdict(
        "answer", "good", pytest.approx(0.24, abs=0.01), 0.0
    )
    caution = CURVES.judge(_Measured(noise=2.0))
    assert (caution.outcome, caution.kind, caution.shift_p90_months) == ("caution", "noise", 5.0)
    assert CURVES.judge(_Measured(noise=4.0)).outcome == "refuse"
    small = CURVES.judge(_Measured(hand=100))
    assert (small.outcome, small.kind, small.extra_error_months) == ("caution", "size", 5.0)
    worse = CURVES.judge(_Measured(noise=2.5, hand=100))  # the kind that adds most error decides
    assert worse.kind == "size" or worse.extra_error_months >= small.extra_error_months


@pytest.fixture(scope="module")
def handlers():
    from boneage.web.handlers import Handlers
    from boneage.web.served import ServedModel

    return Handlers(ServedModel.start(), share_secret=b"test")


@pytest.fixture(scope="module")
def shipped():
    from boneage.predictor import Predictor

    return Predictor.load()


def _level(kind: str, outcome: str) -> float:
    """A measured level of ``kind`` that the shipped curves give ``outcome``: for a caution, where
    the extra error is midway between answering and refusing; for a refusal, the worst level."""
    from boneage.meaning.quality import ANSWER_WITHIN_MONTHS, REFUSE_BEYOND_MONTHS

    points = SHIPPED.quality["curves"][kind]
    if outcome == "refuse":
        return points[-1]["measured"]
    extra, measured = [points[0]["extra_error_months"]], [points[0]["measured"]]
    for point in points[1:]:
        if point["extra_error_months"] > extra[-1]:
            extra.append(point["extra_error_months"])
            measured.append(point["measured"])
    return float(np.interp((ANSWER_WITHIN_MONTHS + REFUSE_BEYOND_MONTHS) / 2, extra, measured))


@needs_film
@needs_curves
def test_a_clean_film_and_a_tight_crop_are_answered_without_a_caution(shipped, tmp_path):
    film = _film()
    for name, image in (("clean", film), ("tight", film[20:280, 30:270])):
        (tmp_path / f"{name}.png").write_bytes(_bytes(image))
        result = shipped.analyse(tmp_path / f"{name}.png", "male", 100)
        assert result.quality.outcome == "answer", (name, result.to_dict()["quality"])
        assert result.to_dict()["quality"]["shift_p90_months"] == 0.0


@needs_film
@needs_curves
@pytest.mark.parametrize("lang, words", [("en", "Read with caution"), ("zh-TW", "請謹慎解讀")])
def test_a_noisy_film_is_answered_with_a_caution_and_a_wider_interval(
    handlers, shipped, tmp_path, lang, words
):
    sigma = _level("noise", "caution")
    clean, noisy = tmp_path / "clean.png", tmp_path / "noisy.png"
    clean.write_bytes(_bytes(_film()))
    noisy.write_bytes(_bytes(_noisy(_film(), sigma)))
    card, *_panels, details = handlers.estimate(str(noisy), "male", 8, 4, lang)
    assert words in card and _panels[0]["value"] is not None  # answered: the outline is shown
    result = shipped.analyse(noisy, "male", 100).to_dict()
    assert result["quality"]["outcome"] == "caution" and result["quality"]["code"] == "noise"
    plain = shipped.analyse(clean, "male", 100).to_dict()
    width = result["interval"]["high_months"] - result["interval"]["low_months"]
    assert width > plain["interval"]["high_months"] - plain["interval"]["low_months"]


@needs_film
@needs_curves
@pytest.mark.parametrize("lang, words", [("en", "original file"), ("zh-TW", "原始檔案")])
def test_a_film_too_noisy_to_read_is_refused_with_what_to_upload_instead(
    handlers, shipped, tmp_path, lang, words
):
    path = tmp_path / "noisy.png"
    path.write_bytes(_bytes(_noisy(_film(), _level("noise", "refuse"))))
    with pytest.raises(UnreadableUploadError) as caught:
        shipped.analyse(path, "male", 100)
    assert caught.value.code == "too_noisy" and caught.value.params["extra_error_months"] > 6
    card, *_panels, details = handlers.estimate(str(path), "male", 8, 4, lang)
    assert words in card and "error" in details


@needs_film
@needs_curves
@pytest.mark.parametrize(
    "lang, words", [("en", ("Read with caution", "too small")), ("zh-TW", ("請謹慎解讀", "太小"))]
)
def test_a_100_pixel_thumbnail_gets_a_caution_or_a_refusal(handlers, tmp_path, lang, words):
    path = tmp_path / "thumbnail.png"
    path.write_bytes(_bytes(np.asarray(Image.fromarray(_film()).resize((100, 100), Image.BILINEAR))))
    card, *_ = handlers.estimate(str(path), "male", 8, 4, lang)
    assert any(word in card for word in words)
