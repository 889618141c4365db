from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from boneage.data import find_dataset, read_samples, split_samples
from boneage.errors import DatasetError
from boneage.predictor import Predictor
from train import main


def test_train_writes_weights_manifest_and_report(trained_weights: Path):
    manifest = json.loads((trained_weights / "manifest.json").read_text())
    assert (trained_weights / manifest["filename"]).is_file()
    assert manifest["training"]["dataset"] == "synthetic test hands"
    assert manifest["training"]["n_train"] + manifest["training"]["n_val"] == 24
    assert np.isfinite(manifest["metrics"]["val_mae_months"])
    assert (trained_weights / "evaluation.png").stat().st_size > 10_000
    assert "val_mae_months" in (trained_weights / "report.md").read_text()
    history = json.loads((trained_weights / "report.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2]


def test_app_predictor_reproduces_the_recorded_validation_mae(trained_weights: Path, kaggle_dataset: Path):
    """Training and the app share one chain: re-predicting the validation images gives the same MAE."""
    predictor = Predictor.load(explicit=trained_weights)
    split = json.loads((trained_weights / "split.json").read_text())
    samples = {s.id: s for s in read_samples(kaggle_dataset)}
    errors = [
        predictor.analyse(samples[i].path, samples[i].male, 100).bone_age_months - samples[i].boneage
        for i in split["val"]
    ]
    recorded = predictor.manifest.metrics["val_mae_months"]
    assert abs(float(np.mean(np.abs(errors))) - recorded) < 0.5  # uint8 training cache vs float


def test_same_seed_same_weights(kaggle_dataset: Path, tmp_path: Path):
    args = [
        "--data",
        str(kaggle_dataset),
        "--arch",
        "seed-cnn",
        "--size",
        "32",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--workers",
        "0",
        "--limit",
        "12",
    ]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    sha = [json.loads((tmp_path / d / "manifest.json").read_text())["sha256"] for d in "ab"]
    assert sha[0] == sha[1]


def test_split_is_stratified_disjoint_and_deterministic(kaggle_dataset: Path):
    samples = read_samples(kaggle_dataset)
    train, val = split_samples(samples, 0.25, seed=1)
    assert len(val) == 6 and len(train) == 18
    assert not {s.id for s in train} & {s.id for s in val}
    assert {s.male for s in val} == {True, False}
    assert [s.id for s in split_samples(samples, 0.25, seed=1)[1]] == [s.id for s in val]
    assert [s.id for s in split_samples(samples, 0.25, seed=2)[1]] != [s.id for s in val]


def test_dataset_layout_errors(tmp_path: Path):
    with pytest.raises(DatasetError, match="Kaggle layout"):
        find_dataset(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "labels.csv").write_text("id,age\n1,3\n")
    with pytest.raises(DatasetError, match="lacks columns"):
        read_samples(tmp_path)
    assert main(["--data", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
