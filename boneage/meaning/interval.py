"""An honest interval around each bone age: split-conformal prediction on absolute residuals.

Calibration needs predictions on radiographs the model never trained on, with their labels:
the validation split. One seeded half calibrates (the residual quantile that covers ``level``
of it, with the finite-sample correction), the other half checks the coverage that users will
actually get. Optionally the quantile is taken per band of *predicted* bone age (Mondrian
conformal): the error is not the same for a toddler and a teenager, and the band is known at
inference. The result travels in the weights manifest (``interval``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

MAX_MONTHS = 240.0
DEFAULT_BAND_EDGES = (48.0, 96.0, 144.0, 180.0)  # predicted bone age, months


@dataclass(frozen=True)
class IntervalCalibration:
    """Half-widths of the ``level`` interval, one per predicted-age band (one band: global)."""

    level: float
    band_edges_months: tuple[float, ...]  # band i holds predictions below edge i; the last, the rest
    half_widths_months: tuple[float, ...]
    n_calibration: tuple[int, ...]
    coverage: dict = field(default_factory=dict)  # measured on the check half
    method: str = "split conformal, absolute residuals"

    def band_of(self, predicted_months: float) -> int:
        return int(np.searchsorted(np.asarray(self.band_edges_months), predicted_months, side="right"))

    def half_width(self, predicted_months: float) -> float:
        return float(self.half_widths_months[self.band_of(predicted_months)])

    def interval(self, predicted_months: float) -> tuple[float, float]:
        """(low, high) in months, clipped to the range a bone age can have."""
        width = self.half_width(predicted_months)
        return max(0.0, predicted_months - width), min(MAX_MONTHS, predicted_months + width)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> IntervalCalibration:
        values = dict(values)
        for key in ("band_edges_months", "half_widths_months", "n_calibration"):
            values[key] = tuple(values[key])
        return cls(**values)


def conformal_quantile(residuals: np.ndarray, level: float) -> float:
    """The ceil((n + 1) * level)-th smallest |residual|: covers ``level`` of new cases on average."""
    scores = np.sort(np.abs(np.asarray(residuals, dtype=float)))
    n = scores.size
    rank = math.ceil((n + 1) * level)
    if n == 0 or rank > n:
        return math.inf
    return float(scores[rank - 1])


def fit(
    predicted: np.ndarray,
    target: np.ndarray,
    level: float,
    band_edges: tuple[float, ...] = (),
    shared_width: bool = False,
) -> IntervalCalibration:
    """Calibrate on all of ``predicted``/``target`` (no coverage check: see :func:`calibrate`).

    ``shared_width``: one width for every band (the global interval, reported per band).
    """
    predicted, target = np.asarray(predicted, float), np.asarray(target, float)
    bands = np.searchsorted(np.asarray(band_edges), predicted, side="right")
    widths, counts = [], []
    for band in range(len(band_edges) + 1):
        chosen = np.ones_like(bands, bool) if shared_width else bands == band
        widths.append(round(conformal_quantile(target[chosen] - predicted[chosen], level), 2))
        counts.append(int((bands == band).sum()))
    return IntervalCalibration(level, tuple(band_edges), tuple(widths), tuple(counts))


def measure_coverage(calibration: IntervalCalibration, predicted: np.ndarray, target: np.ndarray) -> dict:
    """Share of ``target`` inside the intervals, overall and per band, and the mean width."""
    predicted, target = np.asarray(predicted, float), np.asarray(target, float)
    bounds = np.array([calibration.interval(p) for p in predicted])
    inside = (target >= bounds[:, 0]) & (target <= bounds[:, 1])
    bands = np.array([calibration.band_of(p) for p in predicted])
    per_band = {}
    for band in range(len(calibration.half_widths_months)):
        chosen = bands == band
        per_band[str(band)] = {
            "n": int(chosen.sum()),
            "coverage": round(float(inside[chosen].mean()), 4) if chosen.any() else None,
        }
    return {
        "n": int(predicted.size),
        "coverage": round(float(inside.mean()), 4),
        "mean_width_months": round(float((bounds[:, 1] - bounds[:, 0]).mean()), 2),
        "per_band": per_band,
    }


def calibrate(
    predicted: np.ndarray,
    target: np.ndarray,
    level: float = 0.9,
    band_edges: tuple[float, ...] = (),
    seed: int = 0,
    repeats: int = 20,
    shared_width: bool = False,
) -> IntervalCalibration:
    """Fit on all the predictions; measure coverage honestly on ``repeats`` random half splits.

    Each split fits on one half and counts the other half's labels inside the intervals. One
    split alone moves by a few points (heavy tails, whole-month labels), so the mean and the
    range over the splits are reported.
    """
    predicted, target = np.asarray(predicted, float), np.asarray(target, float)
    rng = np.random.default_rng(seed)
    checks = []
    for _ in range(repeats):
        order = rng.permutation(predicted.size)
        fit_idx, check_idx = order[: predicted.size // 2], order[predicted.size // 2 :]
        half = fit(predicted[fit_idx], target[fit_idx], level, band_edges, shared_width)
        checks.append(measure_coverage(half, predicted[check_idx], target[check_idx]))
    calibration = fit(predicted, target, level, band_edges, shared_width)
    values = [c["coverage"] for c in checks]
    per_band = {
        band: {
            "n": checks[0]["per_band"][band]["n"],
            "coverage": _mean([c["per_band"][band]["coverage"] for c in checks]),
        }
        for band in checks[0]["per_band"]
    }
    coverage = {
        "coverage": round(float(np.mean(values)), 4),
        "coverage_min": round(float(np.min(values)), 4),
        "coverage_max": round(float(np.max(values)), 4),
        "n": checks[0]["n"],
        "repeats": repeats,
        "mean_width_months": measure_coverage(calibration, predicted, target)["mean_width_months"],
        "per_band": per_band,
    }
    return IntervalCalibration(**{**asdict(calibration), "coverage": coverage})


def _worst(per_band: dict) -> float:
    return min(band["coverage"] for band in per_band.values() if band["coverage"] is not None)


def _mean(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return round(float(np.mean(present)), 4) if present else None


def choose(predicted: np.ndarray, target: np.ndarray, level: float = 0.9, seed: int = 0) -> dict:
    """Global and per-band calibrations side by side; the per-band one is chosen when its
    worst band covers at least as well as the global interval's worst band."""
    options = {
        "global": calibrate(predicted, target, level, (), seed),
        "by predicted age band": calibrate(predicted, target, level, DEFAULT_BAND_EDGES, seed),
    }
    banded_worst = _worst(options["by predicted age band"].coverage["per_band"])
    # The global interval's coverage within the same bands of predicted age, over the same splits:
    as_bands = calibrate(predicted, target, level, DEFAULT_BAND_EDGES, seed, shared_width=True)
    global_worst = _worst(as_bands.coverage["per_band"])
    banded_finite = all(math.isfinite(w) for w in options["by predicted age band"].half_widths_months)
    chosen = "by predicted age band" if banded_finite and banded_worst >= global_worst else "global"
    return {
        "chosen": chosen,
        "options": {name: option.to_dict() for name, option in options.items()},
        "global_per_band_coverage": as_bands.coverage["per_band"],
        "calibration": options[chosen],
    }


def category_shares(
    predicted: np.ndarray, target: np.ndarray, male: np.ndarray, calibration: IntervalCalibration
) -> dict[str, float]:
    """Share of results per category for children whose bone age is typical for their age.

    The RSNA labels have no chronological age, so each child's age is taken to be their true
    bone age: a perfect, certain model would call every one "normal". The share called
    "uncertain" is then what the interval's width costs a typical child.
    """
    from boneage.meaning.reference import categorise, reference_sd_months

    counts: dict[str, int] = {"normal": 0, "uncertain": 0, "advanced": 0, "delayed": 0}
    for bone, age, is_male in zip(predicted, target, male, strict=True):
        low, high = calibration.interval(float(bone))
        sd = reference_sd_months(float(age), "male" if is_male else "female")
        category, _ = categorise((low - age) / sd, (high - age) / sd)
        counts[category] += 1
    total = max(1, len(predicted))
    return {name: round(count / total, 4) for name, count in counts.items()}
