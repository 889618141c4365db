from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from boneage.chain.preprocess import Chain, PreprocessConfig, preprocess
from boneage.errors import DatasetError
from boneage.io.decode import load_radiograph
from boneage.predictor import Predictor
from boneage.training.data import find_dataset, read_samples, split_samples
from boneage.training.loop import regression_loss
from conftest import REPO_ROOT, SHARED_DATA
from helpers import write_kaggle_dataset
from train import main, parse_args


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
        "--segmenter",
        "classical",
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


TINY = ["--arch", "seed-cnn", "--size", "32", "--batch-size", "8", "--workers", "0", "--limit", "16"]
TINY += ["--segmenter", "classical"]  # drawn hands: the U-Net gate is for real radiographs


def _sha(out: Path) -> str:
    return json.loads((out / "manifest.json").read_text())["sha256"]


def test_resumed_run_ends_with_the_same_weights_as_a_straight_run(kaggle_dataset: Path, tmp_path: Path):
    common = ["--data", str(kaggle_dataset), *TINY, "--epochs", "3"]
    assert main([*common, "--out", str(tmp_path / "straight")]) == 0
    interrupted = tmp_path / "interrupted"
    assert main([*common, "--out", str(interrupted), "--stop-after", "1"]) == 0
    assert not (interrupted / "manifest.json").exists() and (interrupted / "checkpoint.pt").is_file()
    assert main([*common, "--out", str(interrupted), "--resume"]) == 0
    assert _sha(interrupted) == _sha(tmp_path / "straight")
    history = json.loads((interrupted / "report.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]


def test_two_process_distributed_run(kaggle_dataset: Path, tmp_path: Path):
    """torchrun with two CPU processes (gloo): one manifest, trained on the whole training split."""
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += ["train.py", "--data", str(kaggle_dataset), *TINY, "--epochs", "2", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["n_train"] + manifest["training"]["n_val"] == 16
    assert np.isfinite(manifest["metrics"]["val_mae_months"])
    assert done.stdout.count("weights, manifest and report written") == 1  # only rank 0 writes


def test_download_uses_kagglehub_and_finds_the_kaggle_layout(monkeypatch, tmp_path: Path):
    """--download goes through kagglehub (faked here: no network) and finds the nested layout."""
    downloaded = tmp_path / "kagglehub-cache" / "versions" / "1"
    write_kaggle_dataset(downloaded / "rsna", count=3)
    calls = []

    def dataset_download(handle: str) -> str:
        calls.append(handle)
        return str(downloaded)

    monkeypatch.setitem(sys.modules, "kagglehub", types.SimpleNamespace(dataset_download=dataset_download))
    config = parse_args(["--download", "--out", str(tmp_path / "o")])
    assert calls == ["kmader/rsna-bone-age"] and config.data_dir == downloaded / "rsna"


def test_download_without_kagglehub_is_a_clear_error(monkeypatch, tmp_path: Path, capsys):
    monkeypatch.setitem(sys.modules, "kagglehub", None)
    assert main(["--download", "--out", str(tmp_path)]) == 2
    assert "pip install kagglehub" in capsys.readouterr().err


def test_training_on_real_rsna_images_with_imagenet_start(tmp_path: Path):
    """A couple of steps on 40 real rsna-train-100 radiographs, formed and cropped as shipped."""
    root = SHARED_DATA / "rsna-train-100"
    if not (root / "boneage-training-dataset.csv").is_file():
        pytest.skip("../shared/data/rsna-train-100 is not present")
    out = tmp_path / "real"
    args = ["--data", str(root), "--source-size", "100", "--arch", "efficientnet-lite0-sex", "--pretrained"]
    args += ["--size", "64", "--epochs", "1", "--batch-size", "16", "--workers", "0", "--limit", "40"]
    args += ["--no-mask", "--out", str(out)]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["pretrained"] == "imagenet"
    assert manifest["preprocess"]["source_transform"]["width"] == 100
    assert manifest["training"]["command"].startswith("python train.py --data")
    assert "## Excluded" in (out / "report.md").read_text()


def test_one_cycle_schedule_works_for_runs_of_a_few_steps():
    """OneCycleLR divided by zero when the warm-up was exactly one step (--limit 400 --epochs 2)."""
    import torch

    from boneage.training.schedule import one_cycle

    for total in range(1, 41):
        model = torch.nn.Linear(2, 1)
        optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
        scheduler = one_cycle(optimiser, 1e-3, total)
        rates = []
        for _ in range(total):
            optimiser.step()
            scheduler.step()
            rates.append(optimiser.param_groups[0]["lr"])
        assert all(0 <= r <= 1e-3 + 1e-12 for r in rates), total


def test_epochs_that_fit_a_time_budget():
    from boneage.training.schedule import epochs_that_fit

    assert epochs_that_fit(600, elapsed_s=100, epoch_s=10, done=1, planned=30) == 30  # room for all
    assert epochs_that_fit(300, elapsed_s=100, epoch_s=10, done=1, planned=30) == 21
    assert epochs_that_fit(50, elapsed_s=100, epoch_s=10, done=1, planned=30) == 1  # over already
    assert epochs_that_fit(1e9, elapsed_s=0, epoch_s=0, done=1, planned=5) == 5  # never lengthened


def test_steady_epoch_time_leaves_out_the_slow_first_steps():
    from boneage.training.schedule import steady_epoch_s

    starts = [0.0, 20.0] + [20.0 + i for i in range(1, 9)]  # one 20 s warm-up step, then 1 s steps
    assert steady_epoch_s(starts, steps_ended=29.0, val_s=2.0) == pytest.approx(10 * 1.0 + 2.0)
    assert steady_epoch_s([0.0, 1.0], steps_ended=2.0, val_s=0.5) == pytest.approx(2.5)  # too few to skip


def test_refit_schedule_continues_where_the_old_one_stands_and_anneals_to_zero():
    import torch

    from boneage.training.schedule import one_cycle, refit_schedule

    def rates(scheduler, optimiser, steps):
        out = []
        for _ in range(steps):
            optimiser.step()
            scheduler.step()
            out.append(optimiser.param_groups[0]["lr"])
        return out

    model = torch.nn.Linear(2, 1)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rates(one_cycle(optimiser, 1e-3, 100), optimiser, 10)  # 10 steps of a 100-step plan
    shortened = rates(refit_schedule(optimiser, 1e-3, 40, 10), optimiser, 30)
    reference_optimiser = torch.optim.AdamW(torch.nn.Linear(2, 1).parameters(), lr=1e-3)
    reference = rates(one_cycle(reference_optimiser, 1e-3, 40), reference_optimiser, 40)
    assert shortened == pytest.approx(reference[10:])
    assert shortened[-1] < 1e-5  # 1% of the peak: a shortened run still ends annealed


def test_time_budget_shortens_the_schedule_and_the_run_still_finishes(kaggle_dataset: Path, tmp_path: Path):
    """A budget spent by the first epoch: the run ends after it, with weights, and the manifest says so."""
    import torch

    args = ["--data", str(kaggle_dataset), *TINY, "--batch-size", "2", "--epochs", "4"]
    args += ["--time-budget", "0.01", "--out", str(tmp_path)]
    assert main(args) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["training"]["epochs"] == 1 and manifest["training"]["time_budget_s"] == 0.01
    history = json.loads((tmp_path / "report.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1]
    assert history[0]["train_s"] + history[0]["val_s"] <= history[0]["epoch_s"] + 0.1
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert checkpoint["planned_epochs"] == 1
    steps_per_epoch = manifest["training"]["n_train"] // 2
    assert checkpoint["scheduler"]["total_steps"] == steps_per_epoch  # the one-cycle ran its whole course


def test_short_run_whose_warm_up_is_one_step(kaggle_dataset: Path, tmp_path: Path):
    """10 steps in all (5 per epoch, 2 epochs): the case that crashed with ZeroDivisionError."""
    args = ["--data", str(kaggle_dataset), "--arch", "seed-cnn", "--size", "32", "--workers", "0"]
    args += ["--segmenter", "classical", "--limit", "24", "--batch-size", "4", "--epochs", "2"]
    args += ["--val-fraction", "0.1", "--out", str(tmp_path)]
    assert main(args) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["training"]["n_train"] // 4 * 2 == 10


def test_init_from_a_stopped_run_and_from_shipped_weights(kaggle_dataset: Path, tmp_path: Path):
    """A second stage starts from the first one's best epoch (or a .safetensors file) and says so."""
    import torch
    from safetensors.torch import load_file

    from boneage.model.architectures import create_model
    from boneage.training.checkpoint import load_initial_weights

    common = ["--data", str(kaggle_dataset), *TINY]
    assert main([*common, "--epochs", "3", "--stop-after", "2", "--out", str(tmp_path / "stage1")]) == 0
    checkpoint = tmp_path / "stage1" / "checkpoint.pt"
    assert not (tmp_path / "stage1" / "manifest.json").exists()
    assert (
        main([*common, "--epochs", "1", "--init-from", str(checkpoint), "--out", str(tmp_path / "stage2")])
        == 0
    )
    source = json.loads((tmp_path / "stage2" / "manifest.json").read_text())["training"]["init_from"]
    assert source["after_epoch"] == 2 and source["path"] == str(checkpoint) and len(source["sha256"]) == 64

    payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model = create_model("seed-cnn", input_size=32)
    load_initial_weights(model, checkpoint)
    for key, value in payload["best_state"].items():
        assert torch.equal(model.state_dict()[key], value)

    stage2 = tmp_path / "stage2"
    weights_file = stage2 / json.loads((stage2 / "manifest.json").read_text())["filename"]
    fresh = create_model("seed-cnn", input_size=32)
    assert load_initial_weights(fresh, weights_file)["path"] == str(weights_file)
    for key, value in load_file(weights_file).items():
        assert torch.equal(fresh.state_dict()[key], value)


def test_a_start_trained_on_this_runs_validation_images_is_refused(
    kaggle_dataset: Path, tmp_path: Path, capsys
):
    """Another seed gives another split: its weights learnt from some of this run's validation
    images, so fine-tuning from them would flatter the validation MAE. Same split (the same seed,
    or another seed with the same --split-seed): accepted."""
    common = ["--data", str(kaggle_dataset), *TINY, "--val-fraction", "0.25"]
    assert main([*common, "--epochs", "2", "--stop-after", "1", "--out", str(tmp_path / "a")]) == 0
    start = tmp_path / "a" / "checkpoint.pt"
    theirs = json.loads((tmp_path / "a" / "split.json").read_text())  # written before the first epoch

    assert (
        main(
            [*common, "--epochs", "1", "--seed", "7", "--init-from", str(start), "--out", str(tmp_path / "b")]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert "were trained on" in error and "validation images" in error
    assert not (tmp_path / "b" / "manifest.json").exists()

    assert main([*common, "--epochs", "1", "--init-from", str(start), "--out", str(tmp_path / "c")]) == 0
    ours = json.loads((tmp_path / "c" / "split.json").read_text())
    assert ours == theirs
    source = json.loads((tmp_path / "c" / "manifest.json").read_text())["training"]["init_from"]
    assert source["val_images_seen"] == 0

    # Another seed for the weights, the same seed for the split: the split is theirs again.
    other = [*common, "--epochs", "1", "--seed", "7", "--split-seed", "42", "--init-from", str(start)]
    assert main([*other, "--out", str(tmp_path / "d")]) == 0
    assert json.loads((tmp_path / "d" / "split.json").read_text()) == theirs
    training = json.loads((tmp_path / "d" / "manifest.json").read_text())["training"]
    assert (training["seed"], training["split_seed"]) == (7, 42)


def test_a_recorded_split_is_kept_whatever_the_seeds(kaggle_dataset: Path, tmp_path: Path, capsys):
    """--split keeps a run's split.json: a changed gate would otherwise redraw the split, since
    it is drawn from the films the chain accepts. Films the record never placed are left out."""
    common = ["--data", str(kaggle_dataset), *TINY, "--val-fraction", "0.25", "--epochs", "1"]
    assert main([*common, "--out", str(tmp_path / "a")]) == 0
    recorded = json.loads((tmp_path / "a" / "split.json").read_text())
    fewer = {"train": recorded["train"][1:], "val": recorded["val"]}  # one film never placed
    (tmp_path / "fewer.json").write_text(json.dumps(fewer))
    capsys.readouterr()

    kept = [*common, "--seed", "7", "--split", str(tmp_path / "fewer.json"), "--out", str(tmp_path / "b")]
    assert main(kept) == 0
    assert json.loads((tmp_path / "b" / "split.json").read_text()) == fewer
    assert "1 accepted image(s) are in neither part" in capsys.readouterr().out
    training = json.loads((tmp_path / "b" / "manifest.json").read_text())["training"]
    assert training["split_file"].endswith("fewer.json")

    both = [
        *common,
        "--split",
        str(tmp_path / "fewer.json"),
        "--split-seed",
        "1",
        "--out",
        str(tmp_path / "c"),
    ]
    with pytest.raises(SystemExit):  # a usage error: one of the two, not both
        main(both)


def test_zero_epochs_writes_the_given_weights_with_this_runs_serving_checks(
    kaggle_dataset: Path, tmp_path: Path
):
    """A GPU run's weights re-measured here with TTA: same weights, same validation, provenance kept."""
    common = ["--data", str(kaggle_dataset), *TINY]
    assert main([*common, "--epochs", "2", "--out", str(tmp_path / "gpu")]) == 0
    first = json.loads((tmp_path / "gpu" / "manifest.json").read_text())
    weights_file = tmp_path / "gpu" / first["filename"]
    assert (
        main(
            [
                *common,
                "--epochs",
                "0",
                "--init-from",
                str(weights_file),
                "--tta",
                "zoom",
                "--out",
                str(tmp_path / "cpu"),
            ]
        )
        == 0
    )
    second = json.loads((tmp_path / "cpu" / "manifest.json").read_text())
    assert second["sha256"] == first["sha256"]
    assert second["metrics"]["val_mae_months"] == pytest.approx(first["metrics"]["val_mae_months"], abs=1e-3)
    assert "val_tta_mae_months" in second["metrics"] and second["tta"]
    source = second["training"]["init_from"]
    assert source["training"]["command"] == first["training"]["command"] and source["training"]["epochs"] == 2
    assert second["training"]["epochs"] == 0


def test_zero_epochs_without_weights_to_start_from_is_refused(kaggle_dataset: Path, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--data", str(kaggle_dataset), "--epochs", "0"])
    assert "--init-from" in capsys.readouterr().err


def test_tta_run_measures_the_served_predictions(kaggle_dataset: Path, tmp_path: Path):
    """With --tta, the validation split is also measured as the app serves it (its views)."""
    args = ["--data", str(kaggle_dataset), *TINY, "--epochs", "1", "--tta", "zoom", "--out", str(tmp_path)]
    assert main(args) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert len(manifest["tta"]) == 3
    metrics = manifest["metrics"]
    assert metrics["val_tta_n"] + metrics["val_tta_refused"] == metrics["val_n"]
    assert metrics["val_tta_mae_months"] >= 0 and metrics["val_tta_mae_months"] != metrics["val_mae_months"]
    report = json.loads((tmp_path / "report.json").read_text())
    served_all = report["served_validation_table"][0]
    assert served_all["n"] == metrics["val_tta_n"]
    assert served_all["mae_months"] == pytest.approx(metrics["val_tta_mae_months"], abs=0.01)
    text = (tmp_path / "report.md").read_text()
    assert text.index("## Validation, as served") < text.index("## Validation, the image as is")


def test_chain_detail_settings_reach_the_manifest_and_the_served_chain(kaggle_dataset: Path, tmp_path: Path):
    """--median-kernel / --sharpen change the one chain: recorded in the manifest, repeated by the app."""
    out = tmp_path / "raw"
    args = ["--data", str(kaggle_dataset), *TINY, "--epochs", "1", "--median-kernel", "1", "--sharpen", "0"]
    assert main([*args, "--out", str(out)]) == 0
    chain = json.loads((out / "manifest.json").read_text())["preprocess"]
    assert chain["median_kernel"] == 1 and chain["sharpen_amount"] == 0

    predictor = Predictor.load(explicit=out)
    pixels = load_radiograph(read_samples(kaggle_dataset)[0].path).pixels
    served = preprocess(pixels, predictor.chain).image
    default_chain = Chain.load(
        replace(
            predictor.preprocess_config,
            median_kernel=PreprocessConfig.median_kernel,
            sharpen_amount=PreprocessConfig.sharpen_amount,
        )
    )
    assert np.abs(served - preprocess(pixels, default_chain).image).mean() > 1e-3
    assert parse_args(["--data", str(kaggle_dataset)]).preprocess.median_kernel == 3


def test_an_even_median_kernel_is_refused_before_training(kaggle_dataset: Path, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--data", str(kaggle_dataset), "--median-kernel", "4"])
    assert "must be odd" in capsys.readouterr().err


def test_smooth_l1_pulls_less_on_small_errors_and_like_l1_on_large_ones():
    target = torch.zeros(4)
    small, large = torch.full((4,), 0.05), torch.full((4,), 2.0)
    assert regression_loss("smooth-l1", small, target, beta=0.2) < regression_loss(
        "l1", small, target, beta=0.2
    )
    assert regression_loss("smooth-l1", large, target, beta=0.2).item() == pytest.approx(2.0 - 0.1)
    with pytest.raises(ValueError, match="smooth-l1"):
        regression_loss("l2", small, target, beta=0.2)


def test_the_loss_is_recorded_in_the_manifest(kaggle_dataset: Path, tmp_path: Path):
    args = ["--data", str(kaggle_dataset), *TINY, "--epochs", "1", "--loss", "smooth-l1"]
    assert main([*args, "--smooth-l1-beta", "4", "--out", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["training"]["loss"] == "smooth-l1" and manifest["training"]["smooth_l1_beta_months"] == 4


def test_degraded_copies_degrade_as_the_quality_curves_measure():
    from boneage.chain.quality import noise_grey_levels
    from boneage.training.degrade import RANGES, Degradation, apply, draw

    ramp = np.tile(np.linspace(0.2, 0.8, 299, dtype=np.float32), (299, 1))
    assert noise_grey_levels(apply(ramp, Degradation("noise", 6))) == pytest.approx(6, rel=0.15)
    assert apply(ramp, Degradation("shrink", 150)).shape == (150, 150)
    compressed = apply(ramp + 0.05 * (np.indices(ramp.shape).sum(0) % 7 == 0), Degradation("jpeg", 20))
    assert compressed.shape == ramp.shape and np.abs(compressed - ramp).max() > 0.02
    rng = np.random.default_rng(0)
    drawn = [draw(rng) for _ in range(60)]
    assert {d.kind for d in drawn} == {"noise", "jpeg", "shrink"}
    assert all(RANGES[d.kind][0] <= d.level <= RANGES[d.kind][1] for d in drawn)
    assert all(Degradation.parse(str(d)) == d for d in drawn)
    with pytest.raises(ValueError):
        Degradation.parse("blur:3")


def test_a_run_with_degraded_copies_learns_from_twice_the_films_and_validates_on_clean_ones(
    kaggle_dataset: Path, tmp_path: Path
):
    from boneage.training.degrade import degraded_copies
    from boneage.training.loop import Distributed, TrainConfig, prepare_data

    config = parse_args(["--data", str(kaggle_dataset), *TINY, "--degraded-copies", "--out", str(tmp_path)])
    assert isinstance(config, TrainConfig) and config.degraded_copies
    world = Distributed()
    plain = prepare_data(replace(config, degraded_copies=False), tmp_path, world)
    data = prepare_data(config, tmp_path, world)
    assert data.val_idx == plain.val_idx and data.train_set == plain.train_set
    added = len(data.train_idx) - len(plain.train_idx)
    assert 0.7 * len(plain.train_idx) <= added <= len(plain.train_idx)
    assert len(data.cache.images) == len(data.samples) == len(plain.samples) + added
    copies = data.samples[len(plain.samples) :]
    assert all(s.degradation and s.id.startswith(s.id.split("~")[0]) for s in copies)
    assert [c.id for c in degraded_copies(plain.train_set, config.seed)][:3] == [c.id for c in copies][:3]
    assert not np.array_equal(data.cache.images[data.train_idx[-1]], plain.cache.images[0])
    assert (
        main(
            [
                "--data",
                str(kaggle_dataset),
                *TINY,
                "--epochs",
                "1",
                "--degraded-copies",
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["training"]["degraded_copies"] == "one per training film"
