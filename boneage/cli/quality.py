"""Measure what noisy, compressed and small uploads do to the bone age: ``python -m boneage.cli.quality``.

    python -m boneage.cli.quality --data ../shared/data/rsna-train-299 --ids weights/split.json \\
        --films 200 --out benchmarks/results/quality.json --manifest weights/manifest.json

Validation films are degraded as small uploads are (at the training films' own 299 px): Gaussian
noise, JPEG compression, and a smaller size (a thumbnail, upscaled again by the chain). Each is
sent through the served model as an upload would be (PNG or JPEG bytes, decoded, the chain,
the networks in ONNX Runtime) next to the clean film. Per kind and level the JSON records the
median of what the chain measured (:mod:`boneage.chain.quality`), the MAE, how much more that is
than clean, the 90th percentile of how far each answer moved, and how many were refused. With
``--manifest`` the curves are written into it (``quality``): the served model then answers,
cautions or refuses by them (:mod:`boneage.meaning.quality`).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from boneage.chain.preprocess import preprocess
from boneage.errors import BoneAgeError
from boneage.io.decode import load_radiograph
from boneage.meaning.quality import MEASURES
from boneage.training.data import read_samples

NOISE_LEVELS = (1, 2, 3, 4, 6, 8, 12)  # grey levels
JPEG_QUALITIES = (90, 75, 60, 50, 35, 20)
SIDES = (250, 200, 150, 125, 100)  # px, the whole film


def _png(film: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(film).save(buffer, "PNG")
    return buffer.getvalue()


def degradations() -> dict[tuple[str, float], object]:
    """(kind, level) -> film (uint8) and its index -> the upload's bytes."""

    def noise(sigma):
        def make(film, index):
            grain = np.random.default_rng(index).normal(0, sigma, film.shape)
            return _png(np.clip(film + grain, 0, 255).astype(np.uint8))

        return make

    def jpeg(quality):
        def make(film, index):
            buffer = io.BytesIO()
            Image.fromarray(film).save(buffer, "JPEG", quality=quality)
            return buffer.getvalue()

        return make

    def small(side):
        return lambda film, index: _png(
            np.asarray(Image.fromarray(film).resize((side, side), Image.BILINEAR))
        )

    cases = {("clean", 0): lambda film, index: _png(film)}
    cases |= {("noise", s): noise(s) for s in NOISE_LEVELS}
    cases |= {("compression", q): jpeg(q) for q in JPEG_QUALITIES}
    cases |= {("size", side): small(side) for side in SIDES}
    return cases


def measure(predictor, samples, cases) -> list[dict]:
    """One row per (kind, level): measurements, MAE, extra error, shift p90, refused."""
    clean: dict[str, float] = {}
    rows = []
    for (kind, level), make in cases.items():
        errors, shifts, measured, refused = [], [], [], 0
        for index, sample in enumerate(tqdm(samples, desc=f"{kind} {level}", leave=False)):
            film = np.asarray(Image.open(sample.path).convert("L"))
            try:
                processed = preprocess(load_radiograph(make(film, index)).pixels, predictor.chain)
            except BoneAgeError:
                refused += 1
                continue
            months = float(predictor.predict_months([processed.image], [sample.male])[0])
            if kind == "clean":
                clean[sample.id] = months
            elif sample.id in clean:
                shifts.append(abs(months - clean[sample.id]))
            errors.append(abs(months - sample.boneage))
            measured.append(processed.quality)
        rows.append(_row(kind, level, errors, shifts, measured, refused))
    base = rows[0]["mae_months"]
    for row in rows:
        row["extra_error_months"] = round(row["mae_months"] - base, 2)
    return rows


def _row(kind, level, errors, shifts, measured, refused) -> dict:
    values = {name: float(np.median([getattr(q, name) for q in measured])) for name in MEASURES.values()}
    return {
        "kind": kind,
        "level": level,
        "n": len(errors),
        "refused": refused,
        "mae_months": round(float(np.mean(errors)), 2),
        "shift_p90_months": round(float(np.percentile(shifts, 90)), 2) if shifts else 0.0,
        **{name: round(value, 3) for name, value in values.items()},
    }


def clean_floors(folders: list[Path], chain) -> dict[str, float]:
    """The most noise and blocks the chain measures on clean real films of other sources.

    The atlas plates, scanned from print, measure some noise that costs them nothing; an upload
    measured within what clean films show cannot be told from one and is answered as it is.
    """
    measured = []
    for folder in folders:
        for path in sorted(p for p in folder.glob("*") if p.suffix.lower() in (".png", ".jpg")):
            try:
                measured.append(preprocess(load_radiograph(path).pixels, chain).quality)
            except BoneAgeError:
                continue
    if not measured:
        return {}
    return {kind: max(getattr(q, MEASURES[kind]) for q in measured) for kind in ("noise", "compression")}


# The kinds the served model judges by. JPEG blocks are measured and reported, not judged: on
# clean validation films the blockiness overlaps what quality 60-75 gives (history: quality).
JUDGED = ("noise", "size")


def curves(rows: list[dict], floors: dict[str, float] | None = None, kinds: tuple[str, ...] = JUDGED) -> dict:
    """Per kind, from clean on: measured value (size negated) -> extra error, shift.

    A curve starts at the clean films' measurement, or at ``floors`` (what clean films of other
    sources measure) when that is higher; levels measured below it are left out. The extra error
    never falls as an upload gets worse, so a noisier film is never judged kinder.
    """
    clean, floors = rows[0], floors or {}
    result = {}
    for kind in kinds:
        measure_name = MEASURES[kind]
        sign = -1.0 if kind == "size" else 1.0
        start = {**clean, measure_name: max(clean[measure_name], floors.get(kind, -np.inf))}
        points = [start] + [
            r for r in rows if r["kind"] == kind and sign * r[measure_name] > sign * start[measure_name]
        ]
        points = sorted(points, key=lambda r: sign * r[measure_name])
        extra = np.maximum.accumulate([max(0.0, r["extra_error_months"]) for r in points])
        shift = np.maximum.accumulate([r["shift_p90_months"] for r in points])
        result[kind] = [
            {
                "measured": sign * r[measure_name],
                "extra_error_months": round(float(e), 2),
                "shift_p90_months": round(float(s), 2),
            }
            for r, e, s in zip(points, extra, shift, strict=True)
        ]
    return {"curves": result, "measured_on": clean["n"]}


def main(argv: list[str] | None = None) -> int:
    from boneage.predictor import Predictor
    from boneage.weights import Manifest

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="folder in the Kaggle layout (299 px films)")
    parser.add_argument("--ids", type=Path, required=True, help="split.json: its validation films are used")
    parser.add_argument("--films", type=int, default=200)
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N validation films")
    parser.add_argument("--weights", type=Path, help="folder with manifest.json (default: the shipped model)")
    parser.add_argument("--manifest", type=Path, help="write the curves into this manifest.json")
    parser.add_argument(
        "--clean-reference", type=Path, nargs="*", default=[], help="folders of clean films of other sources"
    )
    parser.add_argument("--rows", type=Path, help="reuse the rows of an earlier --out instead of measuring")
    parser.add_argument("--out", type=Path, default=Path("quality.json"))
    args = parser.parse_args(argv)
    predictor = Predictor.load(explicit=args.weights)
    if args.rows:
        rows = json.loads(args.rows.read_text())["rows"]
    else:
        predictor.use_onnx_runtime()
        wanted = {str(i) for i in json.loads(args.ids.read_text())["val"]}
        samples = [s for s in read_samples(args.data) if s.id in wanted][args.skip : args.skip + args.films]
        rows = measure(predictor, samples, degradations())
    floors = clean_floors(args.clean_reference, predictor.chain)
    record = {**curves(rows, floors), "clean_floors": floors}
    for row in rows:
        print(row)
    args.out.write_text(
        json.dumps({"model": predictor.manifest.name, "rows": rows, **record}, indent=1) + "\n"
    )
    if args.manifest:
        manifest = Manifest.load(args.manifest)
        Manifest.from_dict({**manifest.to_dict(), "quality": record}).save(args.manifest)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
