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
from pathlib import Path

from boneage.chain.source import SourceTransform
from boneage.chain.views import TTA_VIEWS
from boneage.errors import BoneAgeError
from boneage.model.architectures import list_models
from boneage.training.loop import LOSSES, TrainConfig, run_rule_broken, train
from boneage.weights import WEIGHT_DTYPES


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.median_kernel > 1 and args.median_kernel % 2 == 0:
        parser.error(f"--median-kernel must be odd (or 1 for no median filter), not {args.median_kernel}")
    config = config_from_args(args, argv)
    if broken := run_rule_broken(config):  # the library refuses the same configs (train raises)
        parser.error(broken)
    if args.download:
        from boneage.training.download import download_rsna

        config = replace(config, data_dir=download_rsna())
    return config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", type=Path, help="folder in the Kaggle layout")
    data.add_argument("--download", action="store_true", help="fetch the RSNA set from Kaggle (kagglehub)")
    parser.add_argument(
        "--out", type=Path, default=Path("runs/latest"), help="where weights, manifest and report go"
    )
    parser.add_argument("--arch", default="efficientnet-b0-sex", choices=list_models())
    parser.add_argument("--backbone", help="timm backbone name (for --arch timm-sex)")
    parser.add_argument("--pretrained", action="store_true", help="start the backbone from ImageNet weights")
    parser.add_argument(
        "--init-from",
        type=Path,
        help="start from a trained model: a checkpoint.pt (its best epoch) or a .safetensors file",
    )
    parser.add_argument(
        "--ensemble-of",
        type=Path,
        nargs="+",
        metavar="SAFETENSORS",
        help="assemble an ensemble of trained members (each with its manifest.json beside it); "
        "with --epochs 0 it is measured and written like one model. Members share the chain; "
        "one that learnt at another --size reads its output resized to its own",
    )
    parser.add_argument(
        "--weights-dtype",
        default="float32",
        choices=sorted(WEIGHT_DTYPES),
        help="how the weights file stores floats (float16 halves it; measured as stored)",
    )
    parser.add_argument("--size", type=int, default=384, help="model input side in pixels")
    parser.add_argument(
        "--source-size",
        type=int,
        help="the training images are whole radiographs resized to NxN (e.g. 100 for rsna-train-100); "
        "uploads are then formed the same way",
    )
    parser.add_argument(
        "--source-resample", default="nearest", help="how they were resized (default nearest)"
    )
    parser.add_argument("--whole-image", action="store_true", help="do not crop to the hand")
    parser.add_argument("--no-mask", action="store_true", help="keep the background instead of blacking it")
    parser.add_argument(
        "--segmenter",
        default="unet",
        choices=["unet", "classical"],
        help="hand outline: the U-Net the app serves (with pose correction), or thresholds",
    )
    parser.add_argument(
        "--median-kernel",
        type=int,
        default=TrainConfig.median_kernel,
        help="median denoise kernel of the chain (1: off)",
    )
    parser.add_argument(
        "--sharpen",
        type=float,
        default=TrainConfig.sharpen_amount,
        help="unsharp-mask amount of the chain (0: off)",
    )
    parser.add_argument("--loss", default="l1", choices=LOSSES, help="training loss (default l1)")
    parser.add_argument(
        "--smooth-l1-beta",
        type=float,
        default=6.0,
        metavar="MONTHS",
        help="where smooth L1 turns from squared to linear (default 6 months)",
    )
    parser.add_argument(
        "--augment", default="moderate", choices=["moderate", "strong"], help="augmentation strength"
    )
    parser.add_argument("--tta", default="none", choices=list(TTA_VIEWS), help="test-time views")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--split-seed",
        type=int,
        help="seed of the validation split (default: --seed); keep it to compare runs",
    )
    parser.add_argument(
        "--split",
        type=Path,
        metavar="SPLIT_JSON",
        help="keep the split a run recorded (e.g. weights/split.json) instead of drawing one",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, help="use only the first N images (quick runs)")
    parser.add_argument("--cache", type=Path, help="preprocessed-image cache folder (default: OUT/cache)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument(
        "--stop-after", type=int, help="stop (checkpointed) after this epoch; --resume continues"
    )
    parser.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="end the epochs within this many seconds: after epoch 1 the schedule is shortened to fit",
    )
    parser.add_argument(
        "--reframe-eval", action="store_true", help="also evaluate re-framed validation images"
    )
    parser.add_argument("--external-eval", type=Path, help="another Kaggle-layout folder to report MAE on")
    parser.add_argument("--name", help="model name (default: ARCH-SIZE)")
    parser.add_argument("--version", default="0.1.0")
    parser.add_argument("--dataset-name", help="how the manifest describes the training data")
    return parser


def config_from_args(args: argparse.Namespace, argv: list[str] | None) -> TrainConfig:
    source = (
        SourceTransform(args.source_size, args.source_size, args.source_resample)
        if args.source_size
        else None
    )
    return TrainConfig(
        data_dir=args.data,
        out_dir=args.out,
        architecture=args.arch,
        architecture_kwargs={"backbone": args.backbone} if args.backbone else {},
        pretrained=args.pretrained,
        init_from=args.init_from,
        ensemble_of=tuple(args.ensemble_of or ()),
        weights_dtype=args.weights_dtype,
        image_size=args.size,
        source_transform=source,
        crop_to_hand=not args.whole_image,
        mask_background=not args.no_mask,
        segmenter=args.segmenter,
        correct_pose=args.segmenter == "unet",
        median_kernel=args.median_kernel,
        sharpen_amount=args.sharpen,
        augmentation=args.augment,
        loss=args.loss,
        smooth_l1_beta_months=args.smooth_l1_beta,
        tta=args.tta,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        val_fraction=args.val_fraction,
        seed=args.seed,
        split_seed=args.split_seed,
        split_file=args.split,
        workers=args.workers,
        limit=args.limit,
        cache_dir=args.cache,
        device=args.device,
        resume=args.resume,
        stop_after=args.stop_after,
        time_budget_s=args.time_budget,
        reframe_eval=args.reframe_eval,
        external_eval=args.external_eval,
        name=args.name,
        version=args.version,
        dataset_name=args.dataset_name,
        command=shlex.join(["python", "train.py", *(sys.argv[1:] if argv is None else argv)]),
    )


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
