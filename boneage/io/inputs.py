"""Validation of the non-image inputs: sex, chronological age and the optional heights."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from boneage.errors import InvalidAgeError, InvalidHeightError, InvalidSexError

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


Unit = Literal["cm", "ft_in"]
CM_PER_INCH = 2.54
_FEET_INCHES = re.compile(
    r"^(?P<feet>\d+(?:\.\d+)?)\s*(?:'|’|ft|feet|foot)\s*(?:(?P<inches>\d+(?:\.\d+)?)\s*(?:\"|”|''|in|inch|inches)?)?$"
)
_WITH_UNIT = re.compile(r"^(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>cm|in|inch|inches|\"|”|ft|feet|')$")
_TWO_NUMBERS = re.compile(r"^(?P<feet>\d+)\s+(?P<inches>\d+(?:\.\d+)?)$")
_ONE_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
FEET_AT_MOST = 8.0  # a bare number in feet-and-inches mode up to this is feet, above it inches


@dataclass(frozen=True)
class Height:
    """A height as typed, in cm, and the unit it was typed in (so it is shown back in that unit)."""

    cm: float
    unit: Unit
    typed: str


@dataclass(frozen=True)
class HeightInputs:
    """The optional heights of a request: the child's today, and the parents'. Each may be None."""

    child: Height | None = None
    mother: Height | None = None
    father: Height | None = None

    @property
    def given(self) -> bool:
        return any(h is not None for h in (self.child, self.mother, self.father))

    @property
    def unit(self) -> Unit:
        """The unit the numbers are shown in: feet and inches if any height was typed so."""
        typed = [h.unit for h in (self.child, self.mother, self.father) if h is not None]
        return "ft_in" if "ft_in" in typed else "cm"


def parse_unit(value: object) -> Unit:
    """'cm' (the default) or 'ft_in'; 'in', 'inches', 'ft' and 'feet' mean feet and inches."""
    key = str(value or "cm").strip().lower().replace(" ", "_").replace("&", "_").replace("+", "_")
    if key in ("", "cm", "centimetres", "centimeters", "metric"):
        return "cm"
    if key in ("ft_in", "ft__in", "in", "inch", "inches", "ft", "feet", "imperial", "feet_inches"):
        return "ft_in"
    raise InvalidHeightError("height_unit_unknown", value=str(value))


def parse_height(value: object, unit: Unit = "cm") -> Height | None:
    """A typed height in cm, or None when nothing was typed.

    Accepts a number in ``unit`` ('132.5'; in feet-and-inches mode a bare number up to 8 is feet
    and above it inches), or a unit written out: '132 cm', '52 in', '4 ft 4 in', "4' 4\"", '4 4'.
    A written unit wins over ``unit``. Whether the height suits the person is checked later,
    against the growth reference (:func:`boneage.meaning.adult_height.check_heights`).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    typed = str(value).strip().lower().replace(",", ".")
    if not typed:
        return None
    try:
        cm, typed_unit = _to_cm(typed, unit)
    except ValueError:
        raise InvalidHeightError("height_not_number", value=str(value).strip()[:40]) from None
    if not (math.isfinite(cm) and cm > 0):
        raise InvalidHeightError("height_not_number", value=str(value).strip()[:40])
    return Height(cm=cm, unit=typed_unit, typed=str(value).strip())


def _to_cm(typed: str, unit: Unit) -> tuple[float, Unit]:
    if _ONE_NUMBER.match(typed):
        number = float(typed)
        if unit == "cm":
            return number, "cm"
        return (number * 12 if number <= FEET_AT_MOST else number) * CM_PER_INCH, "ft_in"
    if match := _WITH_UNIT.match(typed):
        number, written = float(match["number"]), match["unit"]
        if written == "cm":
            return number, "cm"
        return number * (12 if written in ("ft", "feet", "'") else 1) * CM_PER_INCH, "ft_in"
    if (match := _FEET_INCHES.match(typed)) or (match := _TWO_NUMBERS.match(typed)):
        inches = float(match["inches"] or 0)
        if inches >= 12:
            raise ValueError(typed)
        return (float(match["feet"]) * 12 + inches) * CM_PER_INCH, "ft_in"
    raise ValueError(typed)


def parse_heights(
    child: object = None, mother: object = None, father: object = None, unit: object = "cm"
) -> HeightInputs:
    """The three optional heights of a form or an API call, each in ``unit`` unless written out."""
    chosen = parse_unit(unit)
    return HeightInputs(
        parse_height(child, chosen), parse_height(mother, chosen), parse_height(father, chosen)
    )
