"""What the height part costs an answer: /predict's work in process, with and without heights.

    python benchmarks/bench_height.py [--repeats 3]

The shipped model answers with ONNX Runtime, as the app does once its exports are ready. Each atlas
plate is answered as `/predict` answers it (``analyse`` then ``to_dict``), once without heights and
once with the child's height (the CDC median for the plate's age and sex) and both parents', the
two interleaved so that the machine's drift falls on both alike. The target (issue 33): the p50
with heights within 10% of the p50 without. Prints a table and writes
benchmarks/results/height.json.
"""

from __future__ import annotations

import argparse
import time

from benchlib import ATLAS, machine, percentile, print_table, write_json


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3, help="passes over the atlas plates")
    args = parser.parse_args()

    from boneage.errors import BoneAgeError
    from boneage.io.inputs import HeightInputs, parse_heights
    from boneage.meaning.growth import GrowthReference
    from boneage.predictor import Predictor, analyse
    from boneage.training.data import read_samples

    predictor = Predictor.load()
    predictor.use_onnx_runtime()
    reference = GrowthReference.cdc2000()
    plates = []
    for sample in read_samples(ATLAS):
        sex = "male" if sample.male else "female"
        median = reference.height_at(0.0, sample.boneage, sex)  # an atlas plate: its age is its bone age
        plates.append(
            (sample.path.read_bytes(), sex, sample.boneage, parse_heights(f"{median:.1f}", "165", "180"))
        )
    times: dict[str, list[float]] = {"without heights": [], "with heights": []}
    predictions = 0
    for _ in range(args.repeats):
        for data, sex, age, heights in plates:
            for label, given in (("without heights", HeightInputs()), ("with heights", heights)):
                t0 = time.perf_counter()
                try:
                    result = analyse(data, sex, age, predictor=predictor, heights=given).to_dict()
                except BoneAgeError:
                    continue
                times[label].append(time.perf_counter() - t0)
                predictions += (
                    label == "with heights" and (result["height"] or {}).get("prediction") is not None
                )
    rows = [
        {"request": label, "n": len(values), "p50_ms": 1000 * percentile(values, 0.5),
         "p90_ms": 1000 * percentile(values, 0.9)}
        for label, values in times.items()
    ]  # fmt: skip
    ratio = rows[1]["p50_ms"] / rows[0]["p50_ms"]
    print_table(rows, ["request", "n", "p50_ms", "p90_ms"])
    print(f"p50 with heights / without: {ratio:.3f} (target <= 1.10); {predictions} answers had a prediction")
    write_json(
        "height.json",
        {"machine": machine(), "runtime": predictor.runtime, "rows": rows, "p50_ratio": round(ratio, 3),
         "answers_with_prediction": predictions},
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
