"""Real uploads are rarely clean: does each kind of imperfection give the same bone age, or a plain refusal?

Every atlas plate is predicted as it is and after each transformation below, through the
app's path (the file decoded -> the served chain -> the upload's quality judged -> the model,
every network in ONNX Runtime as the app runs them, unless ``--pytorch``). For each kind the
table gives the three outcomes (answered, answered with a caution, refused, with the reasons)
and, for the answers, how far the bone age moved from the clean upload's.

    python -m boneage.cli.robustness --out benchmarks/results/robustness.json
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from boneage.chain.orientation import rotate_expanded
from boneage.errors import BoneAgeError
from boneage.io.decode import load_radiograph
from boneage.training import degrade


def _pad(pixels: np.ndarray, share: float, value: float) -> np.ndarray:
    height, width = pixels.shape
    top, side = int(share * height), int(share * width)
    return cv2.copyMakeBorder(pixels, top, top, side, side, cv2.BORDER_CONSTANT, value=value)


def light_box_photo(pixels: np.ndarray) -> np.ndarray:
    """The film on a glowing light box, photographed at an angle with a phone: bright surround,
    perspective, uneven light, blur and grain."""
    height, width = pixels.shape
    canvas = _pad(pixels, 0.25, 0.92)
    ch, cw = canvas.shape
    src = np.float32([[0, 0], [cw, 0], [cw, ch], [0, ch]])
    dst = np.float32(
        [[0.04 * cw, 0.02 * ch], [0.97 * cw, 0.06 * ch], [0.93 * cw, 0.98 * ch], [0.0, 0.94 * ch]]
    )
    warped = cv2.warpPerspective(canvas, cv2.getPerspectiveTransform(src, dst), (cw, ch), borderValue=0.3)
    light = np.linspace(0.8, 1.05, cw, dtype=np.float32)[None]
    photo = cv2.GaussianBlur(warped * light, (0, 0), 1.2)
    grain = np.random.default_rng(0).normal(0, 0.015, photo.shape).astype(np.float32)
    return np.clip(photo + grain, 0, 1).astype(np.float32)


def _film(pixels: np.ndarray) -> np.ndarray:
    return np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)


def with_noise(sigma: float) -> Callable[[np.ndarray], bytes]:
    """Gaussian noise of ``sigma`` grey levels, as ``cli.quality`` adds it (a PNG file)."""
    return lambda pixels: _png(degrade.noisy(_film(pixels), sigma, seed=0))


def jpeg(quality: int) -> Callable[[np.ndarray], bytes]:
    """The plate saved as a JPEG file of ``quality`` (the app reads the quality from the file)."""
    return lambda pixels: degrade.jpeg_file(_film(pixels), quality)


def _png(film: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(film).save(buffer, "PNG")
    return buffer.getvalue()


def shrunk(longer_side: int) -> Callable[[np.ndarray], np.ndarray]:
    """A thumbnail: the plate shrunk so its longer side is ``longer_side`` pixels."""

    def shrink(pixels: np.ndarray) -> np.ndarray:
        scale = longer_side / max(pixels.shape)
        size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
        return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)

    return shrink


def collimated(degrees: float) -> Callable[[np.ndarray], np.ndarray]:
    """The plate as a bright exposed field turned by ``degrees`` on a dark, flat surround, as a
    collimated film scanned askew."""

    def place(pixels: np.ndarray) -> np.ndarray:
        field = _pad((0.25 + 0.75 * pixels).astype(np.float32), 0.04, 0.3)
        canvas = np.full((field.shape[0] + 120, field.shape[1] + 120), 0.03, np.float32)
        canvas[60:-60, 60:-60] = field
        turn = cv2.getRotationMatrix2D((canvas.shape[1] / 2, canvas.shape[0] / 2), degrees, 1.0)
        size = (canvas.shape[1], canvas.shape[0])
        return cv2.warpAffine(canvas, turn, size, flags=cv2.INTER_LINEAR, borderValue=0.03)

    return place


def cropped_closer(pixels: np.ndarray) -> np.ndarray:
    """Cropped closer around the middle: a 24th of each side gone. The atlas plates are cropped
    close already: a 12th cut into the fingertips and the wrist of 17 of 54."""
    height, width = pixels.shape
    return np.ascontiguousarray(pixels[height // 24 : -height // 24, width // 24 : -width // 24])


def both_hands(pixels: np.ndarray) -> np.ndarray:
    """Both hands on one film: a mirrored copy (the right hand) to the left, a gap of background."""
    gap = np.full((pixels.shape[0], pixels.shape[1] // 8), float(np.median(pixels[:, :3])), np.float32)
    return np.ascontiguousarray(np.hstack([pixels[:, ::-1], gap, pixels]))


TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray | bytes]] = {
    "right hand (mirrored)": lambda p: np.ascontiguousarray(p[:, ::-1]),
    "tilted 15°": lambda p: rotate_expanded(p, 15),
    "turned 45°": lambda p: rotate_expanded(p, 45),
    "turned 90° clockwise": lambda p: np.ascontiguousarray(np.rot90(p, -1)),
    "turned 90° anticlockwise": lambda p: np.ascontiguousarray(np.rot90(p, 1)),
    "upside down": lambda p: np.ascontiguousarray(p[::-1, ::-1]),
    "inverted (MONOCHROME1-like)": lambda p: (1.0 - p).astype(np.float32),
    "wide dark border": lambda p: _pad(p, 0.4, float(np.percentile(p, 5))),
    "wide white border": lambda p: _pad(p, 0.3, 1.0),
    "under-exposed": lambda p: (p**2.2 * 0.5).astype(np.float32),
    "over-exposed": lambda p: np.clip(p * 1.6 + 0.25, 0, 1).astype(np.float32),
    "hopelessly over-exposed": lambda p: np.clip(p * 0.05 + 0.95, 0, 1).astype(np.float32),
    "photo of a light box": light_box_photo,
    "both hands on one film": both_hands,
    # The wrist check's cases (boneage.chain.wrist; docs/segmentation.md).
    "cut above the wrist (bottom quarter gone)": lambda p: np.ascontiguousarray(p[: int(0.75 * p.shape[0])]),
    "only the fingers (top half)": lambda p: np.ascontiguousarray(p[: p.shape[0] // 2]),
    # Degraded uploads, judged by the measured curves (boneage.meaning.quality).
    "cropped closer": cropped_closer,
    "noise σ 2 grey levels": with_noise(2),
    "noise σ 4 grey levels": with_noise(4),
    "noise σ 12 grey levels": with_noise(12),
    "JPEG quality 75": jpeg(75),
    "JPEG quality 50": jpeg(50),
    "JPEG quality 20": jpeg(20),
    "shrunk to 200 px": shrunk(200),
    "shrunk to 150 px": shrunk(150),
    "shrunk to 100 px": shrunk(100),
    # The second look inside a collimated field (boneage.chain.preprocess).
    "in a collimated field": collimated(0),
    "in a collimated field turned 25°": collimated(25),
}


def outcome(predictor, upload: np.ndarray | bytes, male: bool) -> tuple[str, float | None, str | None]:
    """("answer" | "caution" | "refuse", the bone age or None, the reason for a caution or a
    refusal) for one upload through the app's path."""
    try:
        if isinstance(upload, bytes):
            radiograph = load_radiograph(upload)
            pixels, jpeg_quality = radiograph.pixels, radiograph.metadata.get("jpeg_quality")
        else:
            pixels, jpeg_quality = upload, None
        months, verdict = predictor.estimate(pixels, male, jpeg_quality)
    except BoneAgeError as exc:
        return "refuse", None, str(exc)
    return verdict.outcome, months, None if verdict.outcome == "answer" else verdict.kind


def measure(predictor, images: list[tuple[str, np.ndarray, bool]]) -> tuple[dict, list[dict]]:
    """Per transformation: the three outcomes (with the reasons), and how far the answers (with
    or without a caution) moved from the clean upload's bone age.

    A plate the chain refuses as it is has no clean bone age to move from: it is left out of every
    row and returned in the second list, with the reason.
    """
    clean, clean_refused = {}, []
    for name, pixels, male in images:
        try:
            clean[name] = predictor.predict_pixels(pixels, male)
        except BoneAgeError as exc:
            clean_refused.append({"id": name, "reason": str(exc)})
    images = [image for image in images if image[0] in clean]
    rows = {}
    for kind, transform in TRANSFORMS.items():
        shifts, refused, cautions = [], [], {}
        for name, pixels, male in tqdm(images, desc=kind, leave=False):
            result, months, reason = outcome(predictor, transform(pixels), male)
            if result == "refuse":
                refused.append({"id": name, "reason": reason})
                continue
            if result == "caution":
                cautions[reason] = cautions.get(reason, 0) + 1
            shifts.append(months - clean[name])
        rows[kind] = _row(len(images), np.array(shifts), refused, cautions)
    return rows, clean_refused


def _row(n: int, shifts: np.ndarray, refused: list[dict], cautions: dict[str, int]) -> dict:
    return {
        "n": n,
        "answered": n - len(refused) - sum(cautions.values()),
        "cautioned": sum(cautions.values()),
        "cautions": cautions,  # how many of each kind of caution
        "refused": len(refused),
        "refusals": refused,
        "mean_abs_shift_months": round(float(np.abs(shifts).mean()), 2) if shifts.size else None,
        "p90_abs_shift_months": round(float(np.percentile(np.abs(shifts), 90)), 2) if shifts.size else None,
        "mean_shift_months": round(float(shifts.mean()), 2) if shifts.size else None,
    }


def format_table(rows: dict) -> str:
    lines = [
        "| upload | answered | with a caution | refused | bone age moved (mean abs) | 90th percentile | mean (signed) |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, row in rows.items():
        moved = "—" if row["mean_abs_shift_months"] is None else f"{row['mean_abs_shift_months']:.1f} months"
        p90 = "—" if row["p90_abs_shift_months"] is None else f"{row['p90_abs_shift_months']:.1f}"
        mean = "—" if row["mean_shift_months"] is None else f"{row['mean_shift_months']:+.1f}"
        cautioned = f"{row['cautioned']}" + (f" ({', '.join(row['cautions'])})" if row["cautions"] else "")
        lines.append(
            f"| {kind} | {row['answered']} | {cautioned} | {row['refused']} / {row['n']} | {moved} | {p90} | {mean} |"
        )
    return "\n".join(lines)


def atlas_images(folder: Path) -> list[tuple[str, np.ndarray, bool]]:
    import csv

    with open(folder / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        (row["id"], load_radiograph(folder / "images" / f"{row['id']}.png").pixels, row["male"] == "True")
        for row in rows
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--atlas", type=Path, default=Path("../shared/data/atlas-pedrad"))
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--pytorch", action="store_true", help="run the networks in PyTorch, not ONNX Runtime as the app does"
    )
    args = parser.parse_args(argv)
    from boneage.predictor import Predictor

    predictor = Predictor.load(args.weights)
    if not args.pytorch:
        predictor.use_onnx_runtime()
    rows, clean_refused = measure(predictor, atlas_images(args.atlas))
    print(format_table(rows))
    for refusal in clean_refused:
        print(f"left out, refused as it is: {refusal['id']}: {refusal['reason']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "model": predictor.info.name,
            "version": predictor.info.version,
            "runtime": predictor.runtime,
            "clean_refused": clean_refused,
            "transformations": rows,
        }
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
