"""Per-request cost on this machine: decoding + preprocessing vs the model, per architecture.

    python benchmarks/bench_predict.py [--repeats 20] [--long-side 2000]

Two kinds of upload: the atlas plates as they are (about 300 x 440 px) and the same plates
resized to a full-resolution RSNA export (long side 2000 px). The first rows are the shipped
model in weights/ (its own chain settings, source transform and TTA views), when there is one;
the others use randomly initialised weights of each registered architecture: speed depends on
the architecture, not on the values, and no weights are saved. The "as shipped" rows put another
backbone behind the shipped model's chain and views. The served rows are measured with PyTorch,
and with ONNX Runtime as the app answers once its exports are ready ("runtime": the model's;
"chain": the U-Net's and the wrist check's; the shipped model also with the chain in PyTorch, as
3.1 was first served). Prints a table and writes benchmarks/results/predict.json.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchlib import ATLAS, machine, percentile, print_table, write_json

ARCHITECTURES = [
    ("seed-cnn", 224),
    ("efficientnet-lite0-sex", 128),
    ("mobilenetv3-sex", 384),
    ("efficientnet-b0-sex", 384),
]
# Served exactly as the shipped model is (its chain, source transform and test-time views), with
# another backbone: what swapping the backbone would cost per answer.
SERVED_ALTERNATIVES = ["efficientnet-lite1-sex"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--long-side", type=int, default=2000, help="the full-resolution upload size")
    args = parser.parse_args()

    started = time.perf_counter()
    import cv2
    import torch

    from boneage.chain.preprocess import Chain, preprocess
    from boneage.errors import BoneAgeError
    from boneage.io.decode import load_radiograph
    from boneage.model.architectures import create_model
    from boneage.predictor import Predictor
    from boneage.training.data import read_samples
    from boneage.weights import DEFAULT_WEIGHTS_DIR, Manifest

    import_s = time.perf_counter() - started
    atlas = [s.path for s in read_samples(ATLAS)][: args.repeats]
    with tempfile.TemporaryDirectory() as tmp:
        full = []
        for path in atlas:
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            scale = args.long_side / max(image.shape)
            full.append(Path(tmp) / path.name)
            cv2.imwrite(
                str(full[-1]), cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            )
        uploads = {
            "atlas": [p.read_bytes() for p in atlas],
            f"{args.long_side}px": [p.read_bytes() for p in full],
        }
    candidates = []
    if (DEFAULT_WEIGHTS_DIR / "manifest.json").is_file():
        t0 = time.perf_counter()
        shipped = Predictor.load(weights_dir=DEFAULT_WEIGHTS_DIR)
        candidates.append(
            (f"shipped: {shipped.manifest.name}", shipped, time.perf_counter() - t0, shipped.chain, "pytorch")
        )
        for name in SERVED_ALTERNATIVES:
            t0 = time.perf_counter()
            model = create_model(name)
            manifest = replace(shipped.manifest, name=name, architecture=name, architecture_kwargs={})
            other = Predictor(model, manifest, chain=shipped.chain)
            candidates.append(
                (f"as shipped: {name}", other, time.perf_counter() - t0, shipped.chain, "pytorch")
            )
        # The same networks as the app answers once its ONNX Runtime form is ready (the chain's
        # U-Net and wrist check move with the first); the shipped model also with the chain's
        # networks left in PyTorch, as 3.1 was first served.
        for name, predictor, _, _, _ in list(candidates):
            onnx = Predictor(predictor.model, predictor.manifest)  # its own chain, moved with it
            t0 = time.perf_counter()
            if onnx.use_onnx_runtime():
                moved = all(r.startswith("onnxruntime") for r in onnx.chain.runtimes().values())
                # an export that failed keeps PyTorch (the log says why): say what was timed
                label = "onnxruntime" if moved else "pytorch"
                candidates.append((name, onnx, time.perf_counter() - t0, onnx.chain, label))
                if name.startswith("shipped"):
                    candidates.append((name, onnx, 0.0, shipped.chain, "pytorch"))
    for name, size in ARCHITECTURES:
        classical = Chain.classical(size=size)
        kwargs = {"input_size": size} if name == "seed-cnn" else {}
        t0 = time.perf_counter()
        model = create_model(name, **kwargs)
        build_s = time.perf_counter() - t0
        # The app's own inference path; the manifest lives in memory only, nothing is saved.
        manifest = Manifest(
            name, "bench", name, kwargs, size, model.uses_sex, "", "", classical.config.to_dict()
        )
        candidates.append((name, Predictor(model, manifest, chain=classical), build_s, classical, "none"))
    rows = []
    for name, predictor, build_s, served_chain, chain in candidates:
        size, model = served_chain.config.size, predictor.model
        for upload, files in uploads.items():
            decode, prep, model_times, refused = [], [], [], 0
            predictor.predict_months([np.zeros((size, size), np.float32)], [True])  # warm-up
            for data in files:
                t0 = time.perf_counter()
                pixels = load_radiograph(data).pixels
                t1 = time.perf_counter()
                try:
                    image = preprocess(pixels, served_chain).image
                except BoneAgeError:  # the chain refuses a plate (the app would say why): not timed
                    refused += 1
                    continue
                t2 = time.perf_counter()
                predictor.predict_months([image], [True])
                t3 = time.perf_counter()
                decode.append(t1 - t0)
                prep.append(t2 - t1)
                model_times.append(t3 - t2)
            total = [d + p + m for d, p, m in zip(decode, prep, model_times, strict=True)]
            rows.append(
                {
                    "architecture": name,
                    "runtime": predictor.runtime.split()[0],
                    "chain": chain,
                    "input_px": size,
                    "upload": upload,
                    "refused": refused,
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
        "machine": {**machine(), "torch_threads": torch.get_num_threads()},
        "images": len(atlas),
        "import_s": round(import_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rows": [{k: round(v, 1) if isinstance(v, float) else v for k, v in r.items()} for r in rows],
    }
    print_table(
        result["rows"],
        [
            "architecture",
            "runtime",
            "chain",
            "input_px",
            "upload",
            "refused",
            "decode_p50_ms",
            "preprocess_p50_ms",
            "preprocess_p95_ms",
            "model_p50_ms",
            "model_p95_ms",
            "total_p50_ms",
            "total_p95_ms",
        ],
    )
    print(
        f"imports {result['import_s']} s, peak RSS {result['peak_rss_mb']} MB, {len(atlas)} images per upload "
        f"kind, {result['machine']['torch_threads']} torch threads"
    )
    write_json("predict.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
