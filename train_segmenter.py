"""Train the hand U-Net on rsna-train-hires hands composited onto realistic synthetic plates.

The shipped segmenter (see weights/segmenter/manifest.json for the exact command):

    python train_segmenter.py --hands ../shared/data/rsna-train-hires --out weights/segmenter

Checkpointed every 100 steps; run the same command with --resume to continue.
All logic lives in boneage.training.segmenter; this file only parses arguments.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from boneage.training.segmenter import SegmentTrainConfig, train_segmenter


def parse_args(argv: list[str] | None = None) -> SegmentTrainConfig:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hands", type=Path, required=True, help="folder with images/<id>.png, background 0")
    parser.add_argument("--out", type=Path, default=Path("runs/segmenter"))
    parser.add_argument("--size", type=int, default=128, help="network input side in pixels")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--holdout", type=int, default=8, help="hands kept out of training for the report")
    parser.add_argument("--eval-plates", type=int, default=120)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=1, help="processes generating plates")
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--stop-after", type=int, help="stop (checkpointed) after this many steps")
    parser.add_argument("--name", default=None)
    parser.add_argument("--version", default="1.0.0")
    args = parser.parse_args(argv)
    if not (args.hands / "images").is_dir():
        parser.error(f"{args.hands}/images does not exist")
    return SegmentTrainConfig(
        hands_dir=args.hands,
        out_dir=args.out,
        image_size=args.size,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        holdout=args.holdout,
        eval_plates=args.eval_plates,
        seed=args.seed,
        workers=args.workers,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        stop_after=args.stop_after,
        name=args.name or f"hand-unet-{args.size}",
        version=args.version,
        command=shlex.join(["python", "train_segmenter.py", *(argv if argv is not None else sys.argv[1:])]),
    )


def main(argv: list[str] | None = None) -> int:
    result = train_segmenter(parse_args(argv))
    if "stopped_after" in result:
        print(f"Stopped after step {result['stopped_after']}; continue with --resume.")
        return 0
    for key, value in result["evaluation"]["summary"].items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
