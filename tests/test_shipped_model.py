"""The model in weights/: real radiographs get sane bone ages, in process and through the app.

Skipped while no model is shipped. No prediction is hard-coded: the checks are ranges and
agreement with the official labels, which any working model meets and a broken one does not.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file

from appserver import running_app
from boneage.predictor import Predictor
from boneage.training.data import read_samples
from boneage.weights import DEFAULT_WEIGHTS_DIR, Manifest
from conftest import REPO_ROOT, SHARED_DATA

pytestmark = pytest.mark.skipif(
    not (DEFAULT_WEIGHTS_DIR / "manifest.json").is_file(), reason="no model shipped in weights/"
)
RSNA = SHARED_DATA / "rsna-train-299"  # what the shipped model learnt from


@pytest.fixture(scope="module")
def shipped() -> Predictor:
    return Predictor.load(weights_dir=DEFAULT_WEIGHTS_DIR)


def test_manifest_records_how_it_was_made(shipped: Predictor):
    manifest = shipped.manifest
    assert manifest.training["command"].startswith("python train.py")
    assert manifest.training["git_commit"] and manifest.training["n_val"] >= 1500
    assert manifest.preprocess["source_transform"] == {
        "width": 299,
        "height": 299,
        "resample": "pillow-bilinear",
        "keep_aspect": False,
    }
    # trained on the chain the app serves
    assert manifest.preprocess["segmenter"] == "unet" and manifest.preprocess["correct_pose"]
    assert (DEFAULT_WEIGHTS_DIR / manifest.filename).stat().st_size < 25 * 1024 * 1024


def test_validation_radiographs_get_sane_bone_ages(shipped: Predictor):
    """Thirty validation radiographs (never trained on): ages in range, tracking the labels."""
    if not (RSNA / "boneage-training-dataset.csv").is_file():
        pytest.skip("../shared/data/rsna-train-299 is not present")
    val_ids = set(json.loads((DEFAULT_WEIGHTS_DIR / "split.json").read_text())["val"])
    samples = [s for s in read_samples(RSNA) if s.id in val_ids][::60][:30]
    predicted = np.array([shipped.analyse(s.path, s.male, s.boneage).bone_age_months for s in samples])
    truth = np.array([s.boneage for s in samples])
    assert ((predicted > 0) & (predicted < 240)).all()
    assert np.corrcoef(predicted, truth)[0, 1] > 0.8
    assert (
        np.abs(predicted - truth).mean()
        < 3 * Manifest.load(DEFAULT_WEIGHTS_DIR / "manifest.json").validation_mae
    )


def test_sex_input_matters(shipped: Predictor):
    """Girls mature earlier: the same radiograph read as a girl's gets a different bone age."""
    image = REPO_ROOT / "examples" / "F19.png"
    girl = shipped.analyse(image, "female", 108).bone_age_months
    boy = shipped.analyse(image, "male", 108).bone_age_months
    assert abs(girl - boy) > 1.0


def test_app_started_as_in_the_readme_gives_a_bone_age(tmp_path: Path):
    """python app.py with the shipped weights: a real hand X-ray gets a bone age over the API."""
    with running_app(DEFAULT_WEIGHTS_DIR, tmp_path / "app.log") as url:
        client = Client(url, verbose=False)
        example = handle_file(str(REPO_ROOT / "examples" / "M22.png"))
        result = client.predict(example, "male", 142, api_name="/predict")
        report = client.predict(example, "male", 142, api_name="/report")
        heatmap = client.predict(example, "male", 142, api_name="/heatmap")
    assert Path(report).stat().st_size > 10_000 and Path(heatmap).stat().st_size > 1_000
    assert 0 < result["bone_age_months"] < 240
    interval = result["interval"]
    assert interval["low_months"] < result["bone_age_months"] < interval["high_months"]
    assert interval["level"] == 0.9 and 0.85 < interval["measured_coverage"] < 0.95
    assert result["chart"]["child"]["interval_years"] == pytest.approx(
        [interval["low_months"] / 12, interval["high_months"] / 12], abs=0.01
    )
    assert result["image"]["segmenter"] == "unet"
    assert result["model"]["name"] == Manifest.load(DEFAULT_WEIGHTS_DIR / "manifest.json").name
    assert result["gap_months"] == pytest.approx(result["bone_age_months"] - 142, abs=0.11)


def test_interval_is_calibrated_and_its_coverage_recorded(shipped: Predictor):
    calibration = shipped.interval
    assert calibration is not None and calibration.level == 0.9
    assert all(5 < width < 40 for width in calibration.half_widths_months)
    assert abs(calibration.coverage["coverage"] - 0.9) < 0.02 and calibration.coverage["n"] > 800
