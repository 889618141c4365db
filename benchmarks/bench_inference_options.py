"""Inference options for the shipped model, measured on its validation split: TTA and bias correction.

    python benchmarks/bench_inference_options.py [--weights weights] [--data ../shared/data/rsna-train-100]

The validation images (never trained on) go through the app's chain once; then each option is
applied to the same images. Bias correction toward the mean is a straight line fitted from
predicted to true age; its MAE is cross-fitted (fit on one half of the split, measured on the
other, both ways), so the number is not flattered by fitting on what it measures. Also times
each option per image. Prints a table and writes benchmarks/results/inference_options.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchlib import machine, print_table, write_json


def cross_fitted_line(predicted: np.ndarray, target: np.ndarray, seed: int = 0) -> np.ndarray:
    """Corrected predictions: each half corrected by the line fitted on the other half."""
    order = np.random.default_rng(seed).permutation(len(predicted))
    halves = np.array_split(order, 2)
    corrected = np.empty_like(predicted)
    for fit, apply in ((halves[0], halves[1]), (halves[1], halves[0])):
        slope, intercept = np.polyfit(predicted[fit], target[fit], 1)
        corrected[apply] = slope * predicted[apply] + intercept
    return corrected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", type=Path, default=Path("weights"))
    parser.add_argument(
        "--data", type=Path, help="default: the data set the model was trained on (its manifest)"
    )
    args = parser.parse_args()

    from tqdm.auto import tqdm

    from boneage.chain.preprocess import preprocess
    from boneage.chain.views import TTA_VIEWS
    from boneage.errors import BoneAgeError
    from boneage.io.decode import load_radiograph
    from boneage.predictor import Predictor
    from boneage.training.data import read_samples

    base = Predictor.load(explicit=args.weights)
    # The validation split only means something on the data it was drawn from.
    data = args.data or Path(base.manifest.training["data_dir"])
    val_ids = set(json.loads((args.weights / "split.json").read_text())["val"])
    samples = [s for s in read_samples(data) if s.id in val_ids]
    images, male, target = [], [], []
    for sample in tqdm(samples, desc="chain", unit="img"):
        try:
            images.append(preprocess(load_radiograph(sample.path).pixels, base.chain).image)
        except BoneAgeError:
            continue
        male.append(sample.male)
        target.append(sample.boneage)
    target = np.array(target)
    rows, predictions = [], {}
    for name, views in TTA_VIEWS.items():
        predictor = Predictor(base.model, replace(base.manifest, tta=views))
        started = time.perf_counter()
        predicted = np.concatenate(
            [
                predictor.predict_months(images[i : i + 32], male[i : i + 32])
                for i in range(0, len(images), 32)
            ]
        )
        per_image_ms = 1000 * (time.perf_counter() - started) / len(images)
        predictions[name] = predicted
        for correction in ("none", "line"):
            final = cross_fitted_line(predicted, target) if correction == "line" else predicted
            err = final - target
            young, old = target < 60, target > 180
            rows.append(
                {
                    "tta": name,
                    "views": max(1, len(views)),
                    "bias_correction": correction,
                    "mae_months": float(np.abs(err).mean()),
                    "bias_months": float(err.mean()),
                    "bias_under_5y": float(err[young].mean()),
                    "bias_over_15y": float(err[old].mean()),
                    "model_ms_per_image": per_image_ms,
                }
            )
    slope, intercept = np.polyfit(predictions["none"], target, 1)
    result = {
        "machine": machine(),
        "model": base.manifest.name,
        "n_images": len(target),
        "line_fit_on_all": {"slope": float(slope), "intercept": float(intercept)},
        "rows": [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in rows],
    }
    print_table(result["rows"], list(result["rows"][0]))
    write_json("inference_options.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
