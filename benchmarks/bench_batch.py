"""Batch throughput: films per second against workers, in processes and on a local Ray.

    python benchmarks/bench_batch.py                 # 200 rsna-train-299 films, 1 and 2 workers, Ray
    python benchmarks/bench_batch.py --films 400 --workers 1 2 4 --no-ray

Each run goes through ``boneage.batch`` as ``python -m boneage.cli.predict`` does: one
predictor per worker on one thread, the networks in ONNX Runtime (``--pytorch``: PyTorch). Two
rates per run: over the whole run (model loading and export included), and steady, from the
tenth of the films on, which is what a long archive gets. Per core is the steady rate over the
workers: multiply by a larger machine's cores to predict it, as long as its disk keeps up.
Writes ``benchmarks/results/batch.json``.
"""

from __future__ import annotations

import argparse
import csv
import time

from benchlib import ROOT, machine, print_table, write_json

RSNA = ROOT.parent / "shared" / "data" / "rsna-train-299"


def timed_run(rows, total: int) -> dict:
    """Seconds to the first row, to the tenth of the films, and to the last."""
    started = time.perf_counter()
    marks, errors = [], 0
    for row in rows:
        marks.append(time.perf_counter() - started)
        errors += bool(row.get("error"))
    tenth = max(1, total // 10)
    steady = (total - tenth) / (marks[-1] - marks[tenth - 1])
    return {
        "films": total,
        "first_row_s": round(marks[0], 1),
        "total_s": round(marks[-1], 1),
        "films_per_s": round(total / marks[-1], 2),
        "steady_films_per_s": round(steady, 2),
        "errors": errors,
    }


def main() -> None:
    from boneage.batch import Job, Serving, available_cores, run_local, run_ray

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--films", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-ray", action="store_true", help="processes only")
    parser.add_argument("--pytorch", action="store_true", help="the networks in PyTorch")
    parser.add_argument("--out", default="batch.json")
    args = parser.parse_args()
    labels = list(csv.DictReader((RSNA / "boneage-training-dataset.csv").open()))[: args.films]
    jobs = [
        Job(
            str(RSNA / "boneage-training-dataset" / f"{r['id']}.jpg"),
            "male" if r["male"] == "True" else "female",
        )
        for r in labels
    ]
    serving = Serving(onnx_runtime=not args.pytorch)
    rows = []
    for workers in args.workers:
        result = timed_run(run_local(jobs, serving, workers), len(jobs))
        rows.append({"runner": "processes", "workers": workers, **result})
    if not args.no_ray:
        for workers in args.workers:
            result = timed_run(run_ray(jobs, serving, workers, None), len(jobs))
            rows.append({"runner": "ray (local)", "workers": workers, **result})
    for row in rows:
        row["steady_films_per_s_per_core"] = round(row["steady_films_per_s"] / row["workers"], 2)
    columns = ["runner", "workers", "films", "first_row_s", "total_s", "films_per_s", "steady_films_per_s"]
    print_table(rows, [*columns, "steady_films_per_s_per_core", "errors"])
    runtime = "pytorch" if args.pytorch else "onnxruntime"
    write_json(
        args.out,
        {"machine": {**machine(), "cores_available": available_cores()}, "runtime": runtime, "rows": rows},
    )


if __name__ == "__main__":
    main()
