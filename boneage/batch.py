"""Batch bone ages: one CSV row per file, in one process, in a pool of processes, or on Ray.

Every way runs the same :func:`predict_job` with one :class:`~boneage.predictor.Predictor` per
worker on one thread, so the rows are the same to the last digit whichever ran them, and they
come back in the order of the input. A file that cannot be used gets a row with the reason and
the batch goes on. :class:`BatchOutput` writes the rows as they come (a killed run leaves a
CSV that ``--resume`` completes) and the model's name, version and sha256 once, in a side file.

Ray (``--ray``) uses Ray Data: the jobs become a dataset, ``map_batches`` runs them in a pool
of actors that each hold one predictor, and the rows stream back in order. Ray is an optional
install (``requirements-batch.txt``).
"""

from __future__ import annotations

import csv
import json
import os
import platform
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from boneage.errors import BoneAgeError, InvalidSexError
from boneage.io.decode import load_radiograph
from boneage.io.inputs import parse_heights, parse_sex

FIELDS = [
    "file", "sex", "age_months", "bone_age_months", "gap_months", "meaning",
    "quality", "quality_extra_error_months", "height_cm", "height_sds", "height_centile", "target_cm",
    "predicted_adult_height_cm", "predicted_low_cm", "predicted_high_cm", "height_note", "model", "error",
]  # fmt: skip
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Job:
    """One file, with the sex and age known for it before its header is read (None: unknown)."""

    file: str
    sex: str | None = None
    age_months: float | None = None
    heights: tuple[str | None, str | None, str | None] = (None, None, None)  # child, mother, father (cm)


@dataclass(frozen=True)
class Serving:
    """How each worker builds its predictor: the same for every worker and every way of running."""

    weights: str | None = None  # a folder with manifest.json; None: the shipped model
    onnx_runtime: bool = True  # as the app answers; False: PyTorch


class RayNotInstalledError(RuntimeError):
    """``--ray`` without Ray: the message says what to install."""


def available_cores() -> int:
    """The cores this process may run on (a container's share, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def load_predictor(serving: Serving):
    """A predictor on one thread: a worker's, so that N workers share N cores."""
    import cv2
    import torch

    from boneage.predictor import Predictor

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    predictor = Predictor.load(explicit=serving.weights)
    if serving.onnx_runtime:
        predictor.use_onnx_runtime(threads=1)
    return predictor


def predict_job(predictor, job: Job) -> dict:
    """One CSV row: bone age (and gap and its meaning when the age is known), or the reason why not."""
    row: dict = {"file": job.file, "model": predictor.manifest.name}
    try:
        radiograph = load_radiograph(Path(job.file))
        sex = job.sex or radiograph.metadata.get("sex")
        age = job.age_months if job.age_months is not None else radiograph.metadata.get("age_months")
        if sex is None:
            raise InvalidSexError("sex_unknown_for_file")
        row["sex"] = parse_sex(sex)
        if age is not None:
            analysis = predictor.analyse(radiograph, sex, age, heights=parse_heights(*job.heights))
            months, verdict = analysis.bone_age_months, analysis.quality
            row.update(
                age_months=round(analysis.chronological_age_months, 1),
                gap_months=round(analysis.gap_months, 1),
                meaning=analysis.interpretation.category,
                **height_columns(analysis.height),
            )
        else:
            male, jpeg = row["sex"] == "male", radiograph.metadata.get("jpeg_quality")
            months, verdict = predictor.estimate(radiograph.pixels, male, jpeg)
        row.update(
            bone_age_months=round(months, 1),
            quality=verdict.outcome if verdict.outcome == "answer" else f"{verdict.outcome}: {verdict.kind}",
            quality_extra_error_months=round(verdict.extra_error_months, 1),
        )
    except BoneAgeError as exc:
        row["error"] = str(exc)
    except Exception as exc:  # one bad file must not end an archive's batch
        row["error"] = f"unexpected error: {type(exc).__name__}: {exc}"
    return row


def height_columns(height) -> dict:
    """The height part of a row (``boneage.meaning.adult_height.HeightAssessment``), when given."""
    if height is None:
        return {}
    numbers = height.to_dict()
    prediction, target = numbers["prediction"] or {}, numbers["target"] or {}
    return {
        "height_cm": numbers["height_cm"], "height_sds": numbers["sds"], "height_centile": numbers["centile"],
        "target_cm": target.get("cm"), "predicted_adult_height_cm": prediction.get("cm"),
        "predicted_low_cm": prediction.get("low_cm"), "predicted_high_cm": prediction.get("high_cm"),
        "height_note": numbers["no_prediction"] or numbers["versus_target"],
    }  # fmt: skip


# --- one process, or a pool of processes -------------------------------------------------------

_worker_predictor = None  # a pool process's own predictor, built by _start_worker


def _start_worker(serving: Serving) -> None:
    global _worker_predictor
    _worker_predictor = load_predictor(serving)


def _run_in_worker(job: Job) -> dict:
    return predict_job(_worker_predictor, job)


def run_local(jobs: list[Job], serving: Serving, workers: int) -> Iterator[dict]:
    """Rows in the order of ``jobs``: in this process (``workers`` 1) or in a pool of processes."""
    if workers <= 1:
        predictor = load_predictor(serving)
        yield from (predict_job(predictor, job) for job in jobs)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=(serving,)) as pool:
        yield from pool.map(_run_in_worker, jobs, chunksize=4)


# --- Ray ---------------------------------------------------------------------------------------


class RayPredictor:
    """A Ray Data actor: one predictor, built once, answering batches of jobs."""

    def __init__(self, serving: dict):
        self.predictor = load_predictor(Serving(**serving))

    def __call__(self, batch: dict) -> dict:
        rows = []
        for item in batch["job"]:
            fields = json.loads(item)
            job = Job(**{**fields, "heights": tuple(fields["heights"])})
            rows.append(json.dumps(predict_job(self.predictor, job)))
        return {"row": rows}


def run_ray(jobs: list[Job], serving: Serving, workers: int, address: str | None) -> Iterator[dict]:
    """Rows in the order of ``jobs``, from a pool of ``workers`` Ray actors (one CPU each).

    ``address`` joins a running cluster (``ray start --head``); None starts a local instance with
    ``workers`` CPUs. Every node must see the files and the weights at the same paths.
    """
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise RayNotInstalledError(
            "--ray needs Ray: pip install -r requirements-batch.txt (on every machine of the cluster)"
        ) from exc
    started_here = not ray.is_initialized()
    if started_here:
        environment = {"env_vars": {"PYTHONPATH": os.pathsep.join([str(REPO_ROOT), *sys.path])}}
        options = {"address": address} if address else {"num_cpus": workers}
        ray.init(**options, runtime_env=environment, include_dashboard=False, log_to_driver=False)
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        items = [{"job": json.dumps(asdict(j))} for j in jobs]
        dataset = ray.data.from_items(items).map_batches(
            RayPredictor,
            fn_constructor_kwargs={"serving": asdict(serving)},
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
            batch_size=4,
        )
        for record in dataset.iter_rows():
            yield json.loads(record["row"])
    finally:
        if started_here:
            ray.shutdown()


# --- the output --------------------------------------------------------------------------------


class BatchOutput:
    """The CSV, written row by row, and its side file (``<out>.json``) with the model, once.

    ``resume``: the rows already in the CSV stay (a line a kill cut short is dropped) and their
    files are skipped.
    """

    def __init__(self, path: Path, resume: bool):
        self.path = Path(path)
        self.side = self.path.with_name(self.path.name + ".json")
        self.done: set[str] = set()
        if resume and self.path.is_file():
            self.done = _keep_whole_rows(self.path)
        elif self.path.exists():
            self.path.unlink()

    def write(self, rows: Iterable[dict]) -> tuple[int, int]:
        """Append ``rows`` as they come; (rows written, of them with an error)."""
        fresh = not self.path.is_file() or self.path.stat().st_size == 0
        written = failed = 0
        with open(self.path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS, lineterminator="\n")
            if fresh:
                writer.writeheader()
            for row in rows:
                writer.writerow(row)
                handle.flush()
                written += 1
                failed += bool(row.get("error"))
        return written, failed

    def describe(self, manifest, runtime: str, how: str, command: str, counts: dict) -> None:
        """The side file: which model wrote the rows, how, and when."""
        record = {
            "model": {"name": manifest.name, "version": manifest.version, "sha256": manifest.sha256},
            "runtime": runtime,
            "ran_on": how,
            "command": command,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            **counts,
        }
        self.side.write_text(json.dumps(record, indent=2) + "\n")


def _keep_whole_rows(path: Path) -> set[str]:
    """The files whose rows are complete; a last line cut short by a kill is removed."""
    text = path.read_text()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
        path.write_text(text)
    return {row["file"] for row in csv.DictReader(text.splitlines())}
