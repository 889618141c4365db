"""Bad input, generated: a corpus of broken uploads and property-based mutations.

Every bad upload must end in one typed :class:`BoneAgeError` whose message is fit for the UI,
both from the library and from the app's handler; memory stays bounded on the way.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import gradio as gr
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from badfiles import BAD_AGES, BAD_SEXES, BadFile, bad_file_corpus, encode, png_bomb
from boneage.errors import BoneAgeError, InvalidAgeError, InvalidSexError
from boneage.io.decode import MAX_PIXELS, load_radiograph
from boneage.io.inputs import age_from_years_months, parse_age_months, parse_sex
from boneage.predictor import analyse
from boneage.words import error_title
from helpers import assert_friendly, synthetic_hand

CORPUS = bad_file_corpus()


def test_corpus_is_large_and_covers_every_kind_of_damage():
    assert len(CORPUS) >= 200
    kinds = {"zero-bytes", "truncated", "crc", "claims", "bomb", "html", "script", "random-bytes", "dicom"}
    assert all(any(kind in case.name for case in CORPUS) for kind in kinds)


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.name)
def test_bad_file_gets_its_typed_error_and_a_friendly_message(case: BadFile, tmp_path: Path):
    path = tmp_path / case.filename
    path.write_bytes(case.data)
    with pytest.raises(BoneAgeError) as caught:
        analyse(path, "female", 100)
    assert type(caught.value) is case.expected
    assert_friendly(str(caught.value))


@pytest.fixture(scope="module")
def handlers():
    from boneage.web.handlers import Handlers
    from boneage.web.served import ServedModel

    # with the shipped model, if any: bad input is refused before the model runs
    return Handlers(ServedModel.start(), share_secret=b"test")


@pytest.mark.parametrize("case", CORPUS[::5], ids=lambda case: case.name)
def test_ui_handler_shows_the_library_message(case: BadFile, tmp_path: Path, handlers):
    path = tmp_path / case.filename
    path.write_bytes(case.data)
    with pytest.raises(case.expected) as expected:
        analyse(path, "female", 100)
    card, *panels, details = handlers.estimate(str(path), "female", 8, 4, "en")
    # One message in the result card; the other panels emptied and hidden (no error badge on each).
    assert str(expected.value) in card and error_title(expected.value) in card
    # outline, model view, heatmap (its switch decides), chart, height chart, report button and
    # file, share button, link and send button
    assert all(panel.get("value") is None for panel in panels)
    assert [panel.get("visible") for panel in panels] == [False, False, None, *[False] * 7]
    assert details == {"error": str(expected.value)}


@pytest.mark.parametrize("age", BAD_AGES, ids=repr)
def test_bad_age_is_refused(age, hand_png: Path):
    with pytest.raises(InvalidAgeError) as caught:
        analyse(hand_png, "male", age)
    assert_friendly(str(caught.value))


@pytest.mark.parametrize("sex", BAD_SEXES, ids=repr)
def test_bad_or_missing_sex_is_refused(sex, hand_png: Path):
    with pytest.raises(InvalidSexError) as caught:
        analyse(hand_png, sex, 100)
    assert_friendly(str(caught.value))


@pytest.mark.parametrize(
    "years, months", [(None, None), ("", ""), (None, 0), (-1, 0), (21, 0), (5, 12), (float("nan"), 0)]
)
def test_ui_age_fields_are_checked(years, months, hand_png: Path, handlers):
    card, *_, details = handlers.estimate(str(hand_png), "male", years, months, "en")
    assert "Check the age" in card
    assert "Please check the form" in card and "this image" not in card  # the image was fine
    assert_friendly(details["error"])


def test_missing_upload_and_sex_in_the_ui(hand_png: Path, handlers):
    assert "upload" in handlers.estimate(None, "male", 5, 0, "en")[0]
    assert "Please check the form" in handlers.estimate(None, "male", 5, 0, "en")[0]
    assert "sex" in handlers.estimate(str(hand_png), None, 5, 0, "en")[0]
    chinese = handlers.estimate(str(hand_png), None, 5, 0, "zh-TW")[0]
    assert "請選擇孩子的性別" in chinese and "請選擇性別" in chinese and "請檢查表單" in chinese


def test_an_unreadable_upload_is_blamed_on_the_image(tmp_path: Path, handlers):
    fake = tmp_path / "xray.png"
    fake.write_text("this is not an image")
    card = handlers.estimate(str(fake), "male", 5, 0, "en")[0]
    assert "We could not use this image" in card and "Please check the form" not in card


# --- property-based: any mutation of a valid file is either decoded or refused with a typed error

VALID = {
    fmt: encode(__import__("PIL.Image").Image.fromarray(synthetic_hand(120)), fmt)
    for fmt in ("PNG", "JPEG", "TIFF", "BMP", "GIF", "WEBP")
}


@st.composite
def mutated_files(draw) -> bytes:
    data = bytearray(VALID[draw(st.sampled_from(sorted(VALID)))])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "truncate", "insert", "overwrite", "delete"]))
        if action == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif action == "truncate":
            del data[at:]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif action == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=256))
            data[at : at + len(chunk)] = chunk
        else:
            del data[at : at + draw(st.integers(1, 256))]
        if not data:
            break
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_files())
def test_mutated_images_never_escape_as_untyped_errors(data: bytes):
    try:
        result = analyse(data, "male", 96)
    except BoneAgeError as exc:
        assert_friendly(str(exc))
    else:
        assert result.preprocessed.image.shape == (384, 384)
        assert math.isfinite(float(result.preprocessed.image.mean()))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**30), 10**30), st.text(), st.none()
    )
)
def test_age_parsing_accepts_only_finite_ages_from_0_to_20_years(value):
    try:
        months = parse_age_months(value)
    except InvalidAgeError:
        return
    assert 0.0 <= months <= 240.0 and math.isfinite(months)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.floats(allow_nan=True), st.integers(), st.text(), st.none()),
    st.one_of(st.floats(allow_nan=True), st.integers(), st.text(), st.none()),
)
def test_years_and_months_fields_are_validated(years, months):
    try:
        total = age_from_years_months(years, months)
    except InvalidAgeError as exc:
        assert_friendly(str(exc))
        return
    assert 0.0 <= total <= 240.0


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.integers(), st.floats(allow_nan=True), st.booleans(), st.none()))
def test_sex_is_male_female_or_refused(value):
    with contextlib.suppress(InvalidSexError):
        assert parse_sex(value) in ("male", "female")


# --- memory: decoding is bounded by the pixel limit, not by what a header claims


def _peak_rss_increase_mb(fn) -> float:
    """Run ``fn`` and return how far the resident-set high-water mark rose above the start (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        pytest.skip("needs /proc/self/clear_refs (Linux) to measure peak memory")

    def read(field: str) -> int:
        line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(field))
        return int(line.split()[1]) // 1024

    before = read("VmRSS")
    with contextlib.suppress(BoneAgeError):
        fn()
    return read("VmHWM") - before


@pytest.mark.parametrize(
    "case", [c for c in CORPUS if "claims" in c.name or "bomb" in c.name], ids=lambda c: c.name
)
def test_oversized_claims_are_refused_before_decoding(case: BadFile):
    assert _peak_rss_increase_mb(lambda: load_radiograph(case.data)) < 32


def test_largest_allowed_image_costs_a_bounded_amount_of_memory():
    side = int(math.sqrt(MAX_PIXELS)) - 1  # a real bomb just under the limit: 47 kB on disk
    bomb = png_bomb(side, side)
    increase = _peak_rss_increase_mb(lambda: load_radiograph(bomb))
    assert increase < 8 * MAX_PIXELS / 2**20  # under 8 bytes per allowed pixel (about 380 MB)


def test_ui_says_plainly_when_the_model_failed_to_build(trained_weights: Path, hand_png: Path):
    from boneage.predictor import BackgroundPredictor
    from boneage.web.api import Endpoints
    from boneage.web.handlers import Handlers
    from boneage.web.served import ServedModel
    from boneage.weights import Manifest, ResolvedWeights, resolve_weights

    resolved = resolve_weights(trained_weights)
    wrong = Manifest.from_dict({**resolved.manifest.to_dict(), "architecture_kwargs": {"input_size": 96}})
    served = ServedModel(BackgroundPredictor(ResolvedWeights(wrong, resolved.path, "local")), "model_status")
    card = Handlers(served, share_secret=b"test").estimate(str(hand_png), "male", 8, 0, "en")[0]
    assert "No model" in card and "could not be loaded" in card
    with pytest.raises(gr.Error) as caught:
        Endpoints(served).predict(str(hand_png), "male", 96)
    assert caught.value.title == "No model" and "could not be loaded" in caught.value.message


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_an_unexpected_server_fault_is_not_blamed_on_the_image(hand_png: Path, handlers, monkeypatch, lang):
    """A bug or a race on the server gets its own message: the image was not found at fault."""
    from boneage.words import t

    def broken(*args, **kwargs):
        raise RuntimeError("One of the differentiated Tensors does not require grad")

    from boneage.web.api import Endpoints

    monkeypatch.setattr("boneage.web.served.analyse", broken)
    card, *_panels, details = handlers.estimate(str(hand_png), "female", 8, 4, lang)
    assert t("error_unexpected", lang) in card and t("title_BoneAgeError", lang) in card
    assert t("title_InvalidImageError", lang) not in card
    assert "Tensors" not in card and details == {"error": t("error_unexpected", lang)}
    with pytest.raises(Exception) as caught:
        Endpoints(handlers.served).predict(str(hand_png), "female", 100, lang)
    assert t("error_unexpected", lang) in str(caught.value)
