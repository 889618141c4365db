"""Upload quality: what the chain measures, the three outcomes, and each one through the app."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from boneage.chain.quality import blockiness, noise_grey_levels
from boneage.errors import UnreadableUploadError
from boneage.io.decode import load_radiograph
from boneage.meaning.quality import CompressionCurves, QualityCurves, QualityVerdict
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


def _points(*rows: tuple[float, float, float]) -> list[dict]:
    """(measured, extra error, shift p90) rows as a curve's points."""
    return [{"measured": m, "extra_error_months": e, "shift_p90_months": s} for m, e, s in rows]


CURVES = QualityCurves.from_dict(
    {
        "curves": {
            "noise": _points((0.3, 0.0, 0.0), (2.0, 2.0, 5.0), (8.0, 20.0, 40.0)),
            "size": _points((-270.0, 0.0, 0.0), (-100.0, 5.0, 12.0)),
        }
    }
)


class _Measured:
    def __init__(self, noise=0.2, block=1.2, hand=270):
        self.noise_grey_levels, self.blockiness, self.hand_px = noise, block, hand
        self.jpeg_quality = None


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


def test_a_second_look_is_cautioned_even_where_its_measured_cost_is_small():
    """A film read only on the second look keeps its caution when a slight noise curve adds
    more than the second look's small measured extra error, but not enough for a caution."""
    curves = QualityCurves(list(CURVES.curves.values()), second_look=(0.2, 12.0))
    slight = curves.judge(_Measured(noise=0.5), second_look="field")  # noise adds 0.24
    assert (slight.outcome, slight.kind, slight.shift_p90_months) == ("caution", "field", 12.0)
    noisy = curves.judge(_Measured(noise=2.0), second_look="margin")  # a caution of its own
    assert (noisy.outcome, noisy.kind) == ("caution", "noise")
    assert curves.judge(_Measured(noise=0.5)).outcome == "answer"


@pytest.mark.parametrize("quality", [20, 35, 50, 60, 75, 90, 92, 95])
def test_a_jpegs_quality_is_read_from_its_own_tables(quality):
    image = (np.random.default_rng(quality).random((64, 80)) * 255).astype(np.uint8)
    assert load_radiograph(_bytes(image, "JPEG", quality=quality)).metadata["jpeg_quality"] == quality
    assert "jpeg_quality" not in load_radiograph(_bytes(image)).metadata  # a PNG has none


COMPRESSION = CompressionCurves.from_dict(
    {
        "reference_hand_px": 270.0,
        "by_scale": {
            "1": _points((0.0, 0.0, 0.0), (40.0, 5.0, 20.0), (80.0, 25.0, 60.0)),
            "4": _points((0.0, 0.0, 0.0), (80.0, 0.5, 2.0)),
        },
    }
)


def test_the_same_jpeg_quality_costs_a_large_upload_less():
    assert COMPRESSION.at(60, 270) == (5.0, 20.0)
    assert COMPRESSION.at(60, 100) == (5.0, 20.0)  # below the measured sizes: held (size has its own curve)
    assert COMPRESSION.at(20, 270 * 4) == (0.5, 2.0)
    assert COMPRESSION.at(20, 270 * 20) == (0.5, 2.0)
    midway = COMPRESSION.at(20, 270 * 2)[0]  # halfway in log scale between the two sizes
    assert midway == pytest.approx((25.0 + 0.5) / 2)
    curves = QualityCurves([], COMPRESSION)
    small = _Measured(hand=270)
    small.jpeg_quality = 40
    verdict = curves.judge(small)
    assert (verdict.outcome, verdict.kind) == ("refuse", "compression")
    large = _Measured(hand=270 * 4)
    large.jpeg_quality = 40
    assert curves.judge(large).outcome == "answer"
    png = _Measured(hand=270)
    png.jpeg_quality = None
    assert curves.judge(png).outcome == "answer"


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


# --- JPEG files, judged by their own quality and their size -----------------------------------


@needs_film
@needs_curves
def test_a_small_jpeg_is_judged_by_its_quality_and_a_large_one_is_not(shipped, tmp_path):
    """The same quality-50 JPEG: a caution or a refusal at the films' own 299 px, answered as it
    is at four times the size (the squash to 299 px averages its blocks away). The RSNA film as
    shipped (quality 92) is answered without a caution."""
    if not (SHIPPED.quality or {}).get("compression"):
        pytest.skip("the shipped manifest has no JPEG curves")
    film = _film()
    small, large, original = tmp_path / "small.jpg", tmp_path / "large.jpg", RSNA_FILM
    small.write_bytes(_bytes(film, "JPEG", quality=50))
    large.write_bytes(
        _bytes(np.asarray(Image.fromarray(film).resize((1196, 1196), Image.BICUBIC)), "JPEG", quality=50)
    )
    try:
        verdict = shipped.analyse(small, "male", 100).quality
        assert (verdict.outcome, verdict.kind) == ("caution", "compression")
    except UnreadableUploadError as refused:
        assert refused.code == "too_compressed"
    assert shipped.analyse(large, "male", 100).quality.outcome == "answer"
    as_shipped = shipped.analyse(original, "male", 100).to_dict()["quality"]
    assert as_shipped["outcome"] == "answer" and as_shipped["jpeg_quality"] == 92


# --- a second look inside a collimated field ---------------------------------------------------


def test_a_collimated_field_is_found_and_a_photograph_has_none():
    from boneage.chain.gate import collimated_field

    film = np.full((300, 240), 0.05, np.float32)
    film[40:260, 30:200] = 0.45  # the exposed field
    film[80:220, 70:160] += 0.3  # something in it
    field = collimated_field(film)
    assert np.allclose(field.bounds, (30, 40, 200, 260), atol=2)  # Otsu on a blurred copy
    assert abs(field.degrees) < 1 and len(views := list(field.views(film))) == 1  # no turn: one view
    assert views[0].shape == pytest.approx((220, 170), abs=3)
    ramp = np.tile(np.linspace(0, 1, 240, dtype=np.float32), (300, 1))
    assert collimated_field(ramp) is None
    skimage = pytest.importorskip("skimage.data")
    assert collimated_field(skimage.camera().astype(np.float32) / 255) is None


@pytest.mark.parametrize("degrees", [25.0, -38.0, 70.0])
def test_a_turned_field_is_cut_out_square_without_its_surround(degrees):
    """A film lying turned on the scanner: the field is found at its angle (the smaller of the
    two ways to name it) and cut out turned square, with none of the dark surround."""
    from boneage.chain.gate import collimated_field

    film = np.full((420, 420), 0.05, np.float32)
    corners = cv2.boxPoints(((210, 200), (180, 250), degrees)).astype(np.int32)
    cv2.fillPoly(film, [corners], 0.5)
    field = collimated_field(film)
    turn = (degrees + 45) % 90 - 45
    assert abs(field.degrees - turn) < 1.5 and sorted(field.size) == pytest.approx([180, 250], abs=4)
    box, cut = list(field.views(film))
    assert (box == 0.05).mean() > 0.15  # the box around a turned field keeps surround corners
    assert cut.min() > 0.4 and sorted(cut.shape) == pytest.approx([175, 243], abs=5)


COLLIMATED_FILM = SHARED_DATA / "rsna-train-299" / "boneage-training-dataset" / "1607.jpg"


@pytest.mark.skipif(not COLLIMATED_FILM.is_file(), reason="no rsna-train-299")
@needs_curves
@pytest.mark.parametrize("lang, words", [("en", "collimated field"), ("zh-TW", "照射範圍")])
def test_a_collimated_film_is_read_inside_its_field_with_a_caution(handlers, shipped, lang, words):
    """RSNA film 1607: a hand in a bright collimation rectangle on a dark surround, which the
    first look refused ('outline unsure'). It is now read inside the field, and says so."""
    from boneage.chain.preprocess import _read

    pixels = load_radiograph(COLLIMATED_FILM).pixels
    with pytest.raises(Exception) as first_look:
        _read(_formed(pixels, shipped), shipped.chain)
    assert getattr(first_look.value, "code", None) == "outline_unsure"
    result = shipped.analyse(COLLIMATED_FILM, "female", 120)
    assert result.preprocessed.second_look == "field" and "collimated field" in result.preprocessed.segmenter
    if (SHIPPED.quality or {}).get("second_look"):
        assert (result.quality.outcome, result.quality.kind) == ("caution", "field")
        card, *_ = handlers.estimate(str(COLLIMATED_FILM), "female", 10, 0, lang)
        assert words in card


def _formed(pixels, predictor):
    from boneage.chain.orientation import orient_upright
    from boneage.chain.source import apply_source_transform

    upright, _ = orient_upright(pixels, predictor.chain.unet)
    return apply_source_transform(upright, predictor.chain.config.source_transform)


TURNED_FILMS = {
    "2626": "a film lying at 45 degrees, its corners off the image",
    "3583": "a film turned 30 degrees in a black frame, faint",
    "1799": "a field only a little brighter than its surround",
}


@needs_curves
@pytest.mark.parametrize("film_id", sorted(TURNED_FILMS))
def test_a_turned_or_faint_field_is_read_with_a_caution(shipped, film_id):
    """RSNA films the second look refused while it read only the box around a field, with the
    chain's pose left on the whole image: now it cuts the field out and runs the whole chain."""
    path = COLLIMATED_FILM.with_name(f"{film_id}.jpg")
    if not path.is_file():
        pytest.skip("no rsna-train-299")
    result = shipped.analyse(path, "female", 120)
    assert result.preprocessed.second_look == "field", TURNED_FILMS[film_id]
    assert result.preprocessed.upright is not None  # the outline is drawn on the field as read
    assert result.preprocessed.source_mask.shape == result.preprocessed.upright.shape
    if (SHIPPED.quality or {}).get("second_look"):
        assert (result.quality.outcome, result.quality.kind) == ("caution", "field")


@pytest.mark.parametrize("lang, words", [("en", "small part of this image"), ("zh-TW", "只佔一小部分")])
def test_a_film_too_small_in_its_image_is_refused_with_what_to_upload(handlers, shipped, lang, words):
    """RSNA film 3145: a film about 128 px long pasted on a black canvas. The first look found
    no confident outline; the second look finds the film, too small to read, and says so."""
    path = COLLIMATED_FILM.with_name("3145.jpg")
    if not path.is_file():
        pytest.skip("no rsna-train-299")
    with pytest.raises(UnreadableUploadError) as caught:
        shipped.analyse(path, "male", 100)
    assert caught.value.code == "film_too_small" and 110 < caught.value.params["side"] < 150
    card, *_panels, details = handlers.estimate(str(path), "male", 8, 4, lang)
    assert words in card and "error" in details


ATLAS_M24 = SHARED_DATA / "atlas-pedrad" / "images" / "M24.png"


@pytest.mark.skipif(not ATLAS_M24.is_file(), reason="no atlas-pedrad")
@needs_curves
@pytest.mark.parametrize("lang, words", [("en", "margin added around the image"), ("zh-TW", "加上邊框")])
def test_a_hand_cropped_to_its_fingertips_is_read_with_a_margin_and_a_caution(handlers, shipped, lang, words):
    """Atlas plate M24, cropped so close that the fingers touch the top edge: the U-Net's
    outline was unsure (0.905), and the plate refused. With a margin of its own background
    around it, the outline is sure, and the plate answered with a caution that says why."""
    result = shipped.analyse(ATLAS_M24, "male", 160)
    assert result.preprocessed.second_look == "margin"
    assert result.preprocessed.segmenter == "unet with a margin around the image"
    if (SHIPPED.quality or {}).get("second_look"):
        assert (result.quality.outcome, result.quality.kind) == ("caution", "margin")
        card, *_ = handlers.estimate(str(ATLAS_M24), "male", 13, 4, lang)
        assert words in card
