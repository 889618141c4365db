"""Train a bone-age model on data in the RSNA Kaggle layout and write weights + manifest + report.

The shipped model came from three runs (the exact commands are in weights/manifest.json and in
docs/model.md, "Reproduce the shipped weights"): two GPU runs from ImageNet weights that differ
only in the seed,

    python train.py --data ../shared/data/rsna-train-299 --source-size 299 --source-resample pillow-bilinear \\
        --arch efficientnet-lite0-sex --pretrained --no-mask --size 512 --epochs 15 --batch-size 64 \\
        --device cuda --seed 7 --split-seed 42 --out runs/lite0-512-s7 ...

then ``--epochs 0 --ensemble-of A.safetensors B.safetensors --weights-dtype float16 --tta zoomout
...`` on the CPU, which writes their mean with the app's serving checks. (``--epochs 0
--init-from A.safetensors`` does the same for one model.)

A long run is checkpointed after every epoch; run the same command with --resume to continue.
Several GPUs (or CPU processes): torchrun --nproc_per_node N train.py ...
All logic lives in boneage.training; this file only parses arguments.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import replace

from boneage.chain.source import SourceTransform
from boneage.errors import BoneAgeError
from boneage.training.loop import TrainConfig, run_rule_broken, train
from boneage.training.options import add_options, settings_from


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.data_dir is None and not args.download:
        parser.error("one of --data or --download is required")
    if args.data_dir is not None and args.download:
        parser.error("--data and --download are alternatives")
    try:
        config = config_from_args(args, argv)
    except ValueError as exc:  # a setting the chain refuses (boneage.chain.config)
        parser.error(str(exc))
    if broken := run_rule_broken(config):  # the library refuses the same configs (train raises)
        parser.error(broken)
    if args.download:
        from boneage.training.download import download_rsna

        config = replace(config, data_dir=download_rsna())
    return config


def build_parser() -> argparse.ArgumentParser:
    """TrainConfig's fields (and the chain's) with their help, plus the few that become others."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_options(parser, TrainConfig)
    parser.add_argument("--download", action="store_true", help="fetch the RSNA set from Kaggle (kagglehub)")
    parser.add_argument("--backbone", help="timm backbone name (for --arch timm-sex)")
    parser.add_argument(
        "--source-size",
        type=int,
        help="the training images are whole radiographs resized to NxN (e.g. 100 for rsna-train-100); "
        "uploads are then formed the same way",
    )
    parser.add_argument(
        "--source-resample", default="nearest", help="how they were resized (default: nearest)"
    )
    return parser


def config_from_args(args: argparse.Namespace, argv: list[str] | None) -> TrainConfig:
    config = settings_from(
        TrainConfig,
        args,
        architecture_kwargs={"backbone": args.backbone} if args.backbone else {},
        command=shlex.join(["python", "train.py", *(sys.argv[1:] if argv is None else argv)]),
    )
    if args.source_size:
        source = SourceTransform(args.source_size, args.source_size, args.source_resample)
        config = replace(config, preprocess=replace(config.preprocess, source_transform=source))
    return config


def main(argv: list[str] | None = None) -> int:
    try:
        config = parse_args(argv)
        result = train(config)
    except BoneAgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if "worker_rank" in result:
        return 0
    if "manifest" not in result:
        print(f"stopped after epoch {result.get('stopped_after')}; continue with --resume")
        return 0
    print(json.dumps(result["metrics"], indent=2))
    print(f"weights, manifest and report written to {config.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
