"""Contact sheets: every image of a folder with the outline the chain drew, to check by eye.

Green: the hand outline the served chain used (and its crop in blue); red, when asked for:
the classical segmenter's outline on the same image, for comparison. A refused image shows its
reason instead.

    python -m boneage.cli.sheets ../shared/data/atlas-pedrad/images --out docs/atlas-outlines.png --compare
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from boneage.chain.preprocess import Chain, PreprocessConfig, preprocess
from boneage.errors import BoneAgeError
from boneage.io.decode import load_radiograph
from boneage.report.card import outline_image

TILE = 220
LINE = 3  # outline width in display pixels (before the tile is shrunk)
COMPARE_COLOUR = (231, 76, 60)


def tile_for(path: Path, chain: Chain, compare: Chain | None) -> np.ndarray:
    """One captioned tile: the upload with its outline(s), or the refusal reason."""
    pixels = load_radiograph(path).pixels
    caption = path.stem
    try:
        processed = preprocess(pixels, chain)
        image = outline_image(pixels, processed, thickness=LINE)
        if processed.orientation.changed:
            caption += " (turned)" if processed.orientation.rotated_degrees else " (mirrored)"
        if compare is not None and processed.upright is None:
            _draw_compare(image, pixels, compare)
    except BoneAgeError as exc:
        image = cv2.cvtColor(np.round(pixels * 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)
        caption += " REFUSED"
        print(f"{path.stem}: refused: {exc}")
    scale = TILE / max(image.shape[:2])
    image = cv2.resize(
        image, (round(image.shape[1] * scale), round(image.shape[0] * scale)), interpolation=cv2.INTER_AREA
    )
    tile = np.full((TILE + 18, TILE, 3), 255, np.uint8)
    top, left = 18 + (TILE - image.shape[0]) // 2, (TILE - image.shape[1]) // 2
    tile[top : top + image.shape[0], left : left + image.shape[1]] = image
    cv2.putText(tile, caption, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def _draw_compare(image: np.ndarray, pixels: np.ndarray, compare: Chain) -> None:
    try:
        other = preprocess(pixels, compare)
    except BoneAgeError:
        return
    mask = cv2.resize(
        other.source_mask.astype(np.uint8), (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST
    )
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(image, contours, -1, COMPARE_COLOUR, LINE)


def contact_sheet(paths: list[Path], chain: Chain, compare: Chain | None, columns: int = 9) -> np.ndarray:
    tiles = [tile_for(path, chain, compare) for path in paths]
    tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % columns)
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--weights", type=Path, default=None, help="model folder whose chain settings to use")
    parser.add_argument("--compare", action="store_true", help="also draw the classical outline in red")
    args = parser.parse_args(argv)
    from boneage.weights import DEFAULT_WEIGHTS_DIR, Manifest

    manifest = Manifest.load((args.weights or DEFAULT_WEIGHTS_DIR) / "manifest.json")
    config = PreprocessConfig.from_dict(manifest.preprocess)
    compare = Chain(replace(config, segmenter="classical", correct_pose=False)) if args.compare else None
    sheet = contact_sheet(sorted(args.folder.glob("*.png")), Chain.load(config), compare)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Three quarters of the size, 128 colours: about 0.5 MB, the outlines still readable.
    image = Image.fromarray(sheet)
    image = image.resize((image.width * 3 // 4, image.height * 3 // 4), Image.LANCZOS)
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
