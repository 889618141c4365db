"""Real radiographs from ../shared/data through the whole chain (skipped when absent)."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from boneage.chain.gate import find_hand
from boneage.chain.preprocess import Chain, preprocess
from boneage.errors import NotAHandRadiographError
from boneage.io.decode import load_radiograph
from boneage.predictor import analyse
from boneage.training.data import read_samples
from conftest import SHARED_DATA


def test_every_atlas_radiograph_passes_the_chain(atlas_dir):
    samples = read_samples(atlas_dir)
    assert len(samples) == 54
    fractions = []
    for sample in samples:
        result = preprocess(load_radiograph(sample.path).pixels, Chain.classical(size=256))
        fractions.append(result.hand_fraction)
        assert result.image.shape == (256, 256)
        assert 0.3 < float(result.image[result.mask].mean()) < 0.7, sample.id
        assert not result.inverted
    assert min(fractions) > 0.1 and max(fractions) < 0.9


def test_atlas_analysis_without_model(atlas_dir):
    sample = read_samples(atlas_dir)[10]
    result = analyse(sample.path, sample.male, sample.boneage, predictor=None)
    assert result.to_dict()["image"]["format"] == "PNG"


def test_inverted_atlas_radiograph_is_restored(atlas_dir):
    sample = read_samples(atlas_dir)[20]
    pixels = load_radiograph(sample.path).pixels
    chain = Chain.classical()
    normal, inverted = preprocess(pixels, chain), preprocess(1.0 - pixels, chain)
    assert inverted.inverted
    overlap = (normal.mask & inverted.mask).sum() / max(1, (normal.mask | inverted.mask).sum())
    assert overlap > 0.9


def test_rsna_images_if_present():
    roots = [p for p in SHARED_DATA.glob("*") if (p / "boneage-training-dataset.csv").is_file()]
    if not roots:
        pytest.skip("no RSNA data in ../shared/data yet")
    samples = read_samples(roots[0])[:20]
    chain = Chain.classical()
    for sample in samples:
        result = preprocess(load_radiograph(sample.path).pixels, chain)
        assert result.image.shape == (384, 384)
        assert np.isfinite(result.image).all()


def test_real_rsna_radiographs_are_almost_never_refused():
    """At most 0.5% of the 12,010 real RSNA radiographs may be refused by the chain."""
    root = SHARED_DATA / "rsna-train-100"
    if not (root / "boneage-training-dataset.csv").is_file():
        pytest.skip("../shared/data/rsna-train-100 is not present")
    samples = read_samples(root)
    with ProcessPoolExecutor(max_workers=2) as pool:
        refused = [r for r in pool.map(_refusal, [s.path for s in samples], chunksize=64) if r]
    assert len(refused) <= 0.005 * len(samples), refused


def _refusal(path) -> str | None:
    try:
        find_hand(load_radiograph(path).pixels, Chain.classical(max_saturated_fraction=None).config)
    except NotAHandRadiographError as exc:
        return f"{path.name}: {exc}"
    return None
