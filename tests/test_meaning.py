"""What a result means: the interval, the category with it, the chart, the report, both languages."""

from __future__ import annotations

import math
import re
import string

import numpy as np
import pytest

from boneage.meaning.chart import chart_data, figure_rgb, growth_chart
from boneage.meaning.interval import (
    DEFAULT_BAND_EDGES,
    IntervalCalibration,
    calibrate,
    conformal_quantile,
    fit,
    measure_coverage,
)
from boneage.meaning.reference import categorise, interpret_gap, reference_sd_months
from boneage.meaning.typeface import CJK_FONT_FILE
from boneage.words import CATALOGUES, all_characters, explain_gap, normalise_language, t


def test_conformal_quantile_is_the_finite_sample_rank():
    residuals = np.arange(1, 10, dtype=float)  # |r| = 1..9, n = 9
    assert conformal_quantile(residuals, 0.5) == 5.0  # ceil(10 * 0.5) = 5th smallest
    assert conformal_quantile(-residuals, 0.8) == 8.0  # signs do not matter
    assert math.isinf(conformal_quantile(residuals, 0.95))  # ceil(9.5) = 10 > n: no finite interval


def test_interval_coverage_on_synthetic_residuals_is_the_level():
    rng = np.random.default_rng(0)
    predicted = rng.uniform(0, 228, 4000)
    target = predicted + rng.normal(0, 10, predicted.size)
    calibration = calibrate(predicted, target, level=0.9, seed=1)
    assert calibration.half_widths_months[0] == pytest.approx(16.45, abs=1.0)  # 1.645 sd
    assert calibration.coverage["coverage"] == pytest.approx(0.9, abs=0.02)
    assert calibration.coverage["n"] == 2000  # measured on the half it was not fitted on


def test_banded_interval_follows_the_error_of_each_band():
    rng = np.random.default_rng(2)
    predicted = rng.uniform(0, 228, 6000)
    noise = np.where(predicted < DEFAULT_BAND_EDGES[0], 20.0, 5.0)
    target = np.clip(predicted + rng.normal(0, 1, predicted.size) * noise, 0, 240)  # ages are >= 0
    banded = fit(predicted, target, 0.9, DEFAULT_BAND_EDGES)
    assert banded.half_width(20.0) > 3 * banded.half_width(120.0)
    coverage = measure_coverage(banded, predicted, target)
    assert all(abs(band["coverage"] - 0.9) < 0.03 for band in coverage["per_band"].values())
    again = IntervalCalibration.from_dict(banded.to_dict())
    assert again.interval(120.0) == banded.interval(120.0)
    assert again.interval(2.0)[0] == 0.0 and again.interval(239.0)[1] == 240.0  # clipped


def test_category_takes_the_interval_into_account():
    assert categorise(-1.0, 1.5) == ("normal", None)
    assert categorise(2.2, 3.0) == ("advanced", None)
    assert categorise(-3.5, -2.1) == ("delayed", None)
    assert categorise(1.2, 2.8) == ("uncertain", "advanced")
    assert categorise(-2.6, -1.0) == ("uncertain", "delayed")
    sd = reference_sd_months(120, "female")
    crossing = interpret_gap(2.3 * sd, 120, "female", 8.0, interval=(120 + 1.5 * sd, 120 + 3.1 * sd))
    assert crossing.category == "uncertain" and crossing.leaning == "advanced"
    assert "cannot say whether the bones are advanced or normal" in explain_gap(crossing)
    beyond = interpret_gap(3 * sd, 120, "female", 8.0, interval=(120 + 2.2 * sd, 120 + 3.8 * sd))
    assert beyond.category == "advanced"
    assert "check that the child's age and sex" not in explain_gap(beyond)  # advanced, and plausible


@pytest.mark.parametrize(
    "lang, words", [("en", "check that the child's age and sex"), ("zh-TW", "請檢查孩子的年齡與性別")]
)
def test_an_implausible_gap_asks_to_check_the_age_and_sex(lang, words):
    """A whole interval more than 4 SD from the age is likelier a typo in the form than the bones."""
    sd = reference_sd_months(60, "male")
    typo = interpret_gap(90.0, 60, "male", 6.2, interval=(135.0, 165.0))  # 12 y read for 5 y
    assert typo.category == "advanced" and words in explain_gap(typo, lang)
    late = interpret_gap(-5.0 * sd, 60, "male", 6.2, interval=(60 - 5.5 * sd, 60 - 4.5 * sd))
    assert late.category == "delayed" and words in explain_gap(late, lang)
    reaching = interpret_gap(5.0 * sd, 60, "male", 6.2, interval=(60 + 3.5 * sd, 60 + 6.5 * sd))
    assert words not in explain_gap(reaching, lang)  # the interval's nearer end is within 4 SD
    assert words in explain_gap(interpret_gap(4.5 * sd, 60, "male", 6.2), lang)  # no interval: the gap itself


def test_chart_data_and_figure_in_both_languages():
    data = chart_data("male", 100, 131, (121, 141))
    assert data["child"] == {"age_years": 8.33, "bone_age_years": 10.92, "interval_years": [10.08, 11.75]}
    assert len(data["age_years"]) == len(data["sd_years"]) == 41
    for lang in ("en", "zh-TW"):
        image = figure_rgb(growth_chart(data, lang))
        assert image.ndim == 3 and image.shape[2] == 3 and image.std() > 10


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_fast_chart_draws_the_child_where_matplotlib_does(lang):
    """The served chart reuses a background per sex and language and draws only the child."""
    from concurrent.futures import ThreadPoolExecutor

    from boneage.meaning.chart import CHILD_RGB, growth_chart_rgb

    for sex, age, bone, interval in [("male", 100, 131, (121, 141)), ("female", 30, 20, None)]:
        data = chart_data(sex, age, bone, interval)
        full = figure_rgb(growth_chart(data, lang)).astype(int)
        fast = growth_chart_rgb(data, lang).astype(int)
        assert fast.shape == full.shape
        assert np.abs(fast - full).mean() < 0.5  # the same chart, up to the point's rasterisation
        # The child's marker and interval (and the legend's marker) cover the same pixels.
        red = np.all(np.abs(fast - np.array(CHILD_RGB)) < 40, axis=2)
        red_full = np.all(np.abs(full - np.array(CHILD_RGB)) < 40, axis=2)
        assert (red & red_full).sum() > 0.6 * (red | red_full).sum()
    other_child = chart_data("male", 200, 150, (140, 160))
    with ThreadPoolExecutor(4) as pool:
        images = list(pool.map(lambda d: growth_chart_rgb(d, lang), [data, other_child] * 4))
    assert all(np.array_equal(images[i], images[i % 2]) for i in range(8))
    assert not np.array_equal(images[0], images[1])


def test_pdf_report_renders_with_its_text(tmp_path):
    pdfium = pytest.importorskip("pypdfium2")
    import pypdfium2.raw as pdfium_raw

    from boneage.report.pdf import write_report

    summary = {
        "bone_age_months": 131.0, "chronological_age_months": 120.0, "gap_months": 11.0, "sex": "female",
        "interval": {"level": 0.9, "low_months": 119.0, "high_months": 143.0},
        "interpretation": {"category": "normal"},
        "model": {"name": "bone-age-test", "version": "1.0.0", "validation_mae_months": 9.8},
        "chart": chart_data("female", 120, 131, (119, 143)),
    }  # fmt: skip
    grey = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (64, 1))
    view = np.tile(np.linspace(0, 255, 448, dtype=np.uint8), (448, 1))
    images = {"outline": np.dstack([grey] * 3), "model_view": np.dstack([view] * 3), "heatmap": None}
    for lang, title, interval in (
        ("en", "Bone age report", "90% interval"),
        ("zh-TW", "骨齡報告", "90% 區間"),
    ):
        path = write_report(tmp_path / f"{lang}.pdf", summary, t("matches", lang), images, lang)
        document = pdfium.PdfDocument(str(path))
        try:
            assert len(document) == 1
            page = document[0]
            width, height = page.get_size()
            assert height / width == pytest.approx(11.69 / 8.27, rel=0.01)  # A4 portrait
            text = page.get_textpage().get_text_range()
            assert title in text and interval in text and "119–143" in text
            picture = np.asarray(page.render(scale=1).to_pil().convert("L"))
            assert picture.std() > 10 and (picture < 128).mean() > 0.01  # drawn, not blank
            embedded = [o.get_px_size() for o in page.get_objects(filter=(pdfium_raw.FPDF_PAGEOBJ_IMAGE,))]
            assert (448, 448) in embedded and (64, 64) in embedded  # the images' own pixels, not resampled
            page.close()
        finally:
            document.close()


def test_both_languages_have_every_message():
    english, chinese = CATALOGUES["en"], CATALOGUES["zh-TW"]
    assert set(english) == set(chinese)
    for key in english:
        placeholders = set(re.findall(r"\{(\w+)\}", english[key]))
        assert placeholders == set(re.findall(r"\{(\w+)\}", chinese[key])), key


def test_every_user_facing_error_has_a_translation():
    from badfiles import bad_file_corpus
    from boneage.chain.preprocess import Chain, preprocess
    from boneage.errors import BoneAgeError
    from boneage.io.decode import load_radiograph
    from boneage.words import error_message, error_title

    seen = set()
    for case in bad_file_corpus():
        try:
            preprocess(load_radiograph(case.data).pixels, Chain.classical(size=64))
        except BoneAgeError as error:
            seen.add(error.code)
            message, title = error_message(error, "zh-TW"), error_title(error, "zh-TW")
            assert message != str(error) and title != error_title(error, "en"), error.code
    assert len(seen) >= 5


def test_chinese_font_has_every_character_the_app_prints():
    from fontTools.ttLib import TTFont

    cmap = TTFont(str(CJK_FONT_FILE))["cmap"].getBestCmap()
    needed = all_characters("zh-TW") | set(string.digits)
    missing = sorted(c for c in needed if ord(c) not in cmap and not c.isspace())
    assert missing == [], "re-run python -m boneage.cli.fonts: " + "".join(missing)


@pytest.mark.parametrize(
    "header, expected",
    [
        ("zh-TW,zh;q=0.9", "zh-TW"),
        ("zh-Hant", "zh-TW"),
        ("zh", "zh-TW"),
        ("en-GB", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_language_from_the_browser(header, expected):
    assert normalise_language(header) == expected


@pytest.mark.parametrize("lang", ["en", "zh-TW"])
def test_typical_error_says_rsna_how_many_and_the_error_in_plain_words(lang):
    """No folder path or data-set code name reaches a parent, and the sentence follows the language."""
    from boneage.predictor import ModelInfo
    from boneage.report.card import typical_error_line

    info = ModelInfo(
        name="m",
        version="1",
        architecture="a",
        source="local",
        validation_mae_months=6.43,
        trained_on="rsna-train-299 (boneage-training-dataset.csv, boneage-training-dataset/)",
        validation_n=1798,
        training_n=10190,
    )
    line = typical_error_line(info, lang)
    assert "6.4" in line and "1,798" in line and "10,190" in line and "RSNA" in line
    assert "train-299" not in line and "/" not in line and "csv" not in line
    if lang == "zh-TW":
        assert "個月" in line and "months" not in line
    other = typical_error_line(ModelInfo(**{**info.__dict__, "trained_on": "synthetic hands"}), lang)
    assert "RSNA" not in other and "1,798" in other
    missing = typical_error_line(ModelInfo(**{**info.__dict__, "validation_n": None}), lang)
    assert missing == t("typical_error_missing", lang)


def test_category_shares_grow_uncertain_with_the_interval():
    """Children whose bone age equals their age: a narrow interval says normal, a wide one uncertain."""
    from boneage.meaning.interval import IntervalCalibration, category_shares

    target = np.linspace(24, 200, 50)
    male = np.arange(50) % 2 == 0
    narrow = IntervalCalibration(0.9, (), (3.0,), (100,))
    wide = IntervalCalibration(0.9, (), (60.0,), (100,))
    assert category_shares(target, target, male, narrow) == {
        "normal": 1.0, "uncertain": 0.0, "advanced": 0.0, "delayed": 0.0
    }  # fmt: skip
    assert category_shares(target, target, male, wide)["uncertain"] == 1.0
    shifted = category_shares(target + 80, target, male, narrow)
    assert shifted["advanced"] > 0.5 and shifted["delayed"] == 0.0


@pytest.mark.parametrize(
    "gap, english, chinese",
    [
        (-1.0, "−1 month", "−1 個月"),
        (11.0, "+11 months", "+11 個月"),
        (-15.0, "−15 months (−1 year 3 months)", "−15 個月 (−1 歲 3 個月)"),
        (0.2, "+0 months", "+0 個月"),
    ],
)
def test_the_difference_reads_naturally_in_the_card_and_the_report(gap, english, chinese):
    """'−1 month', not '−1 months (−1 month)': years and months only from a year on."""
    from boneage.report.pdf import report_lines
    from boneage.words import format_difference

    assert format_difference(gap, "en") == english and format_difference(gap, "zh-TW") == chinese
    summary = {
        "bone_age_months": 120.0 + gap, "chronological_age_months": 120.0, "gap_months": gap, "sex": "male",
        "interval": None, "interpretation": {"category": "normal"},
        "model": {"name": "bone-age-test", "version": "1.0.0", "validation_mae_months": None},
    }  # fmt: skip
    assert dict(report_lines(summary, "en"))[t("difference", "en")] == english
