"""Measuring the image gate: false refusals of real hand X-rays, false acceptances of everything else.

Both errors go through the app's own path: encoded file -> :func:`load_radiograph` ->
:func:`preprocess` with the shipped model's settings. An image is *accepted* when no
:class:`BoneAgeError` is raised, so the colour check, the emptiness checks and the hand gate all
count. The non-hand set is assembled here, deterministically:

- scikit-image's bundled sample images (photos, micrographs, text, a CT phantom), each as it
  is, in grey, inverted and turned 90 degrees;
- rendered documents and app screenshots (Pillow text, tables, buttons);
- generated images (noise, gradients, checkerboards, shapes);
- X-ray-like images of other body parts: the kinds the segmenter saw as negatives in training
  (chest-like films, bars) are reported apart from the rest, so nobody mistakes them for unseen.

    python -m boneage.cli.gate_eval --out benchmarks/results/gate.json
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from boneage.chain.preprocess import Chain, PreprocessConfig, preprocess
from boneage.errors import BoneAgeError
from boneage.io.decode import load_radiograph
from boneage.training.composite import render_negative

SKIMAGE_SAMPLES = (
    "astronaut", "brick", "camera", "cat", "cell", "checkerboard", "chelsea", "clock", "coffee",
    "coins", "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry",
    "logo", "microaneurysms", "moon", "page", "retina", "rocket", "shepp_logan_phantom", "text",
)  # fmt: skip


@dataclass(frozen=True)
class Case:
    category: str
    name: str
    data: bytes  # an encoded file, as uploaded


def encode(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt)
    return buffer.getvalue()


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == bool:
        return image.astype(np.uint8) * 255
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 1) * 255 if image.max() <= 1.0 else image
        return np.round(image).astype(np.uint8)
    return image


def skimage_cases() -> Iterator[Case]:
    """Each bundled sample as it is, grey, inverted grey and turned 90 degrees."""
    try:
        from skimage import data
    except ImportError:
        return
    for name in SKIMAGE_SAMPLES:
        image = _to_uint8(getattr(data, name)())
        if image.ndim == 3 and image.shape[2] == 4:
            image = image[..., :3]
        yield Case("photos and micrographs (scikit-image)", f"{name}", encode(image))
        grey = (
            image if image.ndim == 2 else np.round(image @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
        )
        yield Case("photos and micrographs (scikit-image)", f"{name}-grey", encode(grey))
        yield Case("photos and micrographs (scikit-image)", f"{name}-inverted", encode(255 - grey))
        yield Case(
            "photos and micrographs (scikit-image)", f"{name}-turned", encode(np.rot90(grey).copy(), "JPEG")
        )


def document_cases(count: int, seed: int) -> Iterator[Case]:
    """Pages of text, forms and tables, as a scanner or a phone would give them."""
    rng = np.random.default_rng([seed, 1])
    words = [
        "patient",
        "report",
        "radiology",
        "hand",
        "wrist",
        "age",
        "months",
        "date",
        "signature",
        "result",
        "normal",
        "left",
    ]
    for index in range(count):
        width, height = int(rng.integers(500, 1000)), int(rng.integers(600, 1300))
        page = Image.new("L", (width, height), int(rng.integers(200, 256)))
        draw = ImageDraw.Draw(page)
        y = int(rng.integers(20, 60))
        while y < height - 30:
            if rng.random() < 0.15:  # a table row
                for x in range(40, width - 40, int(rng.integers(80, 160))):
                    draw.rectangle([x, y, x + 70, y + 24], outline=0)
                y += 30
                continue
            line = " ".join(rng.choice(words, int(rng.integers(3, 12))))
            draw.text((40, y), line, fill=int(rng.integers(0, 80)), font_size=int(rng.integers(12, 30)))
            y += int(rng.integers(18, 40))
        array = np.asarray(page)
        if rng.random() < 0.5:  # photographed: uneven light and a tilt
            array = np.clip(array * np.linspace(0.6, 1.0, width)[None], 0, 255).astype(np.uint8)
            array = np.asarray(Image.fromarray(array).rotate(float(rng.uniform(-8, 8)), fillcolor=40))
        yield Case("documents", f"page-{index}", encode(array, "JPEG" if index % 2 else "PNG"))


def screenshot_cases(count: int, seed: int) -> Iterator[Case]:
    """App and web-page screenshots in colour and grey: bars, buttons, text, image boxes."""
    rng = np.random.default_rng([seed, 2])
    for index in range(count):
        width, height = int(rng.integers(390, 1400)), int(rng.integers(600, 1000))
        colour = index % 2 == 0
        shot = Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(220, 256, 3)))
        draw = ImageDraw.Draw(shot)
        draw.rectangle([0, 0, width, 60], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        for _ in range(int(rng.integers(3, 9))):
            x, y = int(rng.integers(0, width - 120)), int(rng.integers(70, height - 50))
            fill = tuple(int(v) for v in rng.integers(0, 256, 3))
            draw.rounded_rectangle(
                [x, y, x + int(rng.integers(60, 300)), y + int(rng.integers(30, 120))], 8, fill=fill
            )
            draw.text(
                (x + 8, y + 8),
                "Submit" if rng.random() < 0.5 else "Upload image",
                fill=(0, 0, 0),
                font_size=18,
            )
        array = np.asarray(shot)
        if not colour:
            array = np.round(array @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
        yield Case("screenshots", f"screen-{index}", encode(array))


def generated_cases(count: int, seed: int) -> Iterator[Case]:
    """Noise, gradients, checkerboards and random shapes (none from the segmenter's training)."""
    rng = np.random.default_rng([seed, 3])
    for index in range(count):
        height, width = int(rng.integers(300, 900)), int(rng.integers(300, 900))
        kind = index % 4
        if kind == 0:
            image = rng.random((height, width))
        elif kind == 1:
            image = np.linspace(0, 1, width)[None].repeat(height, 0) ** rng.uniform(0.5, 2)
        elif kind == 2:
            tile = int(rng.integers(8, 80))
            image = ((np.arange(height)[:, None] // tile + np.arange(width)[None] // tile) % 2).astype(float)
        else:
            canvas = Image.new("L", (width, height), int(rng.integers(0, 80)))
            draw = ImageDraw.Draw(canvas)
            for _ in range(int(rng.integers(2, 10))):
                box = sorted(rng.integers(0, width, 2).tolist()), sorted(rng.integers(0, height, 2).tolist())
                shape = [box[0][0], box[1][0], box[0][1], box[1][1]]
                (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(
                    shape, fill=int(rng.integers(100, 256))
                )
            image = np.asarray(canvas) / 255.0
        yield Case("generated", f"generated-{index}", encode(_to_uint8(image)))


def trained_negative_cases(count: int, seed: int) -> Iterator[Case]:
    """The kinds of negatives the segmenter saw in training (new draws): reported apart."""
    rng = np.random.default_rng([seed, 4])
    for index in range(count):
        yield Case(
            "X-ray-like, kinds seen in training",
            f"negative-{index}",
            encode(_to_uint8(render_negative(rng, 512))),
        )


# pydicom's own test images that decode (CT, MR, ultrasound, a screenshot): what a clinician
# might upload from the wrong study. Read as uploaded, as DICOM.
PYDICOM_SAMPLES = (
    "693_J2KI.dcm", "CT_small.dcm", "J2K_pixelrep_mismatch.dcm", "JPEG2000.dcm", "MR_small.dcm",
    "examples_overlay.dcm", "examples_ybr_color.dcm", "image_dfl.dcm", "liver_1frame.dcm",
)  # fmt: skip
# Grey scenes for crops: astronomy, microscopy, fundus photography, terrain, a portrait.
TEXTURE_SOURCES = (
    "moon", "hubble_deep_field", "retina", "cell", "immunohistochemistry", "microaneurysms",
    "coins", "camera",
)  # fmt: skip


def medical_cases() -> Iterator[Case]:
    """Other medical images (CT, MR, ultrasound) from pydicom's and matplotlib's sample data,
    each as it is and turned 90 degrees (a PNG of the pixels, as a viewer would export it)."""
    try:
        from pydicom.data import get_testdata_file
    except ImportError:
        return
    for name in PYDICOM_SAMPLES:
        path = get_testdata_file(name)
        if path is None:
            continue
        data = Path(path).read_bytes()
        yield Case("other medical images", name, data)
        yield Case("other medical images", f"{name}-turned", encode(np.rot90(_viewer_png(data)).copy()))
    for name, pixels in _matplotlib_medical():
        yield Case("other medical images", name, encode(pixels))
        yield Case("other medical images", f"{name}-inverted", encode(255 - pixels))


def _viewer_png(data: bytes) -> np.ndarray:
    """A DICOM's pixels as 8-bit grey, as a viewer's export would give them."""
    return _to_uint8(load_radiograph(data).pixels)


def _matplotlib_medical() -> Iterator[tuple[str, np.ndarray]]:
    """matplotlib's sample MR slice (s1045.ima: 256 x 256, 16-bit big-endian)."""
    import gzip

    try:
        from matplotlib import cbook
    except ImportError:
        return
    with gzip.open(cbook.get_sample_data("s1045.ima.gz", asfileobj=False)) as file:
        slice_ = np.frombuffer(file.read(), ">u2").reshape(256, 256).astype(np.float32)
    yield "mr-s1045", _to_uint8(slice_ / max(float(slice_.max()), 1.0))


def texture_crop_cases(count: int, seed: int) -> Iterator[Case]:
    """Crops of astronomy, microscopy and photo samples at random places and sizes, turned by a
    random quarter and sometimes inverted: textures like the moon's, which the U-Net once took
    for a fist."""
    try:
        from skimage import data
    except ImportError:
        return
    rng = np.random.default_rng([seed, 5])
    for index in range(count):
        name = TEXTURE_SOURCES[index % len(TEXTURE_SOURCES)]
        image = _to_uint8(getattr(data, name)())
        grey = image if image.ndim == 2 else np.round(image[..., :3] @ [0.299, 0.587, 0.114]).astype(np.uint8)
        height, width = grey.shape
        side = float(rng.uniform(0.45, 0.9))
        h, w = max(64, int(height * side)), max(64, int(width * side))
        y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        crop = np.rot90(grey[y : y + h, x : x + w], int(rng.integers(0, 4)))
        if rng.random() < 0.5:
            crop = 255 - crop
        yield Case("astronomy, microscopy and photo crops", f"{name}-crop-{index}", encode(crop.copy()))


def non_hand_cases(seed: int = 7) -> list[Case]:
    return [
        *skimage_cases(),
        *document_cases(40, seed),
        *screenshot_cases(30, seed),
        *generated_cases(40, seed),
        *trained_negative_cases(40, seed),
        *medical_cases(),
        *texture_crop_cases(96, seed),
    ]


REAL_SETS = {
    "rsna-train-299": "rsna-train-299/boneage-training-dataset",
    "rsna-train-100": "rsna-train-100/boneage-training-dataset",
    "atlas-pedrad": "atlas-pedrad/images",
    "rsna-train-hires": "rsna-train-hires/images",
}


def real_hand_files(data_root: Path, sets: tuple[str, ...] = tuple(REAL_SETS)) -> Iterator[tuple[str, Path]]:
    """Every real hand radiograph under ``data_root`` (the shared data folder), by set."""
    for name in sets:
        folder = data_root / REAL_SETS[name]
        for path in sorted(p for p in folder.glob("*") if p.suffix.lower() in (".png", ".jpg")):
            yield name, path


def accepted(data: bytes | Path, chain: Chain) -> tuple[bool, str | None]:
    """Does the app's path take this file? (False, the reason shown to the user) when not;
    (True, "field" or "margin") when only the chain's second look found the hand."""
    try:
        processed = preprocess(load_radiograph(data).pixels, chain)
    except BoneAgeError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return True, processed.second_look


def measure(
    chain: Chain, data_root: Path | None, seed: int = 7, sets: tuple[str, ...] = tuple(REAL_SETS)
) -> dict:
    """False acceptances per non-hand category and false refusals per real set."""
    started = time.time()
    results: dict = {
        "false_acceptance": {},
        "false_refusal": {},
        "accepted_non_hands": [],
        "refused_hands": [],
        "read_on_second_look": [],
    }
    for case in tqdm(non_hand_cases(seed), desc="non-hand images"):
        ok, _ = accepted(case.data, chain)
        row = results["false_acceptance"].setdefault(case.category, {"n": 0, "accepted": 0})
        row["n"] += 1
        if ok:
            row["accepted"] += 1
            results["accepted_non_hands"].append(case.name)
    if data_root is not None:
        for set_name, path in tqdm(list(real_hand_files(data_root, sets)), desc="real hand radiographs"):
            ok, reason = accepted(path, chain)
            row = results["false_refusal"].setdefault(set_name, {"n": 0, "refused": 0})
            row["n"] += 1
            if ok and reason:
                results["read_on_second_look"].append({"set": set_name, "id": path.stem, "look": reason})
            if not ok:
                row["refused"] += 1
                results["refused_hands"].append({"set": set_name, "id": path.stem, "reason": reason})
    for rows, key in ((results["false_acceptance"], "accepted"), (results["false_refusal"], "refused")):
        total = {"n": sum(r["n"] for r in rows.values()), key: sum(r[key] for r in rows.values())}
        if rows:
            rows["all"] = total
        for row in rows.values():
            row["rate"] = round(row[key] / max(row["n"], 1), 4)
    results["seconds"] = round(time.time() - started, 1)
    return results


def second_look_errors(results: dict, data_root: Path, weights: Path | None) -> dict:
    """How well the films read only on the chain's second look are read: the model's error on
    each against its label (the RSNA sets have labels, the atlas its standards' bone ages),
    their MAE and the 90th percentile of the absolute error. These set the caution such a film
    is answered with."""
    from boneage.predictor import Predictor
    from boneage.training.data import read_samples

    predictor = Predictor.load(explicit=weights)
    films = []
    for set_name in sorted({r["set"] for r in results["read_on_second_look"]}):
        try:
            labels = {s.id: s for s in read_samples(data_root / REAL_SETS[set_name].split("/")[0])}
        except Exception:  # a set without labels (DatasetError and its kin): nothing to measure
            continue
        for row in (r for r in results["read_on_second_look"] if r["set"] == set_name):
            sample = labels[row["id"]]
            months = predictor.predict_pixels(load_radiograph(sample.path).pixels, sample.male)
            films.append({**row, "error_months": round(months - sample.boneage, 2)})
    errors = np.abs([f["error_months"] for f in films])
    return {
        "n": len(films),
        "mae_months": round(float(errors.mean()), 2) if films else None,
        "p90_abs_error_months": round(float(np.percentile(errors, 90)), 2) if films else None,
        "films": films,
    }


def format_tables(results: dict) -> str:
    lines = ["| non-hand images | n | accepted (false acceptance) |", "|---|---|---|"]
    for name, row in results["false_acceptance"].items():
        lines.append(f"| {name} | {row['n']} | {row['accepted']} ({100 * row['rate']:.1f}%) |")
    lines += ["", "| real hand radiographs | n | refused (false refusal) |", "|---|---|---|"]
    for name, row in results["false_refusal"].items():
        lines.append(f"| {name} | {row['n']} | {row['refused']} ({100 * row['rate']:.2f}%) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--weights", type=Path, default=None, help="model folder whose preprocess settings to use"
    )
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument(
        "--segmenter", choices=["unet", "classical"], help="override the manifest's segmenter"
    )
    parser.add_argument(
        "--sets",
        default=",".join(REAL_SETS),
        help=f"real sets to measure false refusals on (default: all of {', '.join(REAL_SETS)})",
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--manifest", type=Path,
        help="write the caution for films read on the chain's second look into this manifest.json",
    )  # fmt: skip
    args = parser.parse_args(argv)
    from boneage.weights import DEFAULT_WEIGHTS_DIR, Manifest

    manifest = Manifest.load((args.weights or DEFAULT_WEIGHTS_DIR) / "manifest.json")
    config = PreprocessConfig.from_dict(manifest.preprocess)
    if args.segmenter:
        # The classical comparison runs without the U-Net at all (no pose correction either).
        pose = config.correct_pose and args.segmenter == "unet"
        config = PreprocessConfig.from_dict(
            {**config.to_dict(), "segmenter": args.segmenter, "correct_pose": pose}
        )
    data_root = args.data_root if args.data_root.is_dir() else None
    results = measure(Chain.load(config), data_root, sets=tuple(s for s in args.sets.split(",") if s))
    results["config"] = {"segmenter": config.segmenter, "correct_pose": config.correct_pose}
    if data_root is not None and results["read_on_second_look"]:
        results["second_look_errors"] = second_look_errors(results, data_root, args.weights)
        if args.manifest:
            _write_second_look_caution(args.manifest, results["second_look_errors"])
    print(format_tables(results))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


def _write_second_look_caution(path: Path, errors: dict) -> None:
    """The manifest's quality gains ``second_look``: the extra error over the model's validation
    MAE and the 90th percentile of the error, as measured on the films read on a second look."""
    from boneage.weights import Manifest

    manifest = Manifest.load(path)
    caution = {
        "extra_error_months": round(max(0.0, errors["mae_months"] - manifest.validation_mae), 2),
        "shift_p90_months": errors["p90_abs_error_months"],
        "measured_on": errors["n"],
    }
    quality = {key: value for key, value in (manifest.quality or {}).items() if key != "field"}
    quality = {**quality, "second_look": caution}
    Manifest.from_dict({**manifest.to_dict(), "quality": quality}).save(path)


if __name__ == "__main__":
    sys.exit(main())
