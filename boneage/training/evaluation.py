"""Accuracy of a model on labelled radiographs, measured through the app's own path.

``Evaluation`` holds predictions against labels (MAE, RMSE, bias, per sex and age band);
``evaluate_samples`` predicts every image as the app does (``Predictor``: source transform, chain,
model) and lists the images the chain refuses; ``reframe`` frames an image differently (tight to
the hand, or with a 15% border), as real uploads are. The command line is
:mod:`boneage.cli.evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from boneage.chain.gate import find_hand
from boneage.chain.imageops import bounding_box
from boneage.chain.preprocess import Chain
from boneage.errors import BoneAgeError
from boneage.io.decode import load_radiograph
from boneage.training.data import Sample

BAND_YEARS = 2  # age bands of 2 years: 0-2, 2-4, ... 18-20
REFRAMINGS = ("tight", "border")
BORDER_FRACTION = 0.15


@dataclass
class Evaluation:
    """Predictions against labels, with the sex of each child; ``refused`` maps id -> reason."""

    predicted: np.ndarray
    target: np.ndarray
    male: np.ndarray
    refused: dict[str, str] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)  # of the predicted images, in order

    @property
    def errors(self) -> np.ndarray:
        return self.predicted - self.target

    def metrics(self, prefix: str) -> dict:
        """Flat summary for the manifest: MAE, RMSE, bias, count, MAE per sex."""
        err = self.errors
        result: dict = {f"{prefix}_n": len(err), f"{prefix}_refused": len(self.refused)}
        if len(err):
            result.update(
                {
                    f"{prefix}_mae_months": float(np.abs(err).mean()),
                    f"{prefix}_rmse_months": float(np.sqrt((err**2).mean())),
                    f"{prefix}_bias_months": float(err.mean()),
                }
            )
        for label, mask in (("male", self.male), ("female", ~self.male)):
            if mask.any():
                result[f"{prefix}_mae_{label}_months"] = float(np.abs(err[mask]).mean())
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}

    def table(self) -> list[dict]:
        """Rows: all, each sex, each 2-year band of true age (with n, MAE, RMSE, bias)."""
        groups = [("all", np.ones_like(self.male))]
        groups += [("male", self.male), ("female", ~self.male)]
        for low in range(0, 20, BAND_YEARS):
            band = (self.target >= 12 * low) & (self.target < 12 * (low + BAND_YEARS))
            groups.append((f"{low}-{low + BAND_YEARS} y", band))
        rows = []
        for name, mask in groups:
            err = self.errors[mask]
            if len(err):
                rows.append(
                    {
                        "group": name,
                        "n": int(len(err)),
                        "mae_months": round(float(np.abs(err).mean()), 2),
                        "rmse_months": round(float(np.sqrt((err**2).mean())), 2),
                        "bias_months": round(float(err.mean()), 2),
                    }
                )
        return rows


def format_table(rows: list[dict]) -> str:
    lines = ["| group | n | MAE (months) | RMSE | bias |", "|---|---:|---:|---:|---:|"]
    lines += [
        f"| {r['group']} | {r['n']} | {r['mae_months']:.2f} | {r['rmse_months']:.2f} | {r['bias_months']:+.2f} |"
        for r in rows
    ]
    return "\n".join(lines)


def reframe(pixels: np.ndarray, how: str, chain: Chain) -> np.ndarray:
    """The same radiograph framed as another upload might be.

    ``tight``: cropped to the hand's bounding box. ``border``: 15% of the side added on every
    side in the background's grey level (the median outside the hand). Both are found on the
    image as given; the result is then formed (squashed) like any upload.
    """
    if how == "tight":
        _, mask, _ = find_hand(pixels, chain.config, chain.unet)
        x0, y0, x1, y1 = bounding_box(mask)
        return pixels[y0:y1, x0:x1]
    if how == "border":
        _, mask, inverted = find_hand(pixels, chain.config, chain.unet)
        background = float(np.median(pixels[~mask]))
        height, width = pixels.shape
        pad_y, pad_x = round(BORDER_FRACTION * height), round(BORDER_FRACTION * width)
        return np.pad(pixels, ((pad_y, pad_y), (pad_x, pad_x)), constant_values=background)
    raise ValueError(f"Unknown reframing {how!r}; known: {', '.join(REFRAMINGS)}")


def evaluate_samples(
    predictor, samples: list[Sample], reframing: str | None = None, progress: bool = True
) -> Evaluation:
    """Predict every sample through the app's path (optionally reframed first)."""
    predicted, target, male, refused, ids = [], [], [], {}, []
    for sample in tqdm(samples, desc=reframing or "evaluate", unit="img", disable=not progress):
        try:
            pixels = load_radiograph(sample.path).pixels
            if reframing:
                pixels = reframe(pixels, reframing, predictor.chain)
            months = predictor.predict_pixels(pixels, sample.male)
        except BoneAgeError as exc:
            refused[sample.id] = str(exc)
            continue
        predicted.append(months)
        target.append(sample.boneage)
        male.append(sample.male)
        ids.append(sample.id)
    return Evaluation(
        np.asarray(predicted, dtype=np.float64),
        np.asarray(target, dtype=np.float64),
        np.asarray(male, dtype=bool),
        refused,
        ids,
    )


def evaluation_report(predictor, samples: list[Sample], reframings: tuple[str, ...] = ()) -> dict:
    """JSON-ready results: metrics and table, plus the same for each reframing asked for."""
    plain = evaluate_samples(predictor, samples)
    report = {
        "n_images": len(samples),
        "metrics": plain.metrics("eval"),
        "table": plain.table(),
        "refused": plain.refused,
        "reframed": {},
        # Per image, so intervals can be calibrated from an evaluation (boneage.meaning.interval).
        "predictions": [
            {"id": i, "predicted": round(float(p), 3), "target": float(t), "male": bool(m)}
            for i, p, t, m in zip(plain.ids, plain.predicted, plain.target, plain.male, strict=True)
        ],
    }
    for how in reframings:
        other = evaluate_samples(predictor, samples, reframing=how)
        report["reframed"][how] = {"metrics": other.metrics(how), "refused": len(other.refused)}
    return report
