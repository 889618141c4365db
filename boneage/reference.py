"""Reference variation of skeletal age, and what a bone-age gap means.

Radiologists judge a gap (bone age - chronological age) against the standard deviation of bone
age in healthy children of that age and sex. The table below is the Brush Foundation study's
standard deviations as printed with the Greulich & Pyle atlas (2nd ed., 1959), in months, by
chronological age in months. Between rows we interpolate linearly; outside, we hold the end row.
A gap within 2 SD is conventionally called normal variation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from boneage.inputs import Sex

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

Category = Literal["delayed", "normal", "advanced"]


def reference_sd_months(chronological_age_months: float, sex: Sex) -> float:
    return float(np.interp(chronological_age_months, _AGES, _SD_MONTHS[sex]))


@dataclass(frozen=True)
class Interpretation:
    category: Category
    z_score: float  # gap in reference standard deviations
    reference_sd_months: float
    within_model_error: bool  # |gap| is smaller than the model's typical error
    sentence: str

    def to_dict(self) -> dict:
        return asdict(self)


def interpret_gap(
    gap_months: float,
    chronological_age_months: float,
    sex: Sex,
    model_error_months: float | None = None,
) -> Interpretation:
    """Classify a gap as delayed / normal / advanced (beyond +-2 SD) and say it plainly."""
    sd = reference_sd_months(chronological_age_months, sex)
    z = gap_months / sd
    category: Category = "normal" if abs(z) <= 2 else ("advanced" if z > 0 else "delayed")
    within_error = model_error_months is not None and abs(gap_months) < model_error_months
    direction = "ahead of" if gap_months > 0 else "behind"
    size = format_months(abs(gap_months))
    child = "boys" if sex == "male" else "girls"
    if abs(gap_months) < 0.5:
        lead = "The estimated bone age matches the child's age."
    else:
        lead = f"The estimated bone age is {size} {direction} the child's age."
    if category == "normal":
        body = (
            f" That is within the usual range for healthy {child} of this age "
            f"(within 2 standard deviations, about ±{format_months(2 * sd)})."
        )
    else:
        word = "advanced" if category == "advanced" else "delayed"
        body = (
            f" That is more than 2 standard deviations (±{format_months(2 * sd)}) for {child} "
            f"of this age: the bones look {word}. This can have many causes, most of them "
            "harmless; a doctor can tell whether it matters for this child."
        )
    if within_error:
        body += (
            f" The gap is smaller than the model's typical error (±{format_months(model_error_months)}),"
            " so it cannot be told apart from no gap at all."
        )
    return Interpretation(category, round(z, 2), round(sd, 2), within_error, lead + body)


def format_months(months: float) -> str:
    """47.4 -> '3 years 11 months'; 5 -> '5 months'; 24 -> '2 years'."""
    total = int(round(abs(months)))
    years, rest = divmod(total, 12)
    parts = []
    if years:
        parts.append(f"{years} year{'s' if years != 1 else ''}")
    if rest or not years:
        parts.append(f"{rest} month{'s' if rest != 1 else ''}")
    return ("-" if months < 0 and total else "") + " ".join(parts)
