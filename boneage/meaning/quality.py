"""What an upload's quality does to its bone age: measured curves, and the outcome they give.

``python -m boneage.cli.quality`` degrades validation films the way small uploads are degraded
(Gaussian noise, JPEG compression at three sizes, a small size), runs each through the served model and
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
# The kinds, and which measurement places an upload on each one's curve. JPEG compression is
# judged by the file's own quality and its size instead (CompressionCurves); its blockiness is
# measured and reported.
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


@dataclass(frozen=True)
class CompressionCurves:
    """A JPEG's quality -> extra error, measured at several upload sizes.

    The same quality costs a small upload much more than a large one: the chain squashes every
    upload to 299 px, which averages a large upload's 8-pixel blocks away. So the curves are
    measured at the films' own size and at 2 and 4 times it (``scales``, the hand's size over
    ``reference_hand_px``), and an upload between two is placed between them on a log scale,
    held at the ends.
    """

    reference_hand_px: float
    scales: tuple[float, ...]  # increasing
    curves: tuple[Curve, ...]  # measured: 100 - quality

    @classmethod
    def from_dict(cls, record: dict) -> CompressionCurves:
        by_scale = sorted((float(scale), points) for scale, points in record["by_scale"].items())
        curves = tuple(_curve("compression", points) for _, points in by_scale)
        return cls(float(record["reference_hand_px"]), tuple(s for s, _ in by_scale), curves)

    def at(self, jpeg_quality: int, hand_px: float) -> tuple[float, float]:
        position = np.log2(max(float(hand_px), 1.0) / self.reference_hand_px)
        values = [curve.at(100.0 - jpeg_quality) for curve in self.curves]
        scales = np.log2(self.scales)
        return (
            float(np.interp(position, scales, [v[0] for v in values])),
            float(np.interp(position, scales, [v[1] for v in values])),
        )


def _curve(kind: str, points: list[dict]) -> Curve:
    ordered = sorted(points, key=lambda p: p["measured"])
    return Curve(
        kind,
        tuple(p["measured"] for p in ordered),
        tuple(p["extra_error_months"] for p in ordered),
        tuple(p["shift_p90_months"] for p in ordered),
    )


class QualityCurves:
    """The curves of one model (``weights/quality.json``, written by ``boneage.cli.quality``)."""

    def __init__(
        self,
        curves: list[Curve],
        compression: CompressionCurves | None = None,
        second_look: tuple[float, float] | None = None,
    ):
        self.curves = {curve.kind: curve for curve in curves}
        self.compression = compression
        # Films whose hand was found only on a second look (boneage.chain.preprocess): the extra
        # error and the shift measured on such films (boneage.cli.gate_eval).
        self.second_look = second_look

    @classmethod
    def from_dict(cls, record: dict) -> QualityCurves:
        curves = [_curve(kind, points) for kind, points in record["curves"].items()]
        compression = record.get("compression")
        second = record.get("second_look")
        return cls(
            curves,
            CompressionCurves.from_dict(compression) if compression else None,
            (float(second["extra_error_months"]), float(second["shift_p90_months"])) if second else None,
        )

    def judge(self, quality, second_look: str | None = None) -> QualityVerdict:
        """The outcome for an upload's measurements (:class:`boneage.chain.quality.UploadQuality`);
        ``second_look``: how its hand was found on a second look ("field", "margin"), which is
        answered with a caution of that kind at least (the second look is kept only where it
        reads within a caution)."""
        worst = GOOD
        if second_look and self.second_look is not None:
            worst = QualityVerdict("caution", second_look, *self.second_look)
        found = {}
        for kind, curve in self.curves.items():
            value = float(getattr(quality, MEASURES[kind]))
            found[kind] = curve.at(-value if kind == "size" else value)
        if self.compression is not None and getattr(quality, "jpeg_quality", None) is not None:
            found["compression"] = self.compression.at(quality.jpeg_quality, quality.hand_px)
        for kind, (extra, shift) in found.items():
            verdict = QualityVerdict(_outcome(extra), kind, extra, shift)
            # A second look's caution stands unless a measurement asks for a caution or more.
            if extra > worst.extra_error_months and OUTCOMES.index(verdict.outcome) >= OUTCOMES.index(
                worst.outcome
            ):
                worst = verdict
        return (
            worst
            if worst.outcome != "answer"
            else QualityVerdict("answer", "good", worst.extra_error_months, 0.0)
        )


OUTCOMES = ("answer", "caution", "refuse")  # in rising order


def _outcome(extra_error_months: float) -> Outcome:
    if extra_error_months <= ANSWER_WITHIN_MONTHS:
        return "answer"
    return "caution" if extra_error_months <= REFUSE_BEYOND_MONTHS else "refuse"
