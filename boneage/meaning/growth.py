"""Height for age on the CDC 2000 growth charts: a child's height as an SDS and a centile.

Why CDC 2000: its tables are a work of the US government, in the public domain, so they ship in
an Apache-2.0 Space with nothing to clear; they run to 20 years, past WHO 2007's 19; and the
children behind both the RSNA radiographs the model learnt from and the Bayley-Pinneau tables
are American. The LMS values are the CDC's own files (``data/cdc2000_*.csv``, provenance in
``data/SOURCES.md``); each row also carries the CDC's printed centiles, which the tests read
back through :meth:`GrowthReference.sds`.

Under 24 months the child is measured lying down (recumbent length, ``lenageinf``); from 24
months standing (stature, ``statage``), as the CDC prescribes. Between the table's ages the L, M
and S are interpolated linearly.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from boneage.io.inputs import Sex

DATA = Path(__file__).parent / "data"
NAME = "CDC 2000"
CITATION = (
    "Kuczmarski RJ et al. 2000 CDC growth charts for the United States: methods and development. "
    "Vital Health Stat 11(246), 2002"
)
STANDING_FROM_MONTHS = 24.0
ADULT_MONTHS = 240.0


@dataclass(frozen=True)
class LMS:
    """Cole's LMS parameters at one age: the Box-Cox power, the median and the coefficient of variation."""

    L: float
    M: float
    S: float

    def sds(self, value: float) -> float:
        if abs(self.L) < 1e-9:
            return math.log(value / self.M) / self.S
        return ((value / self.M) ** self.L - 1) / (self.L * self.S)

    def value(self, sds: float) -> float:
        if abs(self.L) < 1e-9:
            return self.M * math.exp(self.S * sds)
        return self.M * (1 + self.L * self.S * sds) ** (1 / self.L)


@dataclass(frozen=True)
class _Table:
    ages: np.ndarray  # months
    lms: np.ndarray  # (n, 3)

    def at(self, age_months: float) -> LMS:
        return LMS(*(float(np.interp(age_months, self.ages, self.lms[:, i])) for i in range(3)))


def _read(name: str) -> dict[Sex, _Table]:
    rows: dict[Sex, list[list[float]]] = {"male": [], "female": []}
    with open(DATA / name, newline="") as handle:
        for row in csv.DictReader(handle):
            sex: Sex = "male" if row["Sex"] == "1" else "female"
            rows[sex].append([float(row[k]) for k in ("Agemos", "L", "M", "S")])
    return {sex: _Table(np.array(r)[:, 0], np.array(r)[:, 1:]) for sex, r in rows.items()}


@dataclass(frozen=True)
class GrowthReference:
    """Height (length under 2 years) for age and sex, from birth to 20 years."""

    length: dict[Sex, _Table]
    stature: dict[Sex, _Table]
    name: str = NAME

    @classmethod
    @cache
    def cdc2000(cls) -> GrowthReference:
        """The reference, read once per process (a read-only table, like the atlas's SDs)."""
        return cls(_read("cdc2000_lenageinf.csv"), _read("cdc2000_statage.csv"))

    def lms(self, age_months: float, sex: Sex) -> LMS:
        age = min(max(float(age_months), 0.0), ADULT_MONTHS)
        table = self.length if age < STANDING_FROM_MONTHS else self.stature
        return table[sex].at(age)

    def sds(self, height_cm: float, age_months: float, sex: Sex) -> float:
        return self.lms(age_months, sex).sds(height_cm)

    def height_at(self, sds: float, age_months: float, sex: Sex) -> float:
        return self.lms(age_months, sex).value(sds)


def centile(sds: float) -> float:
    """The centile (0-100) of an SDS on the normal scale the LMS method defines."""
    return 50.0 * (1.0 + math.erf(sds / math.sqrt(2.0)))
