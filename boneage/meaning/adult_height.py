"""How tall: the child's height for age, the parents' target, and the predicted adult height.

Three published methods, each as numbers and codes (``boneage.words`` gives them words):

- **Height for age** on the CDC 2000 reference (:mod:`boneage.meaning.growth`).
- **The parents' target**: Tanner's mid-parental height, the mean of the parents' heights with
  13 cm added for a boy or taken away for a girl, and its usual target range of ±8.5 cm (about the
  3rd to the 97th centile of children of those parents).
- **Predicted adult height** by Bayley & Pinneau (1952): the percent of adult height a child has
  reached at a Greulich & Pyle bone age, from one of three tables by how far the bone age is from
  the age (``maturity``). The tables are data (``data/bayley_pinneau.csv``, provenance in
  ``data/SOURCES.md``), checked cell by cell against a second transcription in the tests. Outside
  a table's bone ages the method gives no prediction, and nor do we.

The prediction's interval joins two errors in quadrature: the bone age's own interval carried
through the table, and the method's published error (Bayley & Pinneau's Tables IV-V, the larger
of their two samples' SDs at the child's age). docs/height.md says what each means and its limits.
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from statistics import NormalDist
from typing import Literal

import numpy as np

from boneage.errors import InvalidHeightError
from boneage.io.inputs import CM_PER_INCH, Height, HeightInputs, Sex
from boneage.meaning.growth import GrowthReference, centile

DATA = Path(__file__).parent / "data"
TANNER_OFFSET_CM = 13.0
TARGET_HALF_RANGE_CM = 8.5
MATURITY_GAP_MONTHS = 12.0  # Bayley & Pinneau: "one year or more" advanced or retarded
CHILD_SDS_LIMIT = 5.0  # beyond this a height cannot belong to a child of that age and sex
ADULT_RANGE_CM = (100.0, 250.0)  # adult human height; outside it a parent's height is a typing slip
GROWTH_DONE_PERCENT = 99.9  # a table ending at or above this ends at maturity

Maturity = Literal["accelerated", "average", "retarded"]
Position = Literal["below", "within", "above"]


@dataclass(frozen=True)
class Target:
    """The parents' target (mid-parental height) and its range, in cm."""

    cm: float
    low_cm: float
    high_cm: float


@dataclass(frozen=True)
class Prediction:
    """A predicted adult height with its interval (cm) and how it was made."""

    cm: float
    low_cm: float
    high_cm: float
    level: float
    maturity: Maturity
    percent_of_adult: float
    method_sd_cm: float  # Bayley & Pinneau's published SD of their predictions at this age
    bone_age_low_cm: float  # the prediction at each end of the bone age's interval
    bone_age_high_cm: float


@dataclass(frozen=True)
class _Column:
    months: np.ndarray
    percent: np.ndarray


@dataclass(frozen=True)
class BayleyPinneau:
    """The six Bayley-Pinneau tables and the method's published errors."""

    tables: dict[tuple[Sex, Maturity], _Column]
    error_ages: dict[Sex, np.ndarray]
    error_sd_in: dict[Sex, np.ndarray]

    @classmethod
    @cache
    def load(cls) -> BayleyPinneau:
        rows: dict[tuple, list] = {}
        with open(DATA / "bayley_pinneau.csv", newline="") as handle:
            for row in csv.DictReader(handle):
                key = (row["sex"], row["maturity"])
                rows.setdefault(key, []).append(
                    (float(row["skeletal_age_months"]), float(row["percent_of_adult_height"]))
                )
        tables = {
            key: _Column(*(np.array(c) for c in zip(*sorted(v), strict=True))) for key, v in rows.items()
        }
        ages: dict[Sex, list] = {"male": [], "female": []}
        sds: dict[Sex, list] = {"male": [], "female": []}
        with open(DATA / "bayley_pinneau_errors.csv", newline="") as handle:
            for row in csv.DictReader(handle):
                both = [float(row[k]) for k in ("standardizing_sd_in", "validating_sd_in") if row[k]]
                ages[row["sex"]].append(float(row["age_months"]))
                sds[row["sex"]].append(max(both))
        return cls(
            tables, {s: np.array(a) for s, a in ages.items()}, {s: np.array(v) for s, v in sds.items()}
        )

    def range_months(self, sex: Sex, maturity: Maturity) -> tuple[float, float]:
        column = self.tables[(sex, maturity)]
        return float(column.months[0]), float(column.months[-1])

    def percent(self, bone_age_months: float, sex: Sex, maturity: Maturity) -> float | None:
        """Percent of adult height reached at this bone age; None outside the table's bone ages.

        Between the table's columns (every 3 or 4 months) linearly, so the prediction is continuous.
        """
        column = self.tables[(sex, maturity)]
        if not column.months[0] <= bone_age_months <= column.months[-1]:
            return None
        return float(np.interp(bone_age_months, column.months, column.percent))

    def method_sd_cm(self, age_months: float, sex: Sex) -> float:
        """The published SD of the method's error at this age (held at the table's ends)."""
        return float(np.interp(age_months, self.error_ages[sex], self.error_sd_in[sex])) * CM_PER_INCH


def maturity(bone_age_months: float, age_months: float) -> Maturity:
    """Bayley & Pinneau's table for a child: a bone age a year or more ahead, or behind, or neither."""
    gap = bone_age_months - age_months
    if gap >= MATURITY_GAP_MONTHS:
        return "accelerated"
    if gap <= -MATURITY_GAP_MONTHS:
        return "retarded"
    return "average"


def parents_target(mother_cm: float, father_cm: float, sex: Sex) -> Target:
    """Tanner's mid-parental height and target range."""
    offset = TANNER_OFFSET_CM if sex == "male" else -TANNER_OFFSET_CM
    cm = (mother_cm + father_cm + offset) / 2
    return Target(cm, cm - TARGET_HALF_RANGE_CM, cm + TARGET_HALF_RANGE_CM)


def predict_adult_height(
    height_cm: float,
    bone_age_months: float,
    age_months: float,
    sex: Sex,
    bone_age_bounds: tuple[float, float] | None = None,
    level: float = 0.9,
    tables: BayleyPinneau | None = None,
) -> Prediction | str:
    """The Bayley-Pinneau prediction, or the code that says why there is none.

    Codes: ``growth_complete`` (the bone age is at or past the end of the table, where growth
    has stopped), ``bone_age_below_tables`` (younger than the table starts), ``outside_table``
    (past the end of a table that stops before maturity: the retarded boys' ends at 13 years).
    An end of the bone age's interval beyond the table is held at the table's edge.
    """
    tables = tables or BayleyPinneau.load()
    table = maturity(bone_age_months, age_months)
    first, last = tables.range_months(sex, table)
    percent = tables.percent(bone_age_months, sex, table)
    if percent is None:
        if bone_age_months < first:
            return "bone_age_below_tables"
        end = tables.percent(last, sex, table)
        return "growth_complete" if end is not None and end >= GROWTH_DONE_PERCENT else "outside_table"
    cm = height_cm / (percent / 100)
    low_ba, high_ba = bone_age_bounds or (bone_age_months, bone_age_months)

    def at(bone_age: float) -> float:
        return height_cm / (tables.percent(min(max(bone_age, first), last), sex, table) / 100)

    # A younger bone age means less growth done, so a taller prediction.
    taller, shorter = at(low_ba), at(high_ba)
    method_sd = tables.method_sd_cm(age_months, sex)
    method = NormalDist().inv_cdf(0.5 + level / 2) * method_sd
    return Prediction(
        cm=cm,
        low_cm=cm - math.hypot(max(0.0, cm - shorter), method),
        high_cm=cm + math.hypot(max(0.0, taller - cm), method),
        level=level,
        maturity=table,
        percent_of_adult=percent,
        method_sd_cm=method_sd,
        bone_age_low_cm=taller,
        bone_age_high_cm=shorter,
    )


def check_heights(heights: HeightInputs, age_months: float, sex: Sex) -> None:
    """Refuse a height that cannot be right, before any model runs.

    A child's height beyond ±5 SD for the age and sex, or a parent's outside adult human
    range, is refused; where the same number read in the other unit would fit, the message asks
    which was meant (inches typed as cm, or cm as inches).
    """
    reference = GrowthReference.cdc2000()

    def child_fits(cm: float) -> bool:
        return abs(reference.sds(cm, age_months, sex)) <= CHILD_SDS_LIMIT

    def adult_fits(cm: float) -> bool:
        return ADULT_RANGE_CM[0] <= cm <= ADULT_RANGE_CM[1]

    for who, height, fits in (
        ("child", heights.child, child_fits),
        ("mother", heights.mother, adult_fits),
        ("father", heights.father, adult_fits),
    ):
        if height is not None and not fits(height.cm):
            _refuse(who, height, fits, age_months)


def _refuse(who: str, height: Height, fits, age_months: float) -> None:
    typed_number = height.cm if height.unit == "cm" else height.cm / CM_PER_INCH
    params = {"value": f"{typed_number:g}", "cm": f"{height.cm:.1f}", "age": age_months}
    if height.unit == "cm" and fits(height.cm * CM_PER_INCH):
        raise InvalidHeightError(f"{who}_maybe_inches", **params, other=f"{height.cm * CM_PER_INCH:.1f}")
    if height.unit == "ft_in" and fits(typed_number):
        raise InvalidHeightError(f"{who}_maybe_cm", **params, other=f"{typed_number:g}")
    raise InvalidHeightError(f"{who}_implausible", **params, other="")


@dataclass(frozen=True)
class HeightAssessment:
    """Everything the result says about height, as numbers and codes."""

    inputs: HeightInputs
    reference: str
    sds: float | None = None
    centile: float | None = None
    target: Target | None = None
    prediction: Prediction | None = None
    no_prediction: str | None = None  # why there is none: a code (see predict_adult_height), or "no_height"
    versus_target: Position | None = None

    def to_dict(self) -> dict:
        def rounded(height: Height | None) -> float | None:
            return None if height is None else round(height.cm, 1)

        return {
            "reference": self.reference,
            "unit": self.inputs.unit,
            "height_cm": rounded(self.inputs.child),
            "mother_cm": rounded(self.inputs.mother),
            "father_cm": rounded(self.inputs.father),
            "sds": None if self.sds is None else round(self.sds, 2),
            "centile": None if self.centile is None else round(self.centile, 1),
            "target": {k: round(v, 1) for k, v in asdict(self.target).items()} if self.target else None,
            "prediction": _prediction_dict(self.prediction),
            "no_prediction": self.no_prediction,
            "versus_target": self.versus_target,
        }


def _prediction_dict(prediction: Prediction | None) -> dict | None:
    if prediction is None:
        return None
    values = asdict(prediction)
    return {k: (round(v, 1) if isinstance(v, float) and k != "level" else v) for k, v in values.items()}


def assess_height(
    heights: HeightInputs,
    sex: Sex,
    age_months: float,
    bone_age_months: float,
    bone_age_bounds: tuple[float, float] | None = None,
    level: float = 0.9,
) -> HeightAssessment | None:
    """The height part of a result, or None when no height was given."""
    if not heights.given:
        return None
    reference = GrowthReference.cdc2000()
    sds = centile_ = prediction = versus = None
    reason = "no_height"
    if heights.child is not None:
        sds = reference.sds(heights.child.cm, age_months, sex)
        centile_ = centile(sds)
        made = predict_adult_height(
            heights.child.cm, bone_age_months, age_months, sex, bone_age_bounds, level
        )
        prediction, reason = (made, None) if isinstance(made, Prediction) else (None, made)
    target = None
    if heights.mother is not None and heights.father is not None:
        target = parents_target(heights.mother.cm, heights.father.cm, sex)
        if prediction is not None:
            versus = (
                "below"
                if prediction.cm < target.low_cm
                else "above"
                if prediction.cm > target.high_cm
                else "within"
            )
    return HeightAssessment(heights, reference.name, sds, centile_, target, prediction, reason, versus)
