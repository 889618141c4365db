"""Accuracy of a model on any Kaggle-layout folder: MAE, RMSE, bias, per sex and age band.

    python -m boneage.cli.evaluate --data ../shared/data/atlas-pedrad --weights weights --out eval.json

Every image goes through the app's own path (``Predictor``: source transform, chain, model, with
the forward pass in ONNX Runtime as the app runs it, unless ``--pytorch``), so the numbers are what
a user gets. Images the chain refuses are counted and listed with the reason.
``--reframe`` also measures the same images framed differently (cropped tight to the hand, or
with a 15% border added), as real uploads are: a model that reads bones, not framing, keeps its
accuracy there.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from boneage.errors import BoneAgeError
from boneage.training.data import read_samples
from boneage.training.evaluation import REFRAMINGS, evaluation_report, format_table


def main(argv: list[str] | None = None) -> int:
    from boneage.predictor import Predictor

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="folder in the Kaggle layout")
    parser.add_argument("--weights", type=Path, help="folder with manifest.json (default: the shipped model)")
    parser.add_argument(
        "--ids", type=Path, help="JSON list of ids, or split.json (its 'val' list), to evaluate"
    )
    parser.add_argument(
        "--reframe", action="store_true", help="also evaluate tight-cropped and bordered copies"
    )
    parser.add_argument("--out", type=Path, default=Path("evaluation.json"), help="where the JSON goes")
    parser.add_argument(
        "--pytorch", action="store_true", help="run the network in PyTorch, not ONNX Runtime as the app does"
    )
    args = parser.parse_args(argv)
    try:
        predictor = Predictor.load(explicit=args.weights)
        if not args.pytorch:
            predictor.use_onnx_runtime()
        samples = read_samples(args.data)
        if args.ids:
            ids = json.loads(args.ids.read_text())
            wanted = set(ids["val"] if isinstance(ids, dict) else ids)
            samples = [s for s in samples if s.id in wanted]
    except BoneAgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = evaluation_report(predictor, samples, REFRAMINGS if args.reframe else ())
    report.update(
        {
            "data": str(args.data),
            "model": predictor.manifest.name,
            "sha256": predictor.manifest.sha256,
            "runtime": predictor.runtime,
        }
    )
    print(
        f"{predictor.manifest.name} ({predictor.runtime}) on {args.data} ({len(samples)} images, "
        f"{len(report['refused'])} refused)\n"
    )
    print(format_table(report["table"]))
    for how, result in report["reframed"].items():
        print(f"\nreframed {how}: MAE {result['metrics'].get(how + '_mae_months')} months")
    for image_id, reason in report["refused"].items():
        print(f"refused {image_id}: {reason}")
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
