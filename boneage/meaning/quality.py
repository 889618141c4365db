"""What an upload's quality does to its bone age: measured curves, and the outcome they give.

``python -m boneage.cli.quality`` degrades validation films the way small uploads are degraded
(Gaussian noise, JPEG compression, a small size), runs each through the served model and
records, per kind and level, what the chain measured (:mod:`boneage.chain.quality`) and how much
farther from the truth the bone age went: the mean extra error, and the 90th percentile of how
far each film's answer moved. These curves (``weights/quality.json``, beside the model they were
measured with) turn a new upload's measurements into one of three outcomes:

- **answer**: it reads within ``ANSWER_WITHIN_MONTHS`` of a clean film;
- **caution**: it reads worse, but within ``REFUSE_BEYOND_MONTHS`` more; the answer says what is
  doubtful, and its interval takes in how far such uploads moved the answer (the 90th
  percentile of the shift, added to the interval's half-width in quadrature);
- **refuse**: farther than that, the bone age cannot be read from this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Outcome = Literal["answer", "caution", "refuse"]
# A kind of upload whose bone ages moved by less than this on average is answered as it is.
ANSWER_WITHIN_MONTHS = 1.0
# Beyond this much extra error, about the model's own typical error, nothing useful is left.
REFUSE_BEYOND_MONTHS = 6.0
# The kinds, and which measurement places an upload on each one's curve.
MEASURES = {"noise": "noise_grey_levels", "compression": "blockiness", "size": "hand_px"}


@dataclass(frozen=True)
class Curve:
    """One kind of degradation: measurement -> (mean extra error, 90th percentile of the shift)."""

    kind: str
    measured: tuple[float, ...]  # increasing: the worse the upload, the larger (size: negated)
    extra_error_months: tuple[float, ...]
    shift_p90_months: tuple[float, ...]

    def at(self, value: float) -> tuple[float, float]:
        """Interpolated between measured levels; held at the ends (below the first: clean)."""
        if value <= self.measured[0]:
            return 0.0, 0.0
        return (
            float(np.interp(value, self.measured, self.extra_error_months)),
            float(np.interp(value, self.measured, self.shift_p90_months)),
        )


@dataclass(frozen=True)
class QualityVerdict:
    """The outcome for one upload: what was doubtful, how much error it adds, how far it moves."""

    outcome: Outcome
    kind: str  # "good", or the kind of degradation that weighs most: "noise", "compression", "size"
    extra_error_months: float
    shift_p90_months: float  # how far 9 in 10 such uploads moved the answer; widens the interval

    def to_dict(self) -> dict:
        return {
            "outcome": self.outcome,
            "code": self.kind,
            "extra_error_months": round(self.extra_error_months, 1),
            "shift_p90_months": round(self.shift_p90_months, 1),
        }


GOOD = QualityVerdict("answer", "good", 0.0, 0.0)


class QualityCurves:
    """The curves of one model (``weights/quality.json``, written by ``boneage.cli.quality``)."""

    def __init__(self, curves: list[Curve]):
        self.curves = {curve.kind: curve for curve in curves}

    @classmethod
    def from_dict(cls, record: dict) -> QualityCurves:
        curves = []
        for kind, points in record["curves"].items():
            ordered = sorted(points, key=lambda p: p["measured"])
            curves.append(
                Curve(
                    kind,
                    tuple(p["measured"] for p in ordered),
                    tuple(p["extra_error_months"] for p in ordered),
                    tuple(p["shift_p90_months"] for p in ordered),
                )
            )
        return cls(curves)

    def judge(self, quality) -> QualityVerdict:
        """The outcome for an upload's measurements (:class:`boneage.chain.quality.UploadQuality`)."""
        worst = GOOD
        for kind, curve in self.curves.items():
            value = float(getattr(quality, MEASURES[kind]))
            extra, shift = curve.at(-value if kind == "size" else value)
            if extra > worst.extra_error_months:
                worst = QualityVerdict(_outcome(extra), kind, extra, shift)
        return (
            worst
            if worst.outcome != "answer"
            else QualityVerdict("answer", "good", worst.extra_error_months, 0.0)
        )


def _outcome(extra_error_months: float) -> Outcome:
    if extra_error_months <= ANSWER_WITHIN_MONTHS:
        return "answer"
    return "caution" if extra_error_months <= REFUSE_BEYOND_MONTHS else "refuse"
