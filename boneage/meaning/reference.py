"""Reference variation of skeletal age, and what a bone-age gap means.

Radiologists judge a gap (bone age - chronological age) against the standard deviation of bone
age in healthy children of that age and sex. The table below is the Brush Foundation study's
standard deviations as printed with the Greulich & Pyle atlas (2nd ed., 1959), in months, by
chronological age in months. Between rows we interpolate linearly; outside, we hold the end row.
A gap within 2 SD is conventionally called normal variation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from boneage.io.inputs import Sex

SOURCE = "Greulich & Pyle atlas (1959), Brush Foundation standard deviations"

_AGES = [3, 6, 9, 12, 18, 24, 30, 36, 42, 48, 54, 60, 72, 84, 96, 108, 120, 132, 144, 156, 168, 180, 192, 204]
_SD_MONTHS: dict[str, list[float]] = {
    "male": [
        0.69,
        1.13,
        1.43,
        1.97,
        3.52,
        3.92,
        4.52,
        5.08,
        5.40,
        6.66,
        8.36,
        8.79,
        9.17,
        8.91,
        9.10,
        9.00,
        9.79,
        10.09,
        10.38,
        10.44,
        10.72,
        11.32,
        12.86,
        13.05,
    ],
    "female": [
        0.72,
        1.16,
        1.36,
        1.77,
        3.49,
        4.64,
        5.37,
        5.97,
        7.48,
        8.98,
        10.73,
        11.65,
        10.23,
        10.64,
        10.23,
        10.74,
        11.73,
        11.94,
        10.24,
        10.67,
        11.30,
        9.23,
        7.31,
        6.28,
    ],
}

Category = Literal["delayed", "normal", "advanced", "uncertain"]

# Beyond this many SD even at the interval's nearer end, a gap is far likelier a wrong age or
# sex in the form than a child's bones: the result asks to check them (it still stands).
CHECK_INPUTS_SD = 4


def reference_sd_months(chronological_age_months: float, sex: Sex) -> float:
    return float(np.interp(chronological_age_months, _AGES, _SD_MONTHS[sex]))


@dataclass(frozen=True)
class Interpretation:
    """What a gap means, as numbers and categories; :func:`boneage.words.explain_gap` words it."""

    category: Category
    z_score: float  # gap in reference standard deviations
    reference_sd_months: float
    within_model_error: bool  # |gap| is smaller than the model's typical error
    # With an interval: the gap's interval in SD, and which side an uncertain result leans to.
    z_interval: tuple[float, float] | None = None
    leaning: Literal["delayed", "advanced"] | None = None
    # What the words need besides: the gap itself, whose children, the model's error, the
    # interval's level, and whether the gap is so large the form is likelier wrong than the bones.
    gap_months: float = 0.0
    sex: Sex = "female"
    model_error_months: float | None = None
    interval_level: float = 0.9
    check_inputs: bool = False
    check_inputs_sd: float = CHECK_INPUTS_SD

    def to_dict(self) -> dict:
        """The API's fields (the sentence is added by whoever knows the language)."""
        return {
            "category": self.category,
            "z_score": self.z_score,
            "reference_sd_months": self.reference_sd_months,
            "within_model_error": self.within_model_error,
            "z_interval": self.z_interval,
            "leaning": self.leaning,
        }


def categorise(z_low: float, z_high: float) -> tuple[Category, Literal["delayed", "advanced"] | None]:
    """Delayed / normal / advanced when the whole interval (in SD) lies on one side of ±2 SD;
    uncertain, leaning to the side it reaches into, when it crosses a boundary."""
    if z_low > 2:
        return "advanced", None
    if z_high < -2:
        return "delayed", None
    if z_low >= -2 and z_high <= 2:
        return "normal", None
    return "uncertain", ("advanced" if z_high > 2 else "delayed")


def interpret_gap(
    gap_months: float,
    chronological_age_months: float,
    sex: Sex,
    model_error_months: float | None = None,
    interval: tuple[float, float] | None = None,
    interval_level: float = 0.9,
) -> Interpretation:
    """Classify a gap as delayed / normal / advanced (beyond ±2 SD), or uncertain when the bone
    age's ``interval`` (months) reaches across a boundary."""
    sd = reference_sd_months(chronological_age_months, sex)
    z = gap_months / sd
    if interval is not None:
        z_interval = (
            (interval[0] - chronological_age_months) / sd,
            (interval[1] - chronological_age_months) / sd,
        )
        category, leaning = categorise(*z_interval)
        implausible = min(z_interval) > CHECK_INPUTS_SD or max(z_interval) < -CHECK_INPUTS_SD
    else:
        z_interval, leaning = None, None
        category = "normal" if abs(z) <= 2 else ("advanced" if z > 0 else "delayed")
        implausible = abs(z) > CHECK_INPUTS_SD
    within_error = model_error_months is not None and abs(gap_months) < model_error_months
    rounded = tuple(round(v, 2) for v in z_interval) if z_interval else None
    return Interpretation(
        category, round(z, 2), round(sd, 2), within_error, rounded, leaning,
        gap_months=gap_months, sex=sex, model_error_months=model_error_months,
        interval_level=interval_level, check_inputs=implausible,
    )  # fmt: skip
