"""Train the wrist check on RSNA films and copies of them cut above and below the wrist.

The shipped check (see weights/wrist-check/manifest.json for the exact command):

    python train_wrist_check.py --data ../shared/data/rsna-train-299 --split weights/split.json \\
        --out weights/wrist-check

The bone-age model's split keeps its validation films out of this training too; the threshold
is chosen on them. Examples go through the served chain once and are cached under --cache.
All logic lives in boneage.training.wrist; this file only parses arguments.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from boneage.chain.preprocess import PreprocessConfig
from boneage.training.data import AUGMENTATIONS, cache_key, read_samples
from boneage.training.wrist import WristTrainConfig, build_examples, train_wrist_check
from boneage.weights import DEFAULT_WEIGHTS_DIR, Manifest


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="Kaggle-layout RSNA data set")
    parser.add_argument("--split", type=Path, required=True, help="split.json of the bone-age model")
    parser.add_argument("--out", type=Path, default=Path("runs/wrist-check"))
    parser.add_argument("--cache", type=Path, default=Path("runs/wrist"), help="examples through the chain")
    parser.add_argument(
        "--chain",
        type=Path,
        default=DEFAULT_WEIGHTS_DIR / "manifest.json",
        help="manifest whose chain to use",
    )
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--augment",
        default="moderate",
        choices=sorted(AUGMENTATIONS),
        help="augmentation (default moderate, ±10°; tilted, ±45°, was measured worse: docs/segmentation.md)",
    )
    parser.add_argument("--limit", type=int, help="films per part and examples per epoch (smoke runs)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--resume", action="store_true", help="go on from --out's checkpoint")
    parser.add_argument("--stop-after", type=int, help="stop (checkpointed) after this many epochs")
    parser.add_argument("--version", default="1.0.0", help="the check's version in its manifest")
    parser.add_argument("--no-pretrained", action="store_true", help="start from random weights")
    args = parser.parse_args(argv)

    chain = PreprocessConfig.from_dict(Manifest.load(args.chain).preprocess)
    samples = read_samples(args.data)
    split = json.loads(args.split.read_text())
    examples = {}
    for part in ("train", "val"):
        ids = {str(i) for i in split[part]}
        chosen = [s for s in samples if s.id in ids][: args.limit]
        cached = args.cache / f"{part}-{cache_key(chosen, chain)}.npz"
        examples[part] = build_examples(chosen, chain, cached, args.workers)
    config = WristTrainConfig(
        train_examples=examples["train"],
        val_examples=examples["val"],
        out_dir=args.out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        augmentation=args.augment,
        version=args.version,
        pretrained=not args.no_pretrained,
        limit=args.limit,
        resume=args.resume,
        stop_after=args.stop_after,
        command=shlex.join(["python", "train_wrist_check.py", *(argv if argv is not None else sys.argv[1:])]),
    )
    return train_wrist_check(config)


if __name__ == "__main__":
    main()
