"""Validation of the non-image inputs: sex and chronological age."""

from __future__ import annotations

import math
from typing import Literal

from boneage.errors import InvalidAgeError, InvalidSexError

Sex = Literal["male", "female"]
MAX_AGE_MONTHS = 240.0  # 20 years: bone age is not defined after skeletal maturity

_SEX_ALIASES = {
    "male": "male",
    "m": "male",
    "boy": "male",
    "1": "male",
    "true": "male",
    "female": "female",
    "f": "female",
    "girl": "female",
    "0": "female",
    "false": "female",
}


def parse_sex(value: object) -> Sex:
    """Accept 'male'/'female' (any case), 'M'/'F', 'boy'/'girl', booleans (True = male)."""
    if isinstance(value, bool):
        return "male" if value else "female"
    key = str(value).strip().lower() if value is not None else ""
    if key not in _SEX_ALIASES:
        raise InvalidSexError("sex_missing")
    return _SEX_ALIASES[key]  # type: ignore[return-value]


def parse_age_months(value: object) -> float:
    """A chronological age in months, within 0-240 (0-20 years)."""
    try:
        months = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidAgeError("age_not_number") from None
    if not math.isfinite(months):
        raise InvalidAgeError("age_not_number")
    if months < 0 or months > MAX_AGE_MONTHS:
        raise InvalidAgeError("age_out_of_range")
    return months


def age_from_years_months(years: object, months: object = 0) -> float:
    """Combine a years + months entry into validated months; a blank field counts as 0.

    But blank years with no months (blank, or the form's default 0) is a forgotten age, not a
    newborn: it is refused, or the bone age would be compared with an age of 0. A newborn's
    age is typed as 0 years.
    """

    def blank(value: object) -> bool:
        return value is None or (isinstance(value, str) and not value.strip())

    def number(value: object, what: str) -> float:
        if blank(value):
            return 0.0
        try:
            result = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidAgeError(f"{what}_not_number") from None
        if not math.isfinite(result) or result < 0:
            raise InvalidAgeError(f"{what}_negative")
        return result

    y, m = number(years, "years"), number(months, "months")
    if blank(years) and m == 0:
        raise InvalidAgeError("age_missing")
    if m >= 12 and y > 0:
        raise InvalidAgeError("months_too_many")
    return parse_age_months(y * 12 + m)
