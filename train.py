"""Train a bone-age model on data in the RSNA Kaggle layout and write weights + manifest + report.

    python train.py --data ../shared/data/rsna-boneage --out weights \
        --arch efficientnet-b0-sex --size 384 --epochs 30 --external-eval ../shared/data/atlas-pedrad

All logic lives in boneage.training; this file only parses arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from boneage.errors import BoneAgeError
from boneage.models import list_models
from boneage.training import TrainConfig, train


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="folder in the Kaggle layout")
    parser.add_argument(
        "--out", type=Path, default=Path("runs/latest"), help="where weights, manifest and report go"
    )
    parser.add_argument("--arch", default="efficientnet-b0-sex", choices=list_models())
    parser.add_argument("--backbone", help="timm backbone name (for --arch timm-sex)")
    parser.add_argument("--size", type=int, default=384, help="input side in pixels")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, help="use only the first N images (quick runs)")
    parser.add_argument("--cache", type=Path, help="preprocessed-image cache folder (default: OUT/cache)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--external-eval", type=Path, help="another Kaggle-layout folder to report MAE on")
    parser.add_argument("--name", help="model name (default: ARCH-SIZE)")
    parser.add_argument("--version", default="0.1.0")
    parser.add_argument("--dataset-name", help="how the manifest describes the training data")
    args = parser.parse_args(argv)
    return TrainConfig(
        data_dir=args.data,
        out_dir=args.out,
        architecture=args.arch,
        architecture_kwargs={"backbone": args.backbone} if args.backbone else {},
        image_size=args.size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        val_fraction=args.val_fraction,
        seed=args.seed,
        workers=args.workers,
        limit=args.limit,
        cache_dir=args.cache,
        device=args.device,
        external_eval=args.external_eval,
        name=args.name,
        version=args.version,
        dataset_name=args.dataset_name,
    )


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        result = train(config)
    except BoneAgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result["metrics"], indent=2))
    print(f"weights, manifest and report written to {config.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
