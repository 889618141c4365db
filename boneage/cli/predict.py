"""Bone age for a batch of radiographs, for a clinic or a study: one CSV row per file.

    python -m boneage.cli.predict scans/ --labels patients.csv --out results.csv
    python -m boneage.cli.predict a.png b.dcm --sex female --age-months 126
    python -m boneage.cli.predict archive/ --workers 32 --resume --out archive.csv
    python -m boneage.cli.predict archive/ --ray 10.0.0.1:6379 --workers 256 --out archive.csv

Sex and age per file come from, in order: the ``--labels`` CSV (columns ``file`` or ``id``,
``sex`` or ``male``, and ``age_months``), the DICOM header (PatientSex, PatientAge or the birth and
study dates), then ``--sex`` / ``--age-months`` for all. Sex is needed (the model uses it); the
age is optional: without it the row has the bone age but no gap. The ``--labels`` CSV may also give
``height_cm``, ``mother_cm`` and ``father_cm``: the row then has the height's SDS and centile, the
parents' target and the predicted adult height with its interval (docs/height.md), or in
``height_note`` why there is none. A file that cannot be used gets
a row with the reason; the batch goes on. ``--workers`` processes (all cores by default), or
Ray actors with ``--ray``, each hold one model on one thread; the rows are the same and in the
same order however many there are. The model's name, version and sha256 go once into
``OUT.json`` beside the CSV. How to run on a cluster: docs/batch.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from boneage.batch import (
    BatchOutput,
    Job,
    RayNotInstalledError,
    Serving,
    available_cores,
    run_local,
    run_ray,
)
from boneage.errors import BoneAgeError
from boneage.io.inputs import parse_age_months, parse_sex
from boneage.training.data import IMAGE_SUFFIXES, parse_bool


@dataclass(frozen=True)
class PatientFields:
    sex: str | None = None
    age_months: float | None = None
    heights: tuple[str | None, str | None, str | None] = (None, None, None)  # child, mother, father (cm)


HEIGHT_COLUMNS = ("height_cm", "mother_cm", "father_cm")  # optional, in --labels


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
            heights = tuple((row.get(column) or "").strip() or None for column in HEIGHT_COLUMNS)
            fields = PatientFields(sex, float(age) if age else None, heights)
            labels[key] = labels[Path(key).stem] = fields
    return labels


def make_jobs(files: list[Path], labels: dict[str, PatientFields], default: PatientFields) -> list[Job]:
    """One job per file: its labels, else the defaults for all (the DICOM header comes between)."""
    jobs = []
    for path in files:
        given = labels.get(path.name) or labels.get(path.stem) or PatientFields()
        age = given.age_months if given.age_months is not None else default.age_months
        jobs.append(Job(os.path.abspath(path), given.sex or default.sex, age, given.heights))
    return jobs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="+", type=Path, help="image files and/or folders")
    parser.add_argument(
        "--labels", type=Path,
        help="CSV with file/id, sex/male, age_months per file; optional height_cm, mother_cm, father_cm",
    )  # fmt: skip
    parser.add_argument("--sex", help="sex for files without one (female/male)")
    parser.add_argument("--age-months", type=float, help="age for files without one")
    parser.add_argument("--weights", type=Path, help="folder with manifest.json (default: the shipped model)")
    parser.add_argument("--out", type=Path, default=Path("results.csv"))
    parser.add_argument(
        "--workers",
        type=int,
        default=available_cores(),
        help="processes (or Ray actors), each one model on one thread (default: all cores)",
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run on Ray: a local instance, or the cluster at ADDRESS",
    )
    parser.add_argument(
        "--resume", action="store_true", help="keep the rows already in --out and skip their files"
    )
    parser.add_argument(
        "--pytorch", action="store_true", help="run the networks in PyTorch, not ONNX Runtime as the app does"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from boneage.weights import resolve_weights

        default = PatientFields(
            parse_sex(args.sex) if args.sex else None,
            parse_age_months(args.age_months) if args.age_months is not None else None,
        )
        manifest = resolve_weights(args.weights).manifest  # verified here, before any worker starts
    except BoneAgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    files = collect_files(args.paths)
    if not files:
        print("error: no image files found", file=sys.stderr)
        return 2
    jobs = make_jobs(files, read_labels(args.labels) if args.labels else {}, default)
    output = BatchOutput(args.out, resume=args.resume)
    todo = [job for job in jobs if job.file not in output.done]
    serving = Serving(str(args.weights) if args.weights else None, onnx_runtime=not args.pytorch)
    workers = max(1, min(args.workers, len(todo) or 1))
    try:
        rows = (
            run_ray(todo, serving, workers, args.ray or None)
            if args.ray is not None
            else run_local(todo, serving, workers)
        )
        started = time.perf_counter()
        progress = tqdm(rows, total=len(jobs), initial=len(jobs) - len(todo), desc="predict", unit="img")
        written, failed = output.write(progress)
    except RayNotInstalledError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    how = (
        f"ray ({args.ray or 'local'}), {workers} actors" if args.ray is not None else f"{workers} process(es)"
    )
    command = shlex.join(["python", "-m", "boneage.cli.predict", *(sys.argv[1:] if argv is None else argv)])
    counts = {
        "files": len(jobs),
        "skipped_as_done": len(jobs) - len(todo),
        "written": written,
        "with_error": failed,
    }
    output.describe(
        manifest,
        "pytorch" if args.pytorch else "onnxruntime",
        how,
        command,
        {**counts, "seconds": round(seconds, 1)},
    )
    print(
        f"{written - failed} of {written} radiographs estimated with {manifest.name} {manifest.version} ({how}); written to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
