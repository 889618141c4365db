"""Bone age for a batch of radiographs, for a clinic or a study: one CSV row per file.

    python -m boneage.cli.predict scans/ --labels patients.csv --out results.csv
    python -m boneage.cli.predict a.png b.dcm --sex female --age-months 126

Sex and age per file come from, in order: the ``--labels`` CSV (columns ``file`` or ``id``,
``sex`` or ``male``, and ``age_months``), the DICOM header (PatientSex, PatientAge or the birth and
study dates), then ``--sex`` / ``--age-months`` for all. Sex is needed (the model uses it); the
age is optional: without it the row has the bone age but no gap. A file that cannot be used gets
a row with the reason; the batch goes on.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from boneage.errors import BoneAgeError, InvalidSexError
from boneage.io.decode import load_radiograph
from boneage.io.inputs import parse_age_months, parse_sex
from boneage.training.data import IMAGE_SUFFIXES, parse_bool

FIELDS = ["file", "sex", "age_months", "bone_age_months", "gap_months", "meaning", "model", "error"]


@dataclass(frozen=True)
class PatientFields:
    sex: str | None = None
    age_months: float | None = None


def collect_files(paths: list[Path]) -> list[Path]:
    """Files named, plus the images (or extension-less DICOM exports) inside folders named."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and (p.suffix.lower() in IMAGE_SUFFIXES or not p.suffix)
            )
        else:
            files.append(path)
    return files


def read_labels(path: Path) -> dict[str, PatientFields]:
    """Rows keyed by file name and by stem (so ``id`` = ``1377`` matches ``1377.png``)."""
    labels: dict[str, PatientFields] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            key = (row.get("file") or row.get("id") or "").strip()
            if not key:
                continue
            sex = row.get("sex") or None
            if sex is None and row.get("male") not in (None, ""):
                sex = "male" if parse_bool(row["male"]) else "female"
            age = row.get("age_months") or None
            fields = PatientFields(sex, float(age) if age else None)
            labels[key] = labels[Path(key).stem] = fields
    return labels


def predict_file(predictor, path: Path, given: PatientFields) -> dict:
    """One CSV row: bone age (and gap and its meaning when the age is known), or the reason why not."""
    row = {"file": str(path), "model": predictor.manifest.name}
    try:
        radiograph = load_radiograph(path)
        sex = given.sex or radiograph.metadata.get("sex")
        age = given.age_months if given.age_months is not None else radiograph.metadata.get("age_months")
        if sex is None:
            raise InvalidSexError("sex_unknown_for_file")
        row["sex"] = parse_sex(sex)
        if age is not None:
            analysis = predictor.analyse(radiograph, sex, age)
            row.update(
                age_months=round(analysis.chronological_age_months, 1),
                bone_age_months=round(analysis.bone_age_months, 1),
                gap_months=round(analysis.gap_months, 1),
                meaning=analysis.interpretation.category,
            )
        else:
            row["bone_age_months"] = round(
                predictor.predict_pixels(radiograph.pixels, row["sex"] == "male"), 1
            )
    except BoneAgeError as exc:
        row["error"] = str(exc)
    return row


def main(argv: list[str] | None = None) -> int:
    from boneage.predictor import Predictor

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="+", type=Path, help="image files and/or folders")
    parser.add_argument("--labels", type=Path, help="CSV with file/id, sex/male, age_months per file")
    parser.add_argument("--sex", help="sex for files without one (female/male)")
    parser.add_argument("--age-months", type=float, help="age for files without one")
    parser.add_argument("--weights", type=Path, help="folder with manifest.json (default: the shipped model)")
    parser.add_argument("--out", type=Path, default=Path("results.csv"))
    args = parser.parse_args(argv)
    try:
        default = PatientFields(
            parse_sex(args.sex) if args.sex else None,
            parse_age_months(args.age_months) if args.age_months is not None else None,
        )
        predictor = Predictor.load(explicit=args.weights)
    except BoneAgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    labels = read_labels(args.labels) if args.labels else {}
    files = collect_files(args.paths)
    if not files:
        print("error: no image files found", file=sys.stderr)
        return 2
    rows = []
    for path in tqdm(files, desc="predict", unit="img"):
        given = labels.get(path.name) or labels.get(path.stem) or PatientFields()
        merged = PatientFields(
            given.sex or default.sex, given.age_months if given.age_months is not None else default.age_months
        )
        rows.append(predict_file(predictor, path, merged))
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    failed = sum(1 for r in rows if r.get("error"))
    print(
        f"{len(rows) - failed} of {len(rows)} radiographs estimated with {predictor.manifest.name}; written to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
