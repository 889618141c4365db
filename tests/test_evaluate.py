"""Evaluation math on known numbers, the evaluation and batch-prediction command lines."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from boneage.chain.gate import find_hand
from boneage.chain.preprocess import Chain
from boneage.cli.evaluate import main as evaluate_main
from boneage.cli.predict import main as predict_main
from boneage.training.evaluation import Evaluation, format_table, reframe
from helpers import synthetic_hand, write_dicom


def test_metrics_on_known_numbers():
    evaluation = Evaluation(
        predicted=np.array([10.0, 30.0, 100.0, 130.0]),
        target=np.array([12.0, 24.0, 110.0, 130.0]),
        male=np.array([True, True, False, False]),
    )
    metrics = evaluation.metrics("val")
    assert metrics["val_mae_months"] == pytest.approx((2 + 6 + 10 + 0) / 4)
    assert metrics["val_rmse_months"] == pytest.approx(np.sqrt((4 + 36 + 100 + 0) / 4), abs=1e-3)
    assert metrics["val_bias_months"] == pytest.approx((-2 + 6 - 10 + 0) / 4)
    assert metrics["val_mae_male_months"] == 4.0 and metrics["val_mae_female_months"] == 5.0
    rows = {r["group"]: r for r in evaluation.table()}
    assert rows["0-2 y"]["n"] == 1 and rows["0-2 y"]["bias_months"] == -2.0  # 12 months: second year
    assert rows["2-4 y"]["n"] == 1 and rows["2-4 y"]["mae_months"] == 6.0
    assert rows["8-10 y"]["n"] == 1 and rows["10-12 y"]["n"] == 1
    assert "4-6 y" not in rows  # empty bands are left out
    assert "| all | 4 | 4.50 |" in format_table(evaluation.table())


def test_reframing_crops_tight_or_adds_a_border():
    pixels = synthetic_hand(120).astype(np.float32) / 255
    chain = Chain.classical()
    tight = reframe(pixels, "tight", chain)
    assert tight.shape[0] < pixels.shape[0] and tight.shape[1] < pixels.shape[1]
    bordered = reframe(pixels, "border", chain)
    assert bordered.shape == (round(pixels.shape[0] * 1.3), round(pixels.shape[1] * 1.3))
    assert find_hand(bordered, chain.config)[1].mean() < find_hand(pixels, chain.config)[1].mean()


def test_evaluate_command_writes_json(trained_weights: Path, kaggle_dataset: Path, tmp_path: Path, capsys):
    out = tmp_path / "eval.json"
    args = ["--data", str(kaggle_dataset), "--weights", str(trained_weights), "--out", str(out)]
    assert evaluate_main([*args, "--ids", str(trained_weights / "split.json"), "--reframe"]) == 0
    report = json.loads(out.read_text())
    manifest = json.loads((trained_weights / "manifest.json").read_text())
    assert report["n_images"] == manifest["training"]["n_val"]
    assert abs(report["metrics"]["eval_mae_months"] - manifest["metrics"]["val_mae_months"]) < 0.5
    assert set(report["reframed"]) == {"tight", "border"}
    assert "| all |" in capsys.readouterr().out
    assert report["runtime"].startswith("onnxruntime")  # as the app answers

    assert evaluate_main([*args, "--ids", str(trained_weights / "split.json"), "--pytorch"]) == 0
    with_pytorch = json.loads(out.read_text())
    assert with_pytorch["runtime"].startswith("pytorch")
    assert with_pytorch["metrics"]["eval_mae_months"] == pytest.approx(
        report["metrics"]["eval_mae_months"], abs=1e-3
    )
    assert evaluate_main(["--data", str(tmp_path), "--weights", str(trained_weights)]) == 2


def test_batch_predict_with_labels_dicom_tags_and_bad_files(trained_weights: Path, tmp_path: Path):
    folder = tmp_path / "scans"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), synthetic_hand(100))
    cv2.imwrite(str(folder / "b.png"), synthetic_hand(150, seed=2))
    write_dicom(
        folder / "IM0001", synthetic_hand(80).astype(np.uint16) * 16, PatientSex="F", PatientAge="007Y"
    )
    (folder / "broken.png").write_bytes(b"not an image")
    labels = tmp_path / "labels.csv"
    labels.write_text("id,male,age_months\na,True,100\nb,False,\n")
    out = tmp_path / "results.csv"
    args = [str(folder), "--labels", str(labels), "--weights", str(trained_weights), "--out", str(out)]
    assert predict_main(args) == 0
    rows = {Path(r["file"]).name: r for r in csv.DictReader(out.open())}
    assert set(rows) == {"a.png", "b.png", "IM0001", "broken.png"}
    assert rows["a.png"]["sex"] == "male" and float(rows["a.png"]["gap_months"]) == pytest.approx(
        float(rows["a.png"]["bone_age_months"]) - 100, abs=0.11
    )
    assert rows["b.png"]["sex"] == "female" and rows["b.png"]["gap_months"] == ""  # no age: no gap
    assert 0 <= float(rows["b.png"]["bone_age_months"]) <= 240
    assert rows["IM0001"]["sex"] == "female" and float(rows["IM0001"]["age_months"]) == 84.0
    assert rows["broken.png"]["error"] and rows["broken.png"]["bone_age_months"] == ""


def test_batch_predict_needs_a_sex(trained_weights: Path, tmp_path: Path):
    cv2.imwrite(str(tmp_path / "a.png"), synthetic_hand(100))
    out = tmp_path / "r.csv"
    assert predict_main([str(tmp_path / "a.png"), "--weights", str(trained_weights), "--out", str(out)]) == 0
    row = next(csv.DictReader(out.open()))
    assert "sex" in row["error"] and row["bone_age_months"] == ""
    assert predict_main([str(tmp_path / "a.png"), "--sex", "alien", "--weights", str(trained_weights)]) == 2


def test_robustness_leaves_out_a_plate_refused_as_it_is():
    """A plate with no clean bone age cannot show a shift: it is listed, and the others measured,
    each kind with its three outcomes."""
    from boneage.cli.robustness import TRANSFORMS, measure
    from boneage.errors import NotAHandRadiographError
    from boneage.meaning.quality import QualityVerdict

    class Brightness:  # bone age from mean brightness; a dark plate is refused as the chain would
        def predict_pixels(self, pixels, male):
            if pixels.mean() < 0.05:
                raise NotAHandRadiographError("no_hand")
            return 100.0 * float(pixels.mean())

        def estimate(self, pixels, male, jpeg_quality=None):  # small or compressed: a caution
            doubtful = max(pixels.shape) < 120 or (jpeg_quality or 100) < 60
            verdict = QualityVerdict(
                "caution" if doubtful else "answer", "size" if doubtful else "good", 0, 0
            )
            return self.predict_pixels(pixels, male), verdict

    ramp = np.tile(np.linspace(0.3, 0.7, 240, dtype=np.float32), (300, 1))
    images = [("bright", ramp, True), ("dark", np.zeros_like(ramp), False)]
    rows, clean_refused = measure(Brightness(), images)
    assert clean_refused == [{"id": "dark", "reason": str(NotAHandRadiographError("no_hand"))}]
    assert set(rows) == set(TRANSFORMS)
    assert all(
        row["n"] == 1 and row["answered"] + row["cautioned"] + row["refused"] == 1 for row in rows.values()
    )
    assert rows["right hand (mirrored)"]["mean_abs_shift_months"] == pytest.approx(0.0, abs=1e-4)
    assert rows["wide white border"]["mean_shift_months"] > 0  # a brighter frame, a higher "bone age"
    assert rows["shrunk to 100 px"]["cautions"] == {"size": 1} and rows["JPEG quality 20"]["cautioned"] == 1
    assert rows["shrunk to 200 px"]["answered"] == 1 and rows["JPEG quality 75"]["answered"] == 1
