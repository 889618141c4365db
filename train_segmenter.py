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

from boneage.training.options import add_options, settings_from
from boneage.training.segmenter import SegmentTrainConfig, train_segmenter


def parse_args(argv: list[str] | None = None) -> SegmentTrainConfig:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_options(parser, SegmentTrainConfig)
    args = parser.parse_args(argv)
    if not (args.hands_dir / "images").is_dir():
        parser.error(f"{args.hands_dir}/images does not exist")
    command = shlex.join(["python", "train_segmenter.py", *(argv if argv is not None else sys.argv[1:])])
    return settings_from(SegmentTrainConfig, args, command=command)


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
