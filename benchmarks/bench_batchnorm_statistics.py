"""Would the shipped networks read better with batch-norm statistics recomputed as served?

    python benchmarks/bench_batchnorm_statistics.py [--weights weights] [--images 1000]

Each network's stored statistics are running averages from training: images under training's
random zoom, stretch and tilt, and weights still moving. Recomputed with the final weights over
training images in the served view (no augmentation), they describe exactly what the network
meets in the app (the "FixRes" and "precise BN" corrections). Each network is measured both ways
on the validation split (never trained on), through ONNX Runtime as the app runs it, and so is
their mean. Needs the chain's cache of the data set (``train.py --cache``; built here if absent,
about 7 min for 12,010 images at 512 px on 2 cores). Writes
benchmarks/results/batchnorm_statistics.json. docs/model.md says what it found.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np

from benchlib import machine, print_table, write_json

BATCH = 32


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weights", type=Path, default=Path("weights"))
    parser.add_argument("--data", type=Path, help="default: the data set the model was trained on")
    parser.add_argument("--cache", type=Path, default=Path("runs/cache512"), help="train.py's --cache")
    parser.add_argument(
        "--images", type=int, default=1000, help="training images the statistics are taken over"
    )
    args = parser.parse_args()

    import torch

    from boneage.chain import PreprocessConfig
    from boneage.chain.views import affine
    from boneage.model.inputs import to_model_input
    from boneage.model.loading import load_model
    from boneage.model.onnx_runtime import export_regressor
    from boneage.training.checkpoint import read_split
    from boneage.training.data import build_cache, read_samples, split_from_record
    from boneage.weights import resolve_weights

    torch.set_num_threads(2)
    resolved = resolve_weights(args.weights)
    manifest = resolved.manifest
    model = load_model(resolved).float()  # with its batch norms (the Predictor folds them away)
    data = args.data or Path(manifest.training["data_dir"])
    samples = read_samples(data)
    cache = build_cache(samples, PreprocessConfig.from_dict(manifest.preprocess), args.cache)
    usable = [s for s, ok in zip(samples, cache.ok, strict=True) if ok]
    train_set, val_set = split_from_record(usable, read_split(args.weights / "split.json"))
    index_of = {s.id: i for i, s in enumerate(samples)}
    val_idx = [index_of[s.id] for s in val_set]
    chosen = np.random.default_rng(0).choice(len(train_set), args.images, replace=False)
    stats_idx = [index_of[train_set[i].id] for i in chosen]
    views = [dict(v) for v in manifest.tta] or [{}]
    truth = np.array([samples[i].boneage for i in val_idx])

    def batches(indices: list[int], view: dict):
        for start in range(0, len(indices), BATCH):
            chunk = indices[start : start + BATCH]
            images = [affine(cache.images[i].astype(np.float32) / 255.0, **view) for i in chunk]
            male = torch.tensor([float(samples[i].male) for i in chunk])
            yield to_model_input(images), male

    def predict(network) -> np.ndarray:
        runtime = export_regressor(copy.deepcopy(network).eval(), manifest.input_size)
        per_view = [np.concatenate([runtime(x, m).numpy() for x, m in batches(val_idx, v)]) for v in views]
        return np.mean(per_view, axis=0)

    @torch.no_grad()
    def recomputed(network):
        network = copy.deepcopy(network).eval().to(memory_format=torch.channels_last)
        for norm in network.modules():
            if isinstance(norm, torch.nn.modules.batchnorm._BatchNorm):
                norm.reset_running_stats()
                norm.momentum = None  # the plain average over every batch
                norm.train()
        for view in views:
            for x, m in batches(stats_idx, view):
                network(x.to(memory_format=torch.channels_last), m)
        return network.eval()

    members = getattr(model, "members", [model])
    predictions: dict[str, list[np.ndarray]] = {"stored": [], "recomputed as served": []}
    rows = []
    for number, member in enumerate(members):
        for name in predictions:
            started = time.perf_counter()
            months = predict(member if name == "stored" else recomputed(member))
            predictions[name].append(months)
            rows.append(
                {
                    "network": str(number),
                    "statistics": name,
                    "val_mae_months": float(np.abs(months - truth).mean()),
                    "seconds": time.perf_counter() - started,
                }
            )
    errors = {name: np.abs(np.mean(months, axis=0) - truth) for name, months in predictions.items()}
    gain = errors["stored"] - errors["recomputed as served"]
    for name, error in errors.items():
        rows.append(
            {
                "network": "mean",
                "statistics": name,
                "val_mae_months": float(error.mean()),
                "p90_error_months": float(np.quantile(error, 0.9)),
            }
        )
    result = {
        "machine": machine(),
        "model": manifest.name,
        "views": views,
        "n_validation": len(truth),
        "n_statistics_images": args.images,
        "paired_gain_months": {"mean": float(gain.mean()), "se": float(gain.std() / np.sqrt(len(gain)))},
        "rows": [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in rows],
    }
    print_table(result["rows"], ["network", "statistics", "val_mae_months", "p90_error_months", "seconds"])
    print(f"paired gain of the mean: {gain.mean():.3f} ± {gain.std() / np.sqrt(len(gain)):.3f} months")
    write_json("batchnorm_statistics.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
