"""An ensemble assembled by train.py from trained members, stored in float16, served like one model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from boneage.model.architectures import BoneAgeEnsemble, create_model, describe_architecture, resize_square
from boneage.model.heatmap import grad_cam
from boneage.model.inputs import to_model_input
from boneage.predictor import Predictor
from boneage.training.data import read_samples
from boneage.training.loop import train
from boneage.weights import stored_state
from train import main, parse_args

TINY = ["--arch", "seed-cnn", "--size", "32", "--batch-size", "8", "--workers", "0", "--limit", "16"]
TINY += ["--segmenter", "classical"]  # drawn hands: the U-Net gate is for real radiographs
SEED_CNN = {"architecture": "seed-cnn", "input_size": 32}
LITE0 = {"architecture": "efficientnet-lite0-sex"}


def _weights(out: Path) -> Path:
    return out / json.loads((out / "manifest.json").read_text())["filename"]


@pytest.fixture(scope="module")
def members(kaggle_dataset: Path, tmp_path_factory) -> tuple[Path, Path]:
    """Two members with this split: a small CNN and an EfficientNet-Lite0, as the shipped pair differ."""
    root = tmp_path_factory.mktemp("members")
    common = ["--data", str(kaggle_dataset), *TINY]
    assert main([*common, "--epochs", "1", "--out", str(root / "a")]) == 0
    assert main([*common, "--arch", LITE0["architecture"], "--epochs", "2", "--out", str(root / "b")]) == 0
    return _weights(root / "a"), _weights(root / "b")


def test_an_ensemble_predicts_the_mean_of_its_members(members, kaggle_dataset: Path, tmp_path: Path):
    out = tmp_path / "ensemble"
    args = ["--data", str(kaggle_dataset), *TINY, "--epochs", "0", "--ensemble-of", *map(str, members)]
    assert main([*args, "--out", str(out)]) == 0

    manifest = json.loads((out / "manifest.json").read_text())
    with Image.open(out / "evaluation.png") as figure:  # no epochs: no empty learning-curve panel
        assert figure.width < 1200
    assert manifest["architecture"] == "ensemble"
    assert manifest["architecture_kwargs"] == {"members": [SEED_CNN, LITE0]}
    sources = manifest["training"]["ensemble_of"]
    assert [s["path"] for s in sources] == [str(m) for m in members]
    assert all(s["val_images_seen"] == 0 and s["training"]["epochs"] in (1, 2) for s in sources)

    ensemble = Predictor.load(explicit=out)
    alone = [Predictor.load(explicit=m.parent) for m in members]
    assert ensemble.info.architecture == "seed-cnn + efficientnet-lite0-sex"  # read in any language
    sample = read_samples(kaggle_dataset)[0]
    ages = [p.analyse(sample.path, sample.male, 100).bone_age_months for p in (ensemble, *alone)]
    assert ages[1] != pytest.approx(ages[2], abs=0.01)  # the members differ, so the mean says something
    assert ages[0] == pytest.approx((ages[1] + ages[2]) / 2, abs=1e-3)


def test_a_member_that_learnt_at_another_size_reads_the_chain_resized(
    members, kaggle_dataset: Path, tmp_path: Path
):
    """One chain per upload, at the ensemble's size; the 32 px member reads its image at 32 px."""
    common = ["--data", str(kaggle_dataset), *TINY, "--size", "48"]
    assert main([*common, "--epochs", "1", "--out", str(tmp_path / "big")]) == 0
    big = _weights(tmp_path / "big")
    args = [*common, "--epochs", "0", "--ensemble-of", str(big), str(members[0])]
    assert main([*args, "--out", str(tmp_path / "mixed")]) == 0

    manifest = json.loads((tmp_path / "mixed" / "manifest.json").read_text())
    assert manifest["input_size"] == 48 and manifest["preprocess"]["size"] == 48
    assert manifest["architecture_kwargs"]["members"] == [
        {"architecture": "seed-cnn", "input_size": 48},
        {**SEED_CNN, "resize_to": 32},
    ]
    ensemble = Predictor.load(explicit=tmp_path / "mixed")
    assert ensemble.info.architecture == "seed-cnn 48 px + seed-cnn 32 px"
    alone = [Predictor.load(explicit=path.parent).model for path in (big, members[0])]
    image = np.random.default_rng(1).random((48, 48)).astype(np.float32)
    inputs, male = to_model_input([image]), torch.tensor([1.0])
    with torch.inference_mode():
        expected = (alone[0](inputs, male) + alone[1](resize_square(inputs, 32), male)) / 2
        assert ensemble.model(inputs, male).item() == pytest.approx(expected.item(), abs=1e-3)
    assert ensemble.heatmap(image, male=True).shape == (48, 48)


def test_an_ensemble_joins_another_network_by_network(members, kaggle_dataset: Path, tmp_path: Path):
    """The shipped pair plus a new run, without the pair's runs: each of the three counts the same."""
    common = ["--data", str(kaggle_dataset), *TINY]
    assert (
        main([*common, "--epochs", "0", "--ensemble-of", *map(str, members), "--out", str(tmp_path / "pair")])
        == 0
    )
    assert (
        main([*common, "--epochs", "1", "--seed", "3", "--split-seed", "42", "--out", str(tmp_path / "new")])
        == 0
    )
    pair, new = _weights(tmp_path / "pair"), _weights(tmp_path / "new")
    assert (
        main(
            [*common, "--epochs", "0", "--ensemble-of", str(pair), str(new), "--out", str(tmp_path / "three")]
        )
        == 0
    )

    manifest = json.loads((tmp_path / "three" / "manifest.json").read_text())
    assert manifest["architecture_kwargs"] == {"members": [SEED_CNN, LITE0, SEED_CNN]}
    sources = manifest["training"]["ensemble_of"]
    assert sources[0]["networks"] == 2 and sources[0]["training"]["ensemble_of"][1]["path"] == str(members[1])
    assert sources[1]["training"]["seed"] == 3

    three = Predictor.load(explicit=tmp_path / "three")
    alone = [Predictor.load(explicit=path.parent) for path in (*members, new)]
    sample = read_samples(kaggle_dataset)[0]
    ages = [p.analyse(sample.path, sample.male, 100).bone_age_months for p in (three, *alone)]
    assert ages[3] != pytest.approx(ages[1], abs=0.01)  # the new network differs from the first
    assert ages[0] == pytest.approx(np.mean(ages[1:]), abs=1e-3)


def test_resize_square_keeps_a_uniform_image_uniform_and_leaves_its_own_size_alone():
    images = torch.full((2, 1, 48, 48), -1.0)  # the black background, standardised
    assert resize_square(images, 48) is images and resize_square(images, None) is images
    smaller = resize_square(images, 32)
    assert smaller.shape == (2, 1, 32, 32)
    torch.testing.assert_close(smaller, torch.full_like(smaller, -1.0))


def test_the_architecture_names_each_members_side_only_when_they_differ():
    same = {"members": [LITE0, LITE0]}
    mixed = {"members": [LITE0, {**LITE0, "resize_to": 384}]}
    assert describe_architecture("ensemble", same, 448) == "efficientnet-lite0-sex + efficientnet-lite0-sex"
    assert describe_architecture("ensemble", mixed, 448) == (
        "efficientnet-lite0-sex 448 px + efficientnet-lite0-sex 384 px"
    )
    assert describe_architecture("efficientnet-lite0-sex", {}, 448) == "efficientnet-lite0-sex"


def test_float16_weights_are_half_the_size_and_measured_as_stored(
    members, kaggle_dataset: Path, tmp_path: Path
):
    args = ["--data", str(kaggle_dataset), *TINY, "--epochs", "0", "--ensemble-of", *map(str, members)]
    assert main([*args, "--out", str(tmp_path / "f32")]) == 0
    assert main([*args, "--weights-dtype", "float16", "--out", str(tmp_path / "f16")]) == 0
    f32, f16 = _weights(tmp_path / "f32"), _weights(tmp_path / "f16")
    assert f16.stat().st_size < 0.55 * f32.stat().st_size
    with safe_open(str(f16), "pt") as stored:
        dtypes = {name: stored.get_tensor(name).dtype for name in stored.keys()}  # noqa: SIM118
    assert dtypes["members.0.head.1.weight"] == torch.float16
    assert dtypes["members.1.backbone.conv_stem.weight"] == torch.float16
    assert dtypes["members.0.target_mean"] == torch.float32  # scalars shift every prediction: kept exact

    manifest = json.loads((tmp_path / "f16" / "manifest.json").read_text())
    assert manifest["training"]["weights_dtype"] == "float16"
    predictor = Predictor.load(explicit=tmp_path / "f16")
    assert next(predictor.model.parameters()).dtype == torch.float32  # loaded back as float32
    split = json.loads((tmp_path / "f16" / "split.json").read_text())
    samples = {s.id: s for s in read_samples(kaggle_dataset)}
    errors = [
        predictor.analyse(samples[i].path, samples[i].male, 100).bone_age_months - samples[i].boneage
        for i in split["val"]
    ]
    assert float(np.mean(np.abs(errors))) == pytest.approx(manifest["metrics"]["val_mae_months"], abs=0.5)


def test_stored_state_rounds_only_float_tensors_with_more_than_one_value():
    model = create_model("seed-cnn", input_size=32)
    state = stored_state(model, "float16")
    assert state["features.0.weight"].dtype == torch.float16
    assert state["target_mean"].dtype == torch.float32
    assert stored_state(model)["features.0.weight"].dtype == torch.float32
    with pytest.raises(KeyError):
        stored_state(model, "int8")


def test_a_member_from_another_chain_is_refused(members, kaggle_dataset: Path, tmp_path: Path, capsys):
    """The app runs one chain per upload: a member that learnt from another one would be misread."""
    common = ["--data", str(kaggle_dataset), *TINY]
    assert main([*common, "--epochs", "1", "--sharpen", "0", "--out", str(tmp_path / "plain")]) == 0
    other = _weights(tmp_path / "plain")
    args = [*common, "--epochs", "0", "--ensemble-of", str(members[0]), str(other)]
    assert main([*args, "--out", str(tmp_path / "mixed")]) == 2
    error = capsys.readouterr().err
    assert "another chain" in error and "sharpen_amount" in error
    assert not (tmp_path / "mixed" / "manifest.json").exists()


def test_a_member_trained_on_this_runs_validation_images_is_refused(
    members, kaggle_dataset: Path, tmp_path: Path, capsys
):
    args = ["--data", str(kaggle_dataset), *TINY, "--epochs", "0", "--seed", "7"]
    assert main([*args, "--ensemble-of", *map(str, members), "--out", str(tmp_path / "leak")]) == 2
    assert "validation images" in capsys.readouterr().err


def test_a_member_without_its_manifest_is_refused(members, kaggle_dataset: Path, tmp_path: Path, capsys):
    lone = tmp_path / "lone.safetensors"
    lone.write_bytes(members[0].read_bytes())
    args = ["--data", str(kaggle_dataset), *TINY, "--epochs", "0", "--out", str(tmp_path / "out")]
    assert main([*args, "--ensemble-of", str(members[0]), str(lone)]) == 2
    assert "No manifest.json beside" in capsys.readouterr().err


PAIR = ("a.safetensors", "b.safetensors")


@pytest.mark.parametrize(
    "extra, fields, message",
    [
        (["--ensemble-of", *PAIR, "--epochs", "3"], {"ensemble_of": PAIR, "epochs": 3}, "--epochs 0"),
        (
            ["--arch", "ensemble", "--epochs", "0", "--init-from", PAIR[0]],
            {"architecture": "ensemble", "epochs": 0, "init_from": PAIR[0]},
            "--ensemble-of",
        ),
        (["--epochs", "0"], {"epochs": 0}, "give --init-from"),
    ],
)
def test_an_ensemble_is_assembled_never_trained(
    extra, fields, message, kaggle_dataset: Path, tmp_path: Path, capsys
):
    """The command line and the library refuse the same runs, in the same words."""
    with pytest.raises(SystemExit):
        parse_args(["--data", str(kaggle_dataset), *extra])
    assert message in capsys.readouterr().err

    runnable = parse_args(["--data", str(kaggle_dataset), "--out", str(tmp_path), *TINY, "--epochs", "1"])
    with pytest.raises(ValueError, match=message):
        train(replace(runnable, **fields))
    assert not (tmp_path / "manifest.json").exists()


def test_an_ensemble_needs_two_members():
    with pytest.raises(ValueError, match="two members"):
        create_model("ensemble", members=[SEED_CNN])


def test_an_ensembles_heatmap_is_the_mean_of_its_members_maps():
    torch.manual_seed(0)
    ensemble = create_model("ensemble", members=[SEED_CNN, SEED_CNN]).eval()
    assert isinstance(ensemble, BoneAgeEnsemble)
    image = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    heat = grad_cam(ensemble, image, male=True)
    maps = [grad_cam(member, image, male=True) for member in ensemble.members]
    assert heat.shape == (32, 32) and heat.max() == pytest.approx(1.0)
    mean = np.mean(maps, axis=0)
    np.testing.assert_allclose(heat, mean / mean.max(), atol=1e-6)
