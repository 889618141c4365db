"""Measure what noisy, compressed and small uploads do to the bone age: ``python -m boneage.cli.quality``.

    python -m boneage.cli.quality --data ../shared/data/rsna-train-299 --ids weights/split.json \\
        --films 200 --out benchmarks/results/quality.json --manifest weights/manifest.json

Validation films are degraded as small uploads are (at the training films' own 299 px): Gaussian
noise, JPEG compression, and a smaller size (a thumbnail, upscaled again by the chain); JPEG also
at 2 and 4 times that size, as the same quality costs a larger upload less. Each is
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
from boneage.training.degrade import jpeg_file, noisy, shrunk

NOISE_LEVELS = (1, 2, 3, 4, 6, 8, 12)  # grey levels
JPEG_QUALITIES = (90, 75, 60, 50, 35, 20)
JPEG_SCALES = (1, 2, 4)  # the upload over the films' own 299 px
SIDES = (250, 200, 150, 125, 100)  # px, the whole film


def _png(film: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(film).save(buffer, "PNG")
    return buffer.getvalue()


def degradations() -> dict[tuple[str, float, int], object]:
    """(kind, level, scale) -> film (uint8) and its index -> the upload's bytes.

    JPEG is measured at the films' own size and at 2 and 4 times it (the film enlarged, then
    compressed): the same blocks are then smaller than the hand's detail, and the chain's squash
    to 299 px averages them, so the file's quality matters less the larger the upload is.
    """

    def noise(sigma):
        return lambda film, index: _png(noisy(film, sigma, index))

    def enlarged(film: np.ndarray, scale: int) -> Image.Image:
        image = Image.fromarray(film)
        return (
            image
            if scale == 1
            else image.resize((film.shape[1] * scale, film.shape[0] * scale), Image.BICUBIC)
        )

    def jpeg(quality, scale):
        return lambda film, index: jpeg_file(np.asarray(enlarged(film, scale)), quality)

    def small(side):
        return lambda film, index: _png(shrunk(film, side))

    cases = {("clean", 0, 1): lambda film, index: _png(film)}
    cases |= {("noise", s, 1): noise(s) for s in NOISE_LEVELS}
    cases |= {("size", side, 1): small(side) for side in SIDES}
    for scale in JPEG_SCALES:
        if scale > 1:  # the clean film at this size: what its compressed copies are compared with
            cases[("clean", 0, scale)] = lambda film, index, scale=scale: _png(
                np.asarray(enlarged(film, scale))
            )
        cases |= {("compression", q, scale): jpeg(q, scale) for q in JPEG_QUALITIES}
    return cases


def measure(predictor, samples, cases) -> list[dict]:
    """One row per (kind, level, scale): measurements, MAE, extra error, shift p90, refused.

    The extra error and the shift are against the clean film at the same scale."""
    clean: dict[tuple[int, str], float] = {}
    rows = []
    for (kind, level, scale), make in cases.items():
        errors, shifts, measured, qualities, refused = [], [], [], [], 0
        for index, sample in enumerate(tqdm(samples, desc=f"{kind} {level} x{scale}", leave=False)):
            film = np.asarray(Image.open(sample.path).convert("L"))
            try:
                radiograph = load_radiograph(make(film, index))
                processed = preprocess(radiograph.pixels, predictor.chain)
            except BoneAgeError:
                refused += 1
                continue
            months = float(predictor.predict_months([processed.image], [sample.male])[0])
            if kind == "clean":
                clean[(scale, sample.id)] = months
            elif (scale, sample.id) in clean:
                shifts.append(abs(months - clean[(scale, sample.id)]))
            errors.append(abs(months - sample.boneage))
            measured.append(processed.quality)
            qualities.append(radiograph.metadata.get("jpeg_quality"))
        rows.append({**_row(kind, level, errors, shifts, measured, refused), "scale": scale,
                     "jpeg_quality": qualities[0] if qualities else None})  # fmt: skip
    base = {row["scale"]: row["mae_months"] for row in rows if row["kind"] == "clean"}
    for row in rows:
        row["extra_error_months"] = round(row["mae_months"] - base[row["scale"]], 2)
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


# The kinds the served model judges by their measurement. JPEG blocks are measured and reported,
# not judged: on clean validation films the blockiness overlaps what quality 60-75 gives
# (history: quality). A JPEG is judged by its file's own quality and its size instead
# (compression_curves).
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
    record = {"curves": result, "measured_on": clean["n"]}
    if any(r["kind"] == "compression" and "scale" in r for r in rows):
        record["compression"] = compression_curves(rows)
    return record


def compression_curves(rows: list[dict]) -> dict:
    """Per scale, from an uncompressed file on: 100 - the file's quality -> extra error, shift.

    Each scale's rows are measured against the clean film at that scale; as for the other
    kinds, the extra error never falls as the quality does.
    """
    clean = next(r for r in rows if r["kind"] == "clean" and r.get("scale", 1) == 1)
    by_scale = {}
    for scale in sorted({r["scale"] for r in rows if r["kind"] == "compression"}):
        points = sorted(
            (r for r in rows if r["kind"] == "compression" and r["scale"] == scale), key=lambda r: -r["level"]
        )
        measured = [0.0] + [100.0 - r["jpeg_quality"] for r in points]
        extra = np.maximum.accumulate([0.0] + [max(0.0, r["extra_error_months"]) for r in points])
        shift = np.maximum.accumulate([0.0] + [r["shift_p90_months"] for r in points])
        by_scale[str(scale)] = [
            {"measured": m, "extra_error_months": round(float(e), 2), "shift_p90_months": round(float(s), 2)}
            for m, e, s in zip(measured, extra, shift, strict=True)
        ]
    return {"reference_hand_px": clean["hand_px"], "by_scale": by_scale}


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
        # Other measurements of the same record (``second_look``: boneage.cli.gate_eval) are kept.
        quality = {**(manifest.quality or {}), **record}
        Manifest.from_dict({**manifest.to_dict(), "quality": quality}).save(args.manifest)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
