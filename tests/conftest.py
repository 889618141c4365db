"""Shared fixtures. Network-free by construction: Hub offline, Gradio analytics off."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.pop("BONEAGE_WEIGHTS", None)

from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

from helpers import synthetic_hand, write_kaggle_dataset  # noqa: E402

# CI runs the same examples every time (a failure is reproducible from the log); locally
# hypothesis explores new ones and remembers failures in .hypothesis/.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
ATLAS_DIR = SHARED_DATA / "atlas-pedrad"


@pytest.fixture
def hand_png(tmp_path: Path) -> Path:
    path = tmp_path / "hand.png"
    cv2.imwrite(str(path), synthetic_hand(120))
    return path


@pytest.fixture
def hand_pixels() -> np.ndarray:
    return synthetic_hand(120).astype(np.float32) / 255.0


@pytest.fixture(scope="session")
def kaggle_dataset(tmp_path_factory) -> Path:
    return write_kaggle_dataset(tmp_path_factory.mktemp("kaggle"), count=24)


@pytest.fixture(scope="session")
def trained_weights(tmp_path_factory, kaggle_dataset: Path) -> Path:
    """Weights written by train.py itself, on generated data: a tiny seed-cnn in seconds."""
    from train import main

    out = tmp_path_factory.mktemp("weights")
    code = main(
        [
            "--data",
            str(kaggle_dataset),
            "--out",
            str(out),
            "--arch",
            "seed-cnn",
            "--size",
            "64",
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--workers",
            "0",
            "--dataset-name",
            "synthetic test hands",
            "--segmenter",
            "classical",  # drawn hands: the U-Net gate is for real radiographs
        ]
    )
    assert code == 0
    return out


@pytest.fixture
def atlas_dir() -> Path:
    if not (ATLAS_DIR / "labels.csv").is_file():
        pytest.skip("../shared/data/atlas-pedrad is not present")
    return ATLAS_DIR
