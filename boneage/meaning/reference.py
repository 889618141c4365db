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
    category: Category
    z_score: float  # gap in reference standard deviations
    reference_sd_months: float
    within_model_error: bool  # |gap| is smaller than the model's typical error
    sentence: str
    # With an interval: the gap's interval in SD, and which side an uncertain result leans to.
    z_interval: tuple[float, float] | None = None
    leaning: Literal["delayed", "advanced"] | None = None

    def to_dict(self) -> dict:
        return asdict(self)


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
    lang: str = "en",
    interval_level: float = 0.9,
) -> Interpretation:
    """Classify a gap as delayed / normal / advanced (beyond ±2 SD), or uncertain when the bone
    age's ``interval`` (months) reaches across a boundary, and say it plainly in ``lang``."""
    from boneage.meaning.i18n import format_duration, t

    sd = reference_sd_months(chronological_age_months, sex)
    z = gap_months / sd
    if interval is not None:
        z_interval = (
            (interval[0] - chronological_age_months) / sd,
            (interval[1] - chronological_age_months) / sd,
        )
        category, leaning = categorise(*z_interval)
    else:
        z_interval, leaning = None, None
        category = "normal" if abs(z) <= 2 else ("advanced" if z > 0 else "delayed")
    within_error = model_error_months is not None and abs(gap_months) < model_error_months
    children = t("boys" if sex == "male" else "girls", lang)
    size = format_duration(abs(gap_months), lang)
    if abs(gap_months) < 0.5:
        lead = t("matches", lang)
    else:
        lead = t("ahead" if gap_months > 0 else "behind", lang, size=size)
    span = format_duration(2 * sd, lang)
    if category == "normal":
        body = t("normal_body", lang, children=children, range=span)
    elif category == "uncertain":
        body = t(
            "uncertain_body",
            lang,
            level=round(100 * interval_level),
            children=children,
            range=span,
            word=t(f"word_{leaning}", lang),
        )
    else:
        body = t("outside_body", lang, children=children, range=span, word=t(f"word_{category}", lang))
    text = [lead, body]
    if within_error:
        # To the tenth, as the result card gives it: "±6.7 months" in both places, not ±7 beside ±6.7.
        error = f"{model_error_months:.1f} {t('months', lang)}"
        text.append(t("within_error", lang, error=error))
    if z_interval is not None:
        implausible = min(z_interval) > CHECK_INPUTS_SD or max(z_interval) < -CHECK_INPUTS_SD
    else:
        implausible = abs(z) > CHECK_INPUTS_SD
    if implausible:
        text.append(t("check_inputs", lang, sd=CHECK_INPUTS_SD))
    joiner = "" if lang == "zh-TW" else " "
    rounded = tuple(round(v, 2) for v in z_interval) if z_interval else None
    return Interpretation(
        category, round(z, 2), round(sd, 2), within_error, joiner.join(text), rounded, leaning
    )


def format_months(months: float) -> str:
    """47.4 -> '3 years 11 months'; 5 -> '5 months'; 24 -> '2 years'."""
    from boneage.meaning.i18n import format_duration

    return format_duration(months, "en")
