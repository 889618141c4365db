"""The height part: the CDC 2000 reference, the Bayley-Pinneau tables and prediction, the parents'
target, the checks of typed heights, and their words. No model is loaded here."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from boneage.errors import InvalidHeightError
from boneage.io.inputs import CM_PER_INCH, Height, HeightInputs, parse_height, parse_heights
from boneage.meaning.adult_height import (
    BayleyPinneau,
    Prediction,
    assess_height,
    check_heights,
    maturity,
    parents_target,
    predict_adult_height,
)
from boneage.meaning.growth import DATA, GrowthReference, centile
from boneage.words import LANGUAGES, explain_height, height_rows

FIXTURES = Path(__file__).parent / "fixtures" / "bayley_pinneau_rcpch"
P3_SDS = -1.8808


# --- the CDC 2000 reference -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cdc2000_statage.csv", "cdc2000_lenageinf.csv"])
def test_printed_centiles_come_back_as_their_sds(name):
    """Every row's printed 3rd, 50th and 97th centiles read back as -1.88, 0 and +1.88 SD at that
    age and sex: a lookup at the wrong age, sex or table would not."""
    reference = GrowthReference.cdc2000()
    checked = 0
    with open(DATA / name, newline="") as handle:
        for row in csv.DictReader(handle):
            age, sex = float(row["Agemos"]), "male" if row["Sex"] == "1" else "female"
            if name == "cdc2000_lenageinf.csv" and age >= 24:  # from 24 months children stand
                continue
            for column, sds in (("P3", P3_SDS), ("P50", 0.0), ("P97", -P3_SDS)):
                assert reference.sds(float(row[column]), age, sex) == pytest.approx(sds, abs=0.002), (
                    row,
                    column,
                )
            checked += 1
    assert checked >= 50


def test_reference_round_trip_and_centiles():
    reference = GrowthReference.cdc2000()
    for age in (3.2, 30.0, 100.5, 239.0):
        for sds in (-2.5, 0.3, 1.9):
            assert reference.sds(reference.height_at(sds, age, "female"), age, "female") == pytest.approx(sds)
    assert centile(P3_SDS) == pytest.approx(3.0, abs=0.01)
    assert centile(0.0) == 50.0
    # boys are taller than girls at 18, and a 10-year-old is taller than a 5-year-old
    assert reference.height_at(0, 216, "male") > reference.height_at(0, 216, "female") + 10
    assert reference.height_at(0, 120, "male") > reference.height_at(0, 60, "male") + 25


# --- the Bayley-Pinneau tables, against a second transcription --------------------------------


def _ours() -> dict[tuple[str, str, str], float]:
    with open(DATA / "bayley_pinneau.csv", newline="") as handle:
        return {
            (r["sex"], r["maturity"], r["skeletal_age"]): float(r["percent_of_adult_height"])
            for r in csv.DictReader(handle)
        }


def _rows(name: str) -> list[dict]:
    with open(FIXTURES / name, newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


# The second transcription's labels for the same columns (docs: data/SOURCES.md).
LABELS = {("female", "average", "6-9"): "6-10", ("female", "average", "7-9"): "7-10",
          ("female", "accelerated", "7-9"): "7-10", ("female", "accelerated", "17-3"): "17-6"}  # fmt: skip


def test_every_percent_cell_matches_the_second_transcription_or_its_printed_body():
    ours = _ours()
    disputed = {(r["sex"], r["maturity"], r["skeletal_age"]) for r in _rows("disputed_cells.csv")}
    same = 0
    for row in _rows("percent_rows.csv"):
        for label, percent in zip(row["skeletal_ages"].split(), row["percents"].split(), strict=True):
            key = (row["sex"], row["maturity"], label)
            key = (*key[:2], LABELS.get(key, label))
            assert key in ours, key
            if key in disputed:
                continue
            assert ours[key] == float(percent), (row["table"], label)
            same += 1
    assert same == 222


def test_disputed_cells_are_settled_by_the_printed_body():
    """Where the two percent rows differ, the printed predicted heights are the current height
    divided by our percent, not by theirs."""
    ours = _ours()
    for row in _rows("disputed_cells.csv"):
        current, printed = float(row["current_in"]), float(row["printed_mature_in"])
        mine = ours[(row["sex"], row["maturity"], row["skeletal_age"])]
        assert round(current / (mine / 100), 1) == printed
        assert round(current / (float(row["their_percent"]) / 100), 1) != printed


def test_table_iia_is_confirmed_by_its_printed_body():
    ours = _ours()
    with open(FIXTURES / "IIA_body.csv", newline="") as handle:
        rows = list(csv.reader(line for line in handle if not line.startswith("#")))
    ages, cells, ties = rows[0][1:], 0, 0
    for row in rows[1:]:
        current = float(row[0])
        for age, printed in zip(ages, row[1:], strict=False):
            predicted = current / (ours[("male", "average", age)] / 100)
            assert abs(predicted - float(printed)) < 0.06, (current, age)  # a tenth, rounded either way
            cells += 1
            ties += round(predicted, 1) != float(printed)
    assert cells == 238 and ties <= 5


def test_tables_rise_with_bone_age_and_interpolate_continuously():
    tables = BayleyPinneau.load()
    for (sex, table), column in tables.tables.items():
        assert np.all(np.diff(column.months) > 0) and np.all(np.diff(column.percent) >= 0), (sex, table)
        grid = np.arange(column.months[0], column.months[-1], 0.05)
        values = np.array([tables.percent(m, sex, table) for m in grid])
        assert np.max(np.abs(np.diff(values))) < 0.05  # no jumps between columns
    assert tables.range_months("male", "average") == (84.0, 222.0)
    assert tables.range_months("female", "retarded") == (72.0, 204.0)


# --- the method -------------------------------------------------------------------------------


def test_table_is_chosen_by_bone_age_minus_age_at_one_year():
    assert maturity(150, 138) == "accelerated"
    assert maturity(149.9, 138) == "average"
    assert maturity(126, 138) == "retarded"
    assert maturity(126.1, 138) == "average"


@pytest.mark.parametrize(
    ("sex", "bone_age", "age", "current_in", "printed_in"),
    [
        ("male", 180, 180, 60, 62.0),  # Table IIB: 60 in at skeletal age 15-0 -> 62.0 in
        ("male", 138, 120, 48, 61.1),  # IIC, accelerated: 48 in at 11-6 -> 61.1 in
        ("female", 120, 120, 54, 62.6),  # IIIA: 54 in at 10-0 -> 62.6 in
        ("female", 96, 120, 50, 62.2),  # IIIE, retarded: 50 in at 8-0 -> 62.2 in
    ],
)
def test_printed_predictions_are_reproduced(sex, bone_age, age, current_in, printed_in):
    """Worked examples: cells of the published tables, each a prediction the method prints."""
    made = predict_adult_height(current_in * CM_PER_INCH, bone_age, age, sex)
    assert isinstance(made, Prediction)
    assert made.cm / CM_PER_INCH == pytest.approx(printed_in, abs=0.051)


def test_prediction_rises_with_height_and_falls_with_bone_age():
    heights = [predict_adult_height(h, 130, 132, "male").cm for h in (130, 140, 150)]
    assert heights[0] < heights[1] < heights[2]
    by_bone_age = [predict_adult_height(140, b, b, "female").cm for b in (100, 120, 140, 160)]
    assert all(a > b for a, b in zip(by_bone_age, by_bone_age[1:], strict=False))


def test_interval_widens_with_the_bone_age_interval_and_holds_the_method_error():
    narrow = predict_adult_height(140, 132, 132, "male", (128, 136))
    wide = predict_adult_height(140, 132, 132, "male", (116, 148))
    point = predict_adult_height(140, 132, 132, "male")
    assert (
        wide.low_cm < narrow.low_cm < point.low_cm < point.cm < point.high_cm < narrow.high_cm < wide.high_cm
    )
    assert point.high_cm - point.cm == pytest.approx(1.6449 * point.method_sd_cm, rel=1e-3)
    assert point.method_sd_cm == pytest.approx(1.98 * CM_PER_INCH)  # Table V at 11 years, the larger SD


def test_edges_of_the_tables():
    # younger than any table: no prediction, said why
    assert predict_adult_height(110, 60, 62, "male") == "bone_age_below_tables"
    # at the first column of the table: predicted, the interval's younger end held at the edge
    first = predict_adult_height(120, 84, 84, "male", (72, 96))
    assert isinstance(first, Prediction) and first.bone_age_low_cm == pytest.approx(first.cm)
    # past the end of growth
    assert predict_adult_height(176, 225, 216, "male") == "growth_complete"
    assert predict_adult_height(163, 217, 210, "female") == "growth_complete"
    # the retarded boys' table ends at 13 years, before maturity
    assert predict_adult_height(150, 160, 180, "male") == "outside_table"


def test_parents_target():
    boy, girl = parents_target(165, 180, "male"), parents_target(165, 180, "female")
    assert (boy.cm, boy.low_cm, boy.high_cm) == (179.0, 170.5, 187.5)
    assert girl.cm == 166.0


def test_assessment_places_the_prediction_against_the_target():
    within = assess_height(parse_heights("140", "165", "180"), "male", 132, 132, (120, 144))
    assert within.versus_target == "within" and within.prediction is not None
    assert 20 < within.centile < 40
    short_parents = assess_height(parse_heights("150", "150", "160"), "male", 132, 132)
    assert short_parents.versus_target == "above"
    target_only = assess_height(parse_heights(None, "165", "180"), "male", 40, 40)
    assert target_only.prediction is None and target_only.no_prediction == "no_height" and target_only.target
    young = assess_height(parse_heights("95", "165", "180"), "male", 40, 40)
    assert young.no_prediction == "bone_age_below_tables" and young.target is not None
    assert assess_height(HeightInputs(), "male", 40, 40) is None


# --- typed heights ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "unit", "cm", "as_unit"),
    [
        ("132.5", "cm", 132.5, "cm"),
        ("132,5", "cm", 132.5, "cm"),
        ("4 ft 4 in", "cm", 132.08, "ft_in"),
        ("4' 4\"", "cm", 132.08, "ft_in"),
        ("52 in", "cm", 132.08, "ft_in"),
        ("4 4", "ft_in", 132.08, "ft_in"),
        ("52", "ft_in", 132.08, "ft_in"),
        ("5.5", "ft_in", 167.64, "ft_in"),
        ("132 cm", "ft_in", 132.0, "cm"),
    ],
)
def test_heights_are_read_in_cm_or_feet_and_inches(typed, unit, cm, as_unit):
    height = parse_height(typed, unit)
    assert height.cm == pytest.approx(cm) and height.unit == as_unit


@pytest.mark.parametrize("typed", ["tall", "4 ft 13 in", "-5", "0", "1e400"])
def test_unreadable_heights_are_refused(typed):
    with pytest.raises(InvalidHeightError) as caught:
        parse_height(typed)
    assert caught.value.code == "height_not_number"


def test_blank_heights_are_absent():
    assert not parse_heights("", None, "  ").given


@pytest.mark.parametrize(
    ("heights", "code"),
    [
        (HeightInputs(child=Height(250.0, "cm", "250")), "child_implausible"),
        (HeightInputs(child=Height(55.0, "cm", "55")), "child_maybe_inches"),  # 55 in = 140 cm
        (HeightInputs(child=Height(140 * CM_PER_INCH, "ft_in", "140")), "child_maybe_cm"),
        (HeightInputs(mother=Height(64.0, "cm", "64")), "mother_maybe_inches"),
        (HeightInputs(father=Height(300.0, "cm", "300")), "father_implausible"),
        (HeightInputs(father=Height(178 * CM_PER_INCH, "ft_in", "178")), "father_maybe_cm"),
    ],
)
def test_impossible_heights_are_refused_with_a_question(heights, code):
    with pytest.raises(InvalidHeightError) as caught:
        check_heights(heights, 132, "male")
    assert caught.value.code == code


def test_plausible_heights_pass():
    check_heights(parse_heights("140", "5 ft 4 in", "182"), 132, "male")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_height_words_in_each_language(lang):
    full = assess_height(parse_heights("4 ft 7 in", "165", "180"), "male", 132, 132, (120, 144))
    rows = dict(height_rows(full, lang))
    assert len(rows) == 3 and any("ft" in v or "英尺" in v for v in rows.values())
    assert "Bayley" in explain_height(full, lang)
    young = assess_height(parse_heights("95", "165", "180"), "male", 40, 40)
    assert "Bayley" in explain_height(young, lang) and len(height_rows(young, lang)) == 2
