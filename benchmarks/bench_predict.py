"""Per-request cost on this machine: decoding + preprocessing vs the model, per architecture.

    python benchmarks/bench_predict.py [--repeats 20] [--images ../shared/data/atlas-pedrad]

Model timings use randomly initialised weights of each registered architecture: speed depends
on the architecture, not on the values, and no weights are saved. Prints a table and writes
benchmarks/results/predict.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ARCHITECTURES = [("seed-cnn", 224), ("mobilenetv3-sex", 384), ("efficientnet-b0-sex", 384)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "data" / "atlas-pedrad")
    args = parser.parse_args()

    started = time.perf_counter()
    import torch

    from boneage.data import read_samples
    from boneage.io import load_radiograph
    from boneage.models import create_model
    from boneage.preprocess import PreprocessConfig, preprocess, to_model_input

    import_s = time.perf_counter() - started
    paths = [s.path for s in read_samples(args.images)][: args.repeats]
    rows = []
    for name, size in ARCHITECTURES:
        config = PreprocessConfig(size=size)
        decode, prep = [], []
        images = []
        for path in paths:
            t0 = time.perf_counter()
            pixels = load_radiograph(path).pixels
            t1 = time.perf_counter()
            images.append(preprocess(pixels, config).image)
            t2 = time.perf_counter()
            decode.append(t1 - t0)
            prep.append(t2 - t1)
        t0 = time.perf_counter()
        kwargs = {"input_size": size} if name == "seed-cnn" else {}
        model = create_model(name, **kwargs).eval()
        build_s = time.perf_counter() - t0
        model_times = []
        with torch.inference_mode():
            model(to_model_input([images[0]]), torch.zeros(1))  # warm-up
            for image in images:
                t0 = time.perf_counter()
                model(to_model_input([image]), torch.zeros(1))
                model_times.append(time.perf_counter() - t0)
        total = [d + p + m for d, p, m in zip(decode, prep, model_times, strict=True)]
        rows.append(
            {
                "architecture": name,
                "input_px": size,
                "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
                "decode_p50_ms": 1000 * statistics.median(decode),
                "preprocess_p50_ms": 1000 * statistics.median(prep),
                "preprocess_p95_ms": 1000 * percentile(prep, 0.95),
                "model_p50_ms": 1000 * statistics.median(model_times),
                "model_p95_ms": 1000 * percentile(model_times, 0.95),
                "total_p50_ms": 1000 * statistics.median(total),
                "total_p95_ms": 1000 * percentile(total, 0.95),
                "model_build_s": build_s,
            }
        )
    result = {
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
        },
        "images": len(paths),
        "import_s": round(import_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rows": [{k: round(v, 1) if isinstance(v, float) else v for k, v in r.items()} for r in rows],
    }
    header = [
        "architecture",
        "input_px",
        "params_m",
        "decode_p50_ms",
        "preprocess_p50_ms",
        "model_p50_ms",
        "model_p95_ms",
        "total_p50_ms",
        "total_p95_ms",
    ]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for row in result["rows"]:
        print(" | ".join(str(row[h]) for h in header))
    print(
        f"imports {result['import_s']} s, peak RSS {result['peak_rss_mb']} MB, {len(paths)} atlas images, {result['machine']['threads']} torch threads"
    )
    out = ROOT / "benchmarks" / "results" / "predict.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
