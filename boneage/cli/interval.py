"""Calibrate the bone age's interval from validation predictions: ``python -m boneage.cli.interval``."""

from __future__ import annotations

import numpy as np

from boneage.meaning.interval import category_shares, choose


def main(argv: list[str] | None = None) -> int:
    """Calibrate from ``python -m boneage.cli.evaluate`` output (the validation split) into a manifest."""
    import argparse
    import json
    from pathlib import Path

    from boneage.weights import Manifest

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument(
        "--evaluation",
        type=Path,
        required=True,
        help="JSON from python -m boneage.cli.evaluate --ids split.json",
    )
    parser.add_argument("--manifest", type=Path, help="write the chosen calibration into this manifest.json")
    parser.add_argument("--level", type=float, default=0.9)
    parser.add_argument("--out", type=Path, help="write both options and their coverage here")
    args = parser.parse_args(argv)
    rows = json.loads(args.evaluation.read_text())["predictions"]
    predicted = np.array([r["predicted"] for r in rows])
    target = np.array([r["target"] for r in rows])
    result = choose(predicted, target, args.level)
    for name, option in result["options"].items():
        coverage = option["coverage"]
        print(
            f"{name}: half-widths {option['half_widths_months']} months; coverage on the check half "
            f"{coverage['coverage']:.3f} (n={coverage['n']}), mean width {coverage['mean_width_months']} months; "
            f"per band {[b['coverage'] for b in coverage['per_band'].values()]}"
        )
    print(f"global interval per band: {[b['coverage'] for b in result['global_per_band_coverage'].values()]}")
    print(f"chosen: {result['chosen']}")
    male = np.array([bool(r["male"]) for r in rows])
    shares = category_shares(predicted, target, male, result["calibration"])
    result["category_shares_age_equal_to_bone_age"] = shares
    print(f"categories when each child's age equals their true bone age: {shares}")
    if args.out:
        args.out.write_text(
            json.dumps({k: v for k, v in result.items() if k != "calibration"}, indent=1) + "\n"
        )
    if args.manifest:
        manifest = Manifest.load(args.manifest)
        updated = Manifest.from_dict({**manifest.to_dict(), "interval": result["calibration"].to_dict()})
        updated.save(args.manifest)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
