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
from boneage.training.data import cache_key, read_samples
from boneage.training.options import add_options, settings_from
from boneage.training.wrist import WristTrainConfig, build_examples, train_wrist_check
from boneage.weights import DEFAULT_WEIGHTS_DIR, Manifest


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="Kaggle-layout RSNA data set")
    parser.add_argument("--split", type=Path, required=True, help="split.json of the bone-age model")
    parser.add_argument("--cache", type=Path, default=Path("runs/wrist"), help="examples through the chain")
    parser.add_argument(
        "--chain",
        type=Path,
        default=DEFAULT_WEIGHTS_DIR / "manifest.json",
        help="manifest whose chain to use",
    )
    parser.add_argument("--workers", type=int, default=2, help="processes making the examples (default: 2)")
    add_options(parser, WristTrainConfig)
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
    command = shlex.join(["python", "train_wrist_check.py", *(argv if argv is not None else sys.argv[1:])])
    config = settings_from(
        WristTrainConfig,
        args,
        train_examples=examples["train"],
        val_examples=examples["val"],
        command=command,
    )
    return train_wrist_check(config)


if __name__ == "__main__":
    main()
