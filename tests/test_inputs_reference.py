from __future__ import annotations

import math

import pytest

from boneage.errors import InvalidAgeError, InvalidSexError
from boneage.io.inputs import age_from_years_months, parse_age_months, parse_sex
from boneage.meaning.reference import interpret_gap, reference_sd_months
from boneage.words import explain_gap, format_duration


@pytest.mark.parametrize(
    "value, expected",
    [("Male", "male"), ("F", "female"), ("girl", "female"), (True, "male"), (" female ", "female")],
)
def test_parse_sex(value, expected):
    assert parse_sex(value) == expected


@pytest.mark.parametrize("value", [None, "", "x", "unknown"])
def test_bad_sex(value):
    with pytest.raises(InvalidSexError):
        parse_sex(value)


@pytest.mark.parametrize("value", [-1, 241, math.nan, math.inf, "ten", None, 1e9])
def test_bad_ages(value):
    with pytest.raises(InvalidAgeError):
        parse_age_months(value)


def test_age_edges_are_accepted():
    assert parse_age_months(0) == 0
    assert parse_age_months("240") == 240


def test_years_and_months():
    assert age_from_years_months(7, 3) == 87
    assert age_from_years_months(None, 5) == 5
    assert age_from_years_months(2, None) == 24
    with pytest.raises(InvalidAgeError):
        age_from_years_months(None, None)
    # Years left blank with the form's default 0 months: a forgotten age, not a newborn.
    for forgotten in [(None, 0), ("", 0), (" ", "0")]:
        with pytest.raises(InvalidAgeError, match="enter the child's age"):
            age_from_years_months(*forgotten)
    assert age_from_years_months(0, 0) == 0  # a newborn, typed as such
    assert age_from_years_months("", 18) == 18  # an infant's age in months alone
    with pytest.raises(InvalidAgeError):
        age_from_years_months(7, 14)
    with pytest.raises(InvalidAgeError):
        age_from_years_months(21, 0)


def test_reference_sd_interpolates_and_clamps():
    assert reference_sd_months(12, "male") == pytest.approx(1.97)
    assert reference_sd_months(15, "male") == pytest.approx((1.97 + 3.52) / 2)
    assert reference_sd_months(0, "female") == pytest.approx(0.72)
    assert reference_sd_months(240, "female") == pytest.approx(6.28)


def test_gap_categories():
    sd = reference_sd_months(120, "female")
    assert interpret_gap(0.0, 120, "female").category == "normal"
    assert interpret_gap(2.5 * sd, 120, "female").category == "advanced"
    assert interpret_gap(-2.5 * sd, 120, "female").category == "delayed"
    assert interpret_gap(1.9 * sd, 120, "female").category == "normal"


def test_sentences_are_plain_and_honest_about_model_error():
    small = interpret_gap(4.0, 120, "male", model_error_months=8.0)
    assert small.within_model_error
    sentence = explain_gap(small)
    assert "4 months ahead of" in sentence
    assert "cannot be told apart" in sentence
    assert "typical error (±8.0 months)" in sentence
    card_error = explain_gap(interpret_gap(4.0, 120, "male", model_error_months=6.68), "zh-TW")
    assert "±6.7 個月" in card_error  # the same figure as the result card's "typical error"
    big = interpret_gap(-40.0, 120, "male", model_error_months=8.0)
    assert big.category == "delayed" and not big.within_model_error
    assert "3 years 4 months behind" in explain_gap(big) and "doctor" in explain_gap(big)


@pytest.mark.parametrize(
    "months, text",
    [
        (0, "0 months"),
        (1, "1 month"),
        (12, "1 year"),
        (47.4, "3 years 11 months"),
        (47.6, "4 years"),
        (25, "2 years 1 month"),
    ],
)
def test_format_duration(months, text):
    assert format_duration(months) == text
