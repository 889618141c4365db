"""Training: the code behind ``train.py``.

Reproducible (fixed seed, deterministic split and augmentation), resumable (a checkpoint after
every epoch; ``resume=True`` continues from it and ends with the same weights as a straight
run), scalable (CUDA with bfloat16 autocast; several GPUs or CPU processes through ``torchrun``
and DistributedDataParallel) and honest: the weights written are those of the epoch with the
best validation MAE, and the manifest records that MAE, the data, the command and the commit.
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import subprocess
import time
import warnings
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from boneage.chain.preprocess import PreprocessConfig
from boneage.chain.source import SourceTransform
from boneage.chain.views import TTA_VIEWS
from boneage.model.architectures import BoneAgeRegressor, create_model
from boneage.training.data import (
    CachedImages,
    Sample,
    build_cache,
    find_dataset,
    read_samples,
    split_samples,
)
from boneage.training.evaluation import Evaluation, evaluate_samples, evaluation_report, format_table
from boneage.weights import Manifest, save_weights, sha256_of

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class TrainConfig:
    data_dir: Path
    out_dir: Path = Path("runs/latest")
    architecture: str = "efficientnet-b0-sex"
    architecture_kwargs: dict = field(default_factory=dict)
    pretrained: bool = False  # ImageNet weights for the backbone (boneage.training.pretrained)
    # Start from a trained model instead: a checkpoint.pt (its best epoch) or a .safetensors file.
    init_from: Path | None = None
    image_size: int = 384
    source_transform: SourceTransform | None = None  # how the training images were formed
    crop_to_hand: bool = True
    mask_background: bool = True
    # The chain the app serves: the U-Net outline and gate, pose correction, the exposure check.
    segmenter: str = "unet"
    correct_pose: bool = True
    max_saturated_fraction: float | None = 0.1
    augmentation: str = "moderate"  # see boneage.training.data.AUGMENTATIONS
    tta: str = "none"  # test-time views the manifest asks the predictor for (boneage.chain.views.TTA_VIEWS)
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.15
    seed: int = 42
    workers: int = 2
    limit: int | None = None
    cache_dir: Path | None = None
    device: str = "auto"
    resume: bool = False
    stop_after: int | None = None  # end (checkpointed) after this many epochs: for tests and budgets
    # Seconds from the start of train() the epochs must end by: after the first epoch the schedule
    # is shortened to the epochs that fit (a lent GPU's call limit), never lengthened.
    time_budget_s: float | None = None
    reframe_eval: bool = False  # also measure validation images cropped tight / with a border
    external_eval: Path | None = None
    name: str | None = None
    version: str = "0.1.0"
    dataset_name: str | None = None  # default: the data folder and its label file
    command: str | None = None  # the command line that ran this, for the manifest

    def preprocess_config(self) -> PreprocessConfig:
        return PreprocessConfig(
            size=self.image_size,
            source_transform=self.source_transform,
            crop_to_hand=self.crop_to_hand,
            mask_background=self.mask_background,
            segmenter=self.segmenter,
            correct_pose=self.correct_pose and self.segmenter == "unet",
            max_saturated_fraction=self.max_saturated_fraction,
        )


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass(frozen=True)
class Distributed:
    """Where this process stands in a torchrun job (a single process is rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()


def init_distributed(device: torch.device) -> Distributed:
    """Join the process group torchrun set up (WORLD_SIZE > 1); gloo on CPU, NCCL on GPUs."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Distributed(dist.get_rank(), dist.get_world_size())


def load_initial_weights(model: BoneAgeRegressor, path: Path) -> dict:
    """Load a trained model's weights into ``model``; returns where they came from, for the manifest.

    A ``checkpoint.pt`` gives its best epoch so far (a run stopped with ``--stop-after`` or by a
    time limit); a ``.safetensors`` file gives a shipped model, and the ``manifest.json`` beside
    it (if any) says how that model was trained. Architecture and input must match.
    """
    path = Path(path)
    source: dict = {"path": str(path), "sha256": sha256_of(path)}
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(path)
    else:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        state = payload.get("best_state") or payload["model"]
        source.update({"after_epoch": int(payload["epoch"]), "best_epoch": int(payload["best_epoch"])})
        source["best_val_mae_months"] = round(float(payload["best_mae"]), 3)
    model.load_state_dict(state)
    beside = path.parent / "manifest.json"
    if path.suffix == ".safetensors" and beside.is_file():
        earlier = json.loads(beside.read_text())
        if earlier.get("filename") == path.name:
            source["training"] = earlier.get("training")
            source["val_mae_months"] = earlier.get("metrics", {}).get("val_mae_months")
    return source


@torch.inference_mode()
def evaluate(model: BoneAgeRegressor, loader: DataLoader, device: torch.device) -> Evaluation:
    model.eval()
    predicted, target, male = [], [], []
    for images, sex, age in loader:
        # The layout the model was moved to (channels-last), as in training.
        images = images.to(device, memory_format=torch.channels_last)
        predicted.append(model(images, sex.to(device)).float().cpu())
        target.append(age)
        male.append(sex > 0.5)
    return Evaluation(torch.cat(predicted).numpy(), torch.cat(target).numpy(), torch.cat(male).numpy())


def one_cycle(optimiser: torch.optim.Optimizer, max_lr: float, total_steps: int):
    """One-cycle schedule (10% warm-up, cosine down); still valid for runs of a few steps.

    ``OneCycleLR`` divides by the length of each phase and fails when the warm-up is exactly one
    step long (e.g. 10 steps with 10% warm-up): short runs get a warm-up of at least two steps,
    and runs under four steps a constant learning rate.
    """
    if total_steps < 4:
        for group in optimiser.param_groups:
            group["lr"] = group["initial_lr"] = max_lr  # LambdaLR scales initial_lr when one is set
        return torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1.0)
    return torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=max_lr, total_steps=total_steps, pct_start=max(0.1, 2.0 / total_steps)
    )


def epochs_that_fit(budget_s: float, elapsed_s: float, epoch_s: float, done: int, planned: int) -> int:
    """How many epochs in all fit a time budget, given the time already spent and one epoch's time.

    At least the epochs already done and never more than planned: a budget only shortens a run.
    """
    more = math.floor(max(0.0, budget_s - elapsed_s) / max(epoch_s, 1e-9))
    return max(done, min(planned, done + more))


def steady_epoch_s(step_starts: list[float], steps_ended: float, val_s: float) -> float:
    """The time of a later epoch, judged from the first: its steps after the first fifth, plus validation.

    The first steps of a GPU run carry one-off costs (kernel selection, loader workers starting,
    the cache paging in): on an H100 the first epoch took 32 s and the later ones 9 s.
    """
    steps = len(step_starts)
    skip = steps // 5
    if steps < 5:
        return steps_ended - (step_starts[0] if step_starts else steps_ended) + val_s
    return (steps_ended - step_starts[skip]) / (steps - skip) * steps + val_s


def refit_schedule(optimiser: torch.optim.Optimizer, max_lr: float, total_steps: int, steps_done: int):
    """A one-cycle schedule over ``total_steps``, already advanced by ``steps_done`` steps."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "scheduler.step() before optimizer.step()"
        scheduler = one_cycle(optimiser, max_lr, total_steps)
        for _ in range(steps_done):
            scheduler.step()
    return scheduler


def _train_loader(dataset: CachedImages, config: TrainConfig, epoch: int, world: Distributed) -> DataLoader:
    """A loader whose order depends only on (seed, epoch): resuming replays the same batches."""
    per_process = max(1, config.batch_size // world.world_size)
    drop_last = len(dataset) > config.batch_size
    if world.world_size > 1:
        sampler = DistributedSampler(dataset, shuffle=True, seed=config.seed, drop_last=drop_last)
        sampler.set_epoch(epoch)
        return DataLoader(
            dataset, batch_size=per_process, sampler=sampler, num_workers=config.workers, drop_last=drop_last
        )
    generator = torch.Generator().manual_seed(config.seed * 1000 + epoch)
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=True,
        generator=generator,
        num_workers=config.workers,
        drop_last=drop_last,
    )


def train(config: TrainConfig) -> dict:
    """Train, keep the best epoch, write weights + manifest + report into ``config.out_dir``."""
    started = time.time()
    if config.epochs == 0 and config.init_from is None:
        raise ValueError(
            "--epochs 0 evaluates and writes the weights given with --init-from; none were given"
        )
    seed_everything(config.seed)
    device = pick_device(config.device)
    world = init_distributed(device)
    if world.world_size > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    preprocess_config = config.preprocess_config()

    samples = read_samples(config.data_dir)
    if config.limit:
        samples = samples[: config.limit]
    cache_dir = Path(config.cache_dir or out_dir / "cache")
    # One process preprocesses; the others then read its cache from disk.
    cache = (
        build_cache(samples, preprocess_config, cache_dir, workers=max(1, config.workers))
        if world.is_main
        else None
    )
    world.barrier()
    cache = cache or build_cache(samples, preprocess_config, cache_dir, workers=max(1, config.workers))
    usable = [s for s, good in zip(samples, cache.ok, strict=True) if good]
    index_of = {id(s): i for i, s in enumerate(samples)}
    train_set, val_set = split_samples(usable, config.val_fraction, config.seed)
    train_idx = [index_of[id(s)] for s in train_set]
    val_idx = [index_of[id(s)] for s in val_set]
    if world.is_main:
        tqdm.write(
            f"{len(train_idx)} training / {len(val_idx)} validation images, {len(cache.refused)} refused, "
            f"on {device} x {world.world_size}"
        )

    ages = np.array([s.boneage for s in train_set])
    model = create_model(
        config.architecture,
        **config.architecture_kwargs,
        **_input_kwargs(config),
        target_mean=float(ages.mean()),
        target_std=float(max(ages.std(), 1.0)),
    )
    if config.pretrained:
        from boneage.training.pretrained import load_imagenet_weights

        load_imagenet_weights(model.backbone, model.backbone_name)
    init_source = load_initial_weights(model, config.init_from) if config.init_from else None
    # channels-last halves a CPU training step of these convnets (and suits GPU tensor cores).
    model = model.to(device, memory_format=torch.channels_last)
    network = torch.nn.parallel.DistributedDataParallel(model) if world.world_size > 1 else model
    train_data = CachedImages(
        cache.images, samples, train_idx, augment=True, seed=config.seed, strength=config.augmentation
    )
    val_loader = DataLoader(
        CachedImages(cache.images, samples, val_idx, augment=False), batch_size=max(config.batch_size, 64)
    )
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = len(_train_loader(train_data, config, 0, world))
    scheduler = one_cycle(optimiser, config.lr, config.epochs * steps_per_epoch)

    state = TrainingState(planned_epochs=config.epochs)
    checkpoint_path = out_dir / CHECKPOINT_NAME
    if config.resume and checkpoint_path.is_file():
        # The scheduler's state carries its length: a schedule shortened by a budget stays so.
        state = load_checkpoint(checkpoint_path, model, optimiser, scheduler)
        if world.is_main:
            tqdm.write(f"resumed after epoch {state.epoch} (best val MAE {state.best_mae:.2f} months)")
    state.planned_epochs = state.planned_epochs or config.epochs
    autocast = device.type == "cuda"
    epochs = tqdm(
        total=state.planned_epochs,
        desc="epochs",
        unit="epoch",
        initial=state.epoch,
        disable=not world.is_main,
    )
    while state.epoch < _last_epoch(state, config):
        epoch = state.epoch + 1
        torch.manual_seed(config.seed * 1000 + epoch + world.rank)  # dropout / drop-path
        train_data.epoch = epoch
        epoch_started = time.time()
        network.train()
        losses = []
        batches = tqdm(
            _train_loader(train_data, config, epoch, world),
            desc=f"epoch {epoch}",
            leave=False,
            unit="batch",
            disable=not world.is_main,
        )
        step_times = []
        for batch, sex, age in batches:
            step_times.append(time.time())
            batch = batch.to(device, memory_format=torch.channels_last)
            sex, age = sex.to(device), age.to(device)
            target = (age - model.target_mean) / model.target_std
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                output = network.forward_standardised(batch, sex) if network is model else network(batch, sex)
            if network is not model:  # DDP returns months; standardise again for the loss
                output = (output - model.target_mean) / model.target_std
            loss = torch.nn.functional.l1_loss(output.float(), target)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            scheduler.step()
            losses.append(loss.item() * float(model.target_std))
            batches.set_postfix(l1=f"{np.mean(losses[-50:]):.1f}")
        trained = time.time()
        if world.is_main:
            val = evaluate(model, val_loader, device).metrics("val")
            state.history.append(
                {
                    "epoch": epoch,
                    "train_l1_months": float(np.mean(losses)),
                    **val,
                    "epoch_s": round(time.time() - epoch_started, 1),
                    "train_s": round(trained - epoch_started, 1),
                    "val_s": round(time.time() - trained, 1),
                }
            )
            tqdm.write(
                f"epoch {epoch}: train L1 {np.mean(losses):.2f} months, val MAE {val['val_mae_months']:.2f} months"
            )
            if val["val_mae_months"] < state.best_mae:
                state.best_mae, state.best_epoch = val["val_mae_months"], epoch
                state.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            state.epoch = epoch
            state.elapsed_s += time.time() - epoch_started
            if config.time_budget_s is not None and epoch == 1 and world.world_size == 1:
                later_s = steady_epoch_s(step_times, trained, state.history[-1]["val_s"])
                fit = epochs_that_fit(
                    config.time_budget_s, time.time() - started, later_s, 1, state.planned_epochs
                )
                if fit < state.planned_epochs:
                    tqdm.write(
                        f"time budget: the schedule is shortened to {fit} of {state.planned_epochs} epochs"
                    )
                    state.planned_epochs = fit
                    scheduler = refit_schedule(optimiser, config.lr, fit * steps_per_epoch, steps_per_epoch)
                    epochs.total = fit
            save_checkpoint(checkpoint_path, state, model, optimiser, scheduler)
        else:
            state.epoch = epoch
        epochs.update()
        world.barrier()
        if (
            config.time_budget_s is not None
            and state.epoch < state.planned_epochs
            and time.time() - started + state.history[-1]["epoch_s"] > config.time_budget_s
        ):
            tqdm.write(f"time budget: stopping after epoch {state.epoch}; --resume continues")
            break
    epochs.close()

    if not world.is_main:
        return {"worker_rank": world.rank}
    if state.epoch < state.planned_epochs:
        return {"stopped_after": state.epoch, "history": state.history}
    finished_epochs = time.time()  # epochs are counted in state.elapsed_s, across resumes
    if state.best_state is not None:  # with --epochs 0 the initial weights are written as they are
        model.load_state_dict(state.best_state)
    model = model.cpu().eval()
    evaluation = evaluate(model, val_loader, torch.device("cpu"))
    metrics = evaluation.metrics("val")
    fields_ = _manifest_fields(model.uses_sex, config, preprocess_config, metrics, train_set, val_set, device)
    fields_["training"]["epochs"] = state.planned_epochs
    if config.time_budget_s is not None:
        fields_["training"]["time_budget_s"] = config.time_budget_s
    fields_["interval"] = _calibrate_interval(evaluation)
    if init_source:
        fields_["training"]["init_from"] = init_source
    fields_["training"].update(
        {
            "best_epoch": state.best_epoch,
            "refused": len(cache.refused),
            "duration_s": round(state.elapsed_s + time.time() - finished_epochs, 1),
        }
    )
    # The app-path checks need only the manifest's settings; the file is written once, after them.
    extra = _evaluate_app_path(
        model, Manifest.from_dict({**fields_, "filename": "", "sha256": ""}), config, val_set
    )
    if extra:
        metrics.update(extra["metrics"])
        if extra.get("served") is not None:  # the interval must fit what the app serves (its TTA views)
            fields_["interval"] = _calibrate_interval(extra["served"])
    manifest = save_weights(model, out_dir, {**fields_, "metrics": metrics})
    split = {"train": [s.id for s in train_set], "val": [s.id for s in val_set]}
    (out_dir / "split.json").write_text(json.dumps(split, indent=1) + "\n")
    write_report(out_dir, manifest, state.history, evaluation, extra, cache.refused)
    return {"manifest": manifest, "metrics": metrics, "history": state.history}


def _calibrate_interval(evaluation: Evaluation, level: float = 0.9) -> dict:
    """Split-conformal interval from the validation predictions ({} when too few to calibrate)."""
    from boneage.meaning.interval import choose

    try:
        calibration = choose(evaluation.predicted, evaluation.target, level)["calibration"]
    except ValueError:  # an empty band on tiny validation sets
        return {}
    if not all(math.isfinite(w) for w in calibration.half_widths_months):
        return {}
    return calibration.to_dict()


@dataclass
class TrainingState:
    """What a checkpoint carries besides the model/optimiser/scheduler states."""

    epoch: int = 0
    best_mae: float = math.inf
    best_epoch: int = 0
    best_state: dict | None = None
    history: list[dict] = field(default_factory=list)
    elapsed_s: float = 0.0
    planned_epochs: int = 0  # the schedule's length: --epochs, or fewer when a time budget shortened it


def _last_epoch(state: TrainingState, config: TrainConfig) -> int:
    """The epoch this invocation ends after: the schedule's end, or --stop-after."""
    return state.planned_epochs if config.stop_after is None else min(state.planned_epochs, config.stop_after)


def save_checkpoint(path: Path, state: TrainingState, model, optimiser, scheduler) -> None:
    """Everything needed to continue bit for bit; written atomically (a killed run leaves the last one)."""
    payload = {
        "epoch": state.epoch,
        "best_mae": state.best_mae,
        "best_epoch": state.best_epoch,
        "best_state": state.best_state,
        "history": json.dumps(state.history),
        "elapsed_s": state.elapsed_s,
        "planned_epochs": state.planned_epochs,
        "model": model.state_dict(),
        "optimiser": optimiser.state_dict(),
        "scheduler": scheduler.state_dict(),
        "saved": time.time(),
    }
    partial = path.with_suffix(".partial")
    torch.save(payload, partial)
    partial.replace(path)


def load_checkpoint(path: Path, model, optimiser, scheduler) -> TrainingState:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(payload["model"])
    optimiser.load_state_dict(payload["optimiser"])
    scheduler.load_state_dict(payload["scheduler"])
    return TrainingState(
        epoch=int(payload["epoch"]),
        best_mae=float(payload["best_mae"]),
        best_epoch=int(payload["best_epoch"]),
        best_state=payload["best_state"],
        history=json.loads(payload["history"]),
        elapsed_s=float(payload.get("elapsed_s", 0.0)),
        planned_epochs=int(payload.get("planned_epochs", 0)),  # 0: from before budgets, use --epochs
    )


def _evaluate_app_path(model, manifest: Manifest, config: TrainConfig, val_set: list[Sample]) -> dict | None:
    """Validation reframed (tight crop, 15% border) and the external set, through the app's Predictor."""
    from boneage.predictor import Predictor

    if not (config.reframe_eval or config.external_eval or manifest.tta):
        return None
    predictor = Predictor(model, manifest, source="explicit")
    result: dict = {"metrics": {}, "reframed": {}, "external": None, "served": None}
    if manifest.tta:  # what the app will serve: the validation split through the TTA views
        served = evaluate_samples(predictor, val_set)
        result["metrics"].update(served.metrics("val_tta"))
        result["served"] = served
    if config.reframe_eval:
        report = evaluation_report(predictor, val_set, ("tight", "border"))
        for how, values in report["reframed"].items():
            result["metrics"].update(values["metrics"])
            result["reframed"][how] = values
    if config.external_eval:
        external = read_samples(config.external_eval)
        report = evaluation_report(predictor, external)
        result["external"] = report
        result["metrics"].update({k.replace("eval_", "external_"): v for k, v in report["metrics"].items()})
    return result


def _input_kwargs(config: TrainConfig) -> dict:
    return {"input_size": config.image_size} if config.architecture == "seed-cnn" else {}


def _describe_dataset(root: Path) -> str:
    csv_path, image_dir = find_dataset(root)
    return f"{Path(root).resolve().name} ({csv_path.name}, {image_dir.name}/)"


def _git_commit() -> str | None:
    """The checkout's commit; ``BONEAGE_GIT_COMMIT`` where the code travelled without ``.git``."""
    if os.environ.get("BONEAGE_GIT_COMMIT"):
        return os.environ["BONEAGE_GIT_COMMIT"]
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                check=True,
                cwd=Path(__file__).parent,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.CalledProcessError):
        return None


def _manifest_fields(
    uses_sex: bool, config, preprocess_config, metrics, train_set: list[Sample], val_set: list[Sample], device
) -> dict:
    kwargs = {**config.architecture_kwargs, **_input_kwargs(config)}
    return {
        "name": config.name or f"{config.architecture}-{config.image_size}",
        "version": config.version,
        "architecture": config.architecture,
        "architecture_kwargs": kwargs,
        "input_size": config.image_size,
        "uses_sex": uses_sex,
        "preprocess": preprocess_config.to_dict(),
        "metrics": metrics,
        "training": {
            "dataset": config.dataset_name or _describe_dataset(config.data_dir),
            "data_dir": str(config.data_dir),
            "n_train": len(train_set),
            "n_val": len(val_set),
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "seed": config.seed,
            "pretrained": "imagenet" if config.pretrained else None,
            "augmentation": config.augmentation,
            "device": str(device),
            "command": config.command,
            "git_commit": _git_commit(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "hub": None,
        "tta": TTA_VIEWS[config.tta],
    }


def write_report(
    out_dir: Path,
    manifest: Manifest,
    history: list[dict],
    val: Evaluation,
    extra: dict | None,
    refused: dict[str, str],
) -> None:
    """report.json, report.md and plots (predicted vs true, Bland-Altman, learning curve)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    axes[0].scatter(val.target, val.predicted, s=8, alpha=0.6, c=np.where(val.male, "tab:blue", "tab:red"))
    top = max(240.0, float(val.target.max()))
    axes[0].plot([0, top], [0, top], "k--", lw=1)
    axes[0].set(
        xlabel="true bone age (months)",
        ylabel="predicted (months)",
        title=f"validation: MAE {np.abs(val.errors).mean():.1f} months (blue boys, red girls)",
    )
    mean = (val.target + val.predicted) / 2
    bias, spread = val.errors.mean(), 1.96 * val.errors.std()
    axes[1].scatter(mean, val.errors, s=8, alpha=0.6)
    for y in (bias, bias - spread, bias + spread):
        axes[1].axhline(y, color="k", ls="--", lw=1)
    axes[1].set(
        xlabel="mean of true and predicted (months)", ylabel="predicted - true (months)", title="Bland-Altman"
    )
    epochs = [h["epoch"] for h in history]
    axes[2].plot(epochs, [h["train_l1_months"] for h in history], label="train L1")
    axes[2].plot(epochs, [h["val_mae_months"] for h in history], label="val MAE")
    axes[2].set(xlabel="epoch", ylabel="months", title="learning curve")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(out_dir / "evaluation.png", dpi=110)
    plt.close(fig)

    extra = extra or {}
    report = {
        "manifest": manifest.to_dict(),
        "history": history,
        "validation_table": val.table(),
        "reframed": extra.get("reframed", {}),
        "external": extra.get("external"),
        "refused": refused,
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    training = manifest.training
    lines = [
        f"# Training report: {manifest.name} {manifest.version}",
        "",
        f"- Data: {training['dataset']} ({training['n_train']} train / {training['n_val']} validation, "
        f"{len(refused)} refused by the chain and excluded, listed below)",
        f"- Architecture: {manifest.architecture} {manifest.architecture_kwargs}, input {manifest.input_size} px, "
        f"sex input: {manifest.uses_sex}, ImageNet start: {bool(training.get('pretrained'))}",
        f"- Epochs: {training['epochs']} (best {training.get('best_epoch')}), seed {training['seed']}, "
        f"device {training['device']}, {training['duration_s']} s",
        f"- Command: `{training.get('command')}`",
        "",
        "## Validation",
        "",
        format_table(val.table()),
        "",
    ]
    for how, values in report["reframed"].items():
        lines.append(
            f"- Validation reframed ({how}): MAE {values['metrics'].get(how + '_mae_months')} months"
        )
    if report["external"]:
        ext = report["external"]
        lines += ["", "## External check", "", format_table(ext["table"]), ""]
        lines += [f"- refused {k}: {v}" for k, v in ext["refused"].items()]
    lines += ["", "## All metrics", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in manifest.metrics.items()]
    lines += ["", "![evaluation](evaluation.png)", "", "## Excluded (refused by the chain)", ""]
    lines += [f"- {k}: {v}" for k, v in refused.items()] or ["- none"]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")


def config_to_dict(config: TrainConfig) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
