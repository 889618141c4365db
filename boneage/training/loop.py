"""Training: the code behind ``train.py``.

Reproducible (fixed seed, deterministic split and augmentation), resumable (a checkpoint after
every epoch; ``resume=True`` continues from it and ends with the same weights as a straight
run), scalable (CUDA with bfloat16 autocast; several GPUs or CPU processes through ``torchrun``
and DistributedDataParallel) and honest: the weights written are those of the epoch with the
best validation MAE, and the manifest records that MAE, the data, the command and the commit.
"""

from __future__ import annotations

import math
import os
import platform
import random
import subprocess
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from boneage.chain.config import setting
from boneage.chain.preprocess import PreprocessConfig
from boneage.chain.views import TTA_VIEWS
from boneage.model.architectures import BoneAgeRegressor, create_model, list_models
from boneage.training.checkpoint import (
    CHECKPOINT_NAME,
    SPLIT_NAME,
    TrainingState,
    check_validation_unseen,
    load_checkpoint,
    load_initial_weights,
    read_split,
    save_checkpoint,
    write_split,
)
from boneage.training.data import (
    AUGMENTATIONS,
    Cache,
    CachedImages,
    Sample,
    build_cache,
    find_dataset,
    read_samples,
    split_from_record,
    split_samples,
)
from boneage.training.degrade import degraded_copies
from boneage.training.evaluation import Evaluation, evaluate_samples, evaluation_report
from boneage.training.run_report import write_report
from boneage.training.schedule import epochs_that_fit, one_cycle, refit_schedule, steady_epoch_s
from boneage.weights import WEIGHT_DTYPES, Manifest, save_weights, stored_state

LOSSES = ("l1", "smooth-l1")


@dataclass
class TrainConfig:
    """One training run. Fields with help text are ``train.py``'s options (boneage.training.options)."""

    data_dir: Path = setting(help="folder in the Kaggle layout", flag="--data", required=False)
    out_dir: Path = setting(Path("runs/latest"), help="where weights, manifest and report go", flag="--out")
    architecture: str = setting("efficientnet-b0-sex", help="network", flag="--arch", choices=list_models())
    architecture_kwargs: dict = field(default_factory=dict)  # train.py: --backbone
    pretrained: bool = setting(
        False, help="start the backbone from ImageNet weights (boneage.training.pretrained)"
    )
    init_from: Path | None = setting(
        None, help="start from a trained model: a checkpoint.pt (its best epoch) or a .safetensors file"
    )
    ensemble_of: tuple[Path, ...] = setting(
        (),
        help="assemble an ensemble of trained members (each with its manifest.json beside it); with "
        "--epochs 0 it is measured and written like one model. Members share the chain; one that "
        "learnt at another --size reads its output resized to its own",
        metavar="SAFETENSORS",
    )
    weights_dtype: str = setting(
        "float32",
        help="how the weights file stores floats (float16 halves it; measured as stored)",
        choices=sorted(WEIGHT_DTYPES),
    )
    # The chain the model learns through, as the app will serve it; train.py: --size, --segmenter,
    # --whole-image, --no-mask, --median-kernel, --sharpen, --source-size, --source-resample.
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    augmentation: str = setting(
        "moderate", help="augmentation strength", flag="--augment", choices=sorted(AUGMENTATIONS)
    )
    loss: str = setting("l1", help="training loss", choices=list(LOSSES))
    smooth_l1_beta_months: float = setting(
        6.0, help="where smooth L1 turns from squared to linear", flag="--smooth-l1-beta", metavar="MONTHS"
    )
    tta: str = setting("none", help="test-time views the manifest asks for", choices=list(TTA_VIEWS))
    epochs: int = setting(30, help="epochs")
    batch_size: int = setting(32, help="images per step")
    lr: float = setting(1e-3, help="peak learning rate of the one-cycle schedule")
    weight_decay: float = 1e-4
    val_fraction: float = setting(0.15, help="share of the images kept for validation")
    seed: int = setting(42, help="seed of the weights, augmentation and order")
    degraded_copies: bool = setting(
        False,
        help="learn also from one degraded copy of each training film (noise, JPEG or shrunk: "
        "boneage.training.degrade), made before the chain",
    )
    # Another ``seed`` with the same split gives a second network whose validation is comparable
    # and which an ensemble may join.
    split_seed: int | None = setting(
        None, help="seed of the validation split (default: --seed); keep it to compare runs"
    )
    split_file: Path | None = setting(
        None,
        help="keep the split a run recorded (e.g. weights/split.json) instead of drawing one",
        flag="--split",
        metavar="SPLIT_JSON",
    )
    workers: int = setting(2, help="processes that prepare the images")
    limit: int | None = setting(None, help="use only the first N images (quick runs)")
    cache_dir: Path | None = setting(
        None, help="preprocessed-image cache folder (default: OUT/cache)", flag="--cache"
    )
    device: str = setting("auto", help="auto, cpu or cuda")
    resume: bool = setting(False, help="continue from OUT/checkpoint.pt")
    stop_after: int | None = setting(None, help="stop (checkpointed) after this epoch; --resume continues")
    # After the first epoch the schedule is shortened to the epochs that fit, never lengthened.
    time_budget_s: float | None = setting(
        None,
        help="end the epochs within this many seconds of the start (a lent GPU's call limit)",
        flag="--time-budget",
        metavar="SECONDS",
    )
    reframe_eval: bool = setting(False, help="also evaluate re-framed validation images")
    external_eval: Path | None = setting(None, help="another Kaggle-layout folder to report MAE on")
    name: str | None = setting(None, help="model name (default: ARCH-SIZE)")
    version: str = setting("0.1.0", help="the model's version in its manifest")
    dataset_name: str | None = setting(
        None, help="how the manifest describes the training data (default: the folder)"
    )
    command: str | None = None  # the command line that ran this, for the manifest

    @property
    def validation_split_seed(self) -> int:
        return self.seed if self.split_seed is None else self.split_seed


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
    """Train, keep the best epoch, write weights + manifest + report into ``config.out_dir``.

    The steps: prepare the data (the chain's cache and the split), build the model, set up the
    run (optimiser, schedule, a checkpoint to resume), run the epochs, then evaluate and write.
    """
    started = time.time()
    if broken := run_rule_broken(config):
        raise ValueError(broken)
    if config.ensemble_of:
        config = with_ensemble(config)
    seed_everything(config.seed)
    device, world = _devices(config)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = prepare_data(config, out_dir, world)
    if world.is_main:
        tqdm.write(
            f"{len(data.train_idx)} training / {len(data.val_idx)} validation images, "
            f"{len(data.cache.refused)} refused, on {device} x {world.world_size}"
        )
    model, started_from = build_model(config, data)
    if world.is_main:  # the split goes beside the checkpoint now, so that a stopped run has it too
        write_split(out_dir, [s.id for s in data.train_set], [s.id for s in data.val_set])
    run = start_run(config, model, data, device, world, out_dir / CHECKPOINT_NAME)
    run_epochs(config, run, started)
    if not world.is_main:
        return {"worker_rank": world.rank}
    if run.state.epoch < run.state.planned_epochs:
        return {"stopped_after": run.state.epoch, "history": run.state.history}
    return finish(config, run, data, started_from, out_dir)


@dataclass
class PreparedData:
    """The chain's output for every sample (cached) and the split of the usable ones."""

    samples: list[Sample]
    cache: Cache
    train_set: list[Sample]
    val_set: list[Sample]
    train_idx: list[int]
    val_idx: list[int]


@dataclass
class Run:
    """What the epochs work on and change."""

    model: BoneAgeRegressor
    network: torch.nn.Module  # the model, or its DistributedDataParallel wrapper
    optimiser: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    state: TrainingState
    train_data: CachedImages
    val_loader: DataLoader
    steps_per_epoch: int
    device: torch.device
    world: Distributed
    checkpoint_path: Path


def _devices(config: TrainConfig) -> tuple[torch.device, Distributed]:
    device = pick_device(config.device)
    world = init_distributed(device)
    if world.world_size > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device, world


def prepare_data(config: TrainConfig, out_dir: Path, world: Distributed) -> PreparedData:
    """Every sample through the chain once (cached on disk), then the deterministic split."""
    preprocess_config = config.preprocess
    samples = read_samples(config.data_dir)
    if config.limit:
        samples = samples[: config.limit]
    cache_dir = Path(config.cache_dir or out_dir / "cache")
    workers = max(1, config.workers)
    # One process preprocesses; the others then read its cache from disk.
    cache = build_cache(samples, preprocess_config, cache_dir, workers=workers) if world.is_main else None
    world.barrier()
    cache = cache or build_cache(samples, preprocess_config, cache_dir, workers=workers)
    usable = [s for s, good in zip(samples, cache.ok, strict=True) if good]
    index_of = {id(s): i for i, s in enumerate(samples)}
    if config.split_file:
        train_set, val_set = split_from_record(usable, read_split(config.split_file))
        if world.is_main and (unplaced := len(usable) - len(train_set) - len(val_set)):
            tqdm.write(f"{unplaced} accepted image(s) are in neither part of {config.split_file}: left out")
    else:
        train_set, val_set = split_samples(usable, config.val_fraction, config.validation_split_seed)
    data = PreparedData(
        samples,
        cache,
        train_set,
        val_set,
        [index_of[id(s)] for s in train_set],
        [index_of[id(s)] for s in val_set],
    )
    return with_degraded_copies(data, config, cache_dir, world) if config.degraded_copies else data


def with_degraded_copies(
    data: PreparedData, config: TrainConfig, cache_dir: Path, world: Distributed
) -> PreparedData:
    """``data`` with one degraded copy of each training film (cached like the films) added to
    what is learnt from; the validation films stay clean. Copies the chain refuses are left out."""
    copies = degraded_copies(data.train_set, config.seed)
    workers = max(1, config.workers)
    extra = build_cache(copies, config.preprocess, cache_dir, workers=workers) if world.is_main else None
    world.barrier()
    extra = extra or build_cache(copies, config.preprocess, cache_dir, workers=workers)
    kept = [copy for copy, good in zip(copies, extra.ok, strict=True) if good]
    if world.is_main:
        tqdm.write(f"{len(kept)} degraded copies added ({len(copies) - len(kept)} refused by the chain)")
    images = np.concatenate([np.asarray(data.cache.images), np.asarray(extra.images)[extra.ok]])
    first = len(data.samples)
    return replace(
        data,
        samples=data.samples + kept,
        cache=replace(
            data.cache, images=images, ok=np.concatenate([data.cache.ok, np.ones(len(kept), bool)])
        ),
        train_idx=data.train_idx + list(range(first, first + len(kept))),
    )


def run_rule_broken(config: TrainConfig) -> str | None:
    """Why ``config`` cannot run, in the command line's words (``train.py`` shows it as a usage
    error, ``train`` raises it); None when it can."""
    if config.ensemble_of and (config.epochs != 0 or config.init_from or config.pretrained):
        return "--ensemble-of assembles trained members: give --epochs 0, not --init-from or --pretrained"
    if config.architecture == "ensemble" and not config.ensemble_of:
        return "--arch ensemble is assembled from trained members: give --ensemble-of"
    if config.split_file and config.split_seed is not None:
        return "--split keeps a recorded split; --split-seed draws one: give one of them"
    if config.epochs == 0 and config.init_from is None and not config.ensemble_of:
        return "--epochs 0 evaluates and writes the weights given with --init-from; give --init-from"
    return None


def with_ensemble(config: TrainConfig) -> TrainConfig:
    """The config of an ensemble run: its architecture names the members, read from their manifests."""
    from boneage.training.ensemble import member_specs

    members = member_specs(list(config.ensemble_of), config.preprocess.to_dict())
    return replace(config, architecture="ensemble", architecture_kwargs={"members": members})


def build_model(config: TrainConfig, data: PreparedData) -> tuple[BoneAgeRegressor, dict]:
    """The architecture with the training labels' mean and spread; ImageNet or a trained start.

    Also returns the manifest's ``training`` fields that say where the weights came from:
    ``init_from`` (one trained start), ``ensemble_of`` (the members), or nothing. A trained start
    must not have learnt from this run's validation images (checked against the split beside it;
    ``init_from.val_images_seen`` is null when it has none).
    """
    ages = np.array([s.boneage for s in data.train_set])
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
    if config.ensemble_of:
        from boneage.training.ensemble import load_members

        return model, {
            "ensemble_of": load_members(model, list(config.ensemble_of), [s.id for s in data.val_set])
        }
    if not config.init_from:
        return model, {}
    seen = check_validation_unseen(config.init_from, [s.id for s in data.val_set])
    if seen is None:
        tqdm.write(f"warning: no {SPLIT_NAME} beside {config.init_from}: cannot check what it was trained on")
    return model, {"init_from": {**load_initial_weights(model, config.init_from), "val_images_seen": seen}}


def start_run(
    config: TrainConfig,
    model: BoneAgeRegressor,
    data: PreparedData,
    device: torch.device,
    world: Distributed,
    checkpoint_path: Path,
) -> Run:
    """Loaders, optimiser and one-cycle schedule; the checkpoint's state when resuming."""
    # channels-last halves a CPU training step of these convnets (and suits GPU tensor cores).
    model = model.to(device, memory_format=torch.channels_last)
    network = torch.nn.parallel.DistributedDataParallel(model) if world.world_size > 1 else model
    images = data.cache.images
    train_data = CachedImages(
        images, data.samples, data.train_idx, augment=True, seed=config.seed, strength=config.augmentation
    )
    val_loader = DataLoader(
        CachedImages(images, data.samples, data.val_idx, augment=False), batch_size=max(config.batch_size, 64)
    )
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = len(_train_loader(train_data, config, 0, world))
    scheduler = one_cycle(optimiser, config.lr, config.epochs * steps_per_epoch)
    state = TrainingState(planned_epochs=config.epochs)
    if config.resume and checkpoint_path.is_file():
        # The scheduler's state carries its length: a schedule shortened by a budget stays so.
        state = load_checkpoint(checkpoint_path, model, optimiser, scheduler)
        if world.is_main:
            tqdm.write(f"resumed after epoch {state.epoch} (best val MAE {state.best_mae:.2f} months)")
    state.planned_epochs = state.planned_epochs or config.epochs
    return Run(
        model, network, optimiser, scheduler, state, train_data, val_loader, steps_per_epoch, device, world,
        checkpoint_path,
    )  # fmt: skip


def run_epochs(config: TrainConfig, run: Run, started: float) -> None:
    """Epochs until the schedule's end, --stop-after, or the time budget; a checkpoint after each."""
    state, world = run.state, run.world
    progress = tqdm(
        total=state.planned_epochs,
        desc="epochs",
        unit="epoch",
        initial=state.epoch,
        disable=not world.is_main,
    )
    while state.epoch < _last_epoch(state, config):
        epoch = state.epoch + 1
        epoch_started = time.time()
        losses, step_starts = train_one_epoch(config, run, epoch)
        trained = time.time()
        if world.is_main:
            record_epoch(run, epoch, losses, epoch_started, trained)
            if config.time_budget_s is not None and epoch == 1 and world.world_size == 1:
                _fit_schedule_to_budget(config, run, started, step_starts, trained, progress)
            save_checkpoint(run.checkpoint_path, state, run.model, run.optimiser, run.scheduler)
        else:
            state.epoch = epoch
        progress.update()
        world.barrier()
        if (
            config.time_budget_s is not None
            and state.epoch < state.planned_epochs
            and time.time() - started + state.history[-1]["epoch_s"] > config.time_budget_s
        ):
            tqdm.write(f"time budget: stopping after epoch {state.epoch}; --resume continues")
            break
    progress.close()


def regression_loss(name: str, output: torch.Tensor, target: torch.Tensor, beta: float) -> torch.Tensor:
    """L1, or smooth L1 (Huber-like: squared within ``beta`` of the target, so small errors pull less).

    Both work on standardised ages; ``beta`` is in the same units.
    """
    if name == "l1":
        return torch.nn.functional.l1_loss(output, target)
    if name == "smooth-l1":
        return torch.nn.functional.smooth_l1_loss(output, target, beta=beta)
    raise ValueError(f"unknown loss {name!r}; choose from {', '.join(LOSSES)}")


def train_one_epoch(config: TrainConfig, run: Run, epoch: int) -> tuple[list[float], list[float]]:
    """One pass over the training split; returns the batch losses (months) and when each step began."""
    model, device = run.model, run.device
    torch.manual_seed(config.seed * 1000 + epoch + run.world.rank)  # dropout / drop-path
    run.train_data.epoch = epoch
    run.network.train()
    autocast = device.type == "cuda"
    losses, step_starts = [], []
    beta = config.smooth_l1_beta_months / float(model.target_std)  # smooth L1 on standardised ages
    batches = tqdm(
        _train_loader(run.train_data, config, epoch, run.world),
        desc=f"epoch {epoch}",
        leave=False,
        unit="batch",
        disable=not run.world.is_main,
    )
    for batch, sex, age in batches:
        step_starts.append(time.time())
        batch = batch.to(device, memory_format=torch.channels_last)
        sex, age = sex.to(device), age.to(device)
        target = (age - model.target_mean) / model.target_std
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            output = (
                model.forward_standardised(batch, sex) if run.network is model else run.network(batch, sex)
            )
        if run.network is not model:  # DDP returns months; standardise again for the loss
            output = (output - model.target_mean) / model.target_std
        loss = regression_loss(config.loss, output.float(), target, beta)
        run.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        run.optimiser.step()
        run.scheduler.step()
        l1 = (output.detach().float() - target).abs().mean()  # reported in months whatever the loss
        losses.append(l1.item() * float(model.target_std))
        batches.set_postfix(l1=f"{np.mean(losses[-50:]):.1f}")
    return losses, step_starts


def record_epoch(run: Run, epoch: int, losses: list[float], epoch_started: float, trained: float) -> None:
    """Validate, add the epoch to the history and keep the weights when they are the best so far."""
    state, model = run.state, run.model
    val = evaluate(model, run.val_loader, run.device).metrics("val")
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


def _fit_schedule_to_budget(config, run: Run, started: float, step_starts, trained: float, progress) -> None:
    state = run.state
    later_s = steady_epoch_s(step_starts, trained, state.history[-1]["val_s"])
    fit = epochs_that_fit(config.time_budget_s, time.time() - started, later_s, 1, state.planned_epochs)
    if fit < state.planned_epochs:
        tqdm.write(f"time budget: the schedule is shortened to {fit} of {state.planned_epochs} epochs")
        state.planned_epochs = fit
        run.scheduler = refit_schedule(
            run.optimiser, config.lr, fit * run.steps_per_epoch, run.steps_per_epoch
        )
        progress.total = fit


def finish(config: TrainConfig, run: Run, data: PreparedData, started_from: dict, out_dir: Path) -> dict:
    """The best epoch's weights, measured on validation (and as served), written with their manifest."""
    finished_epochs = time.time()  # epochs are counted in state.elapsed_s, across resumes
    state = run.state
    model = run.model
    if state.best_state is not None:  # with --epochs 0 the initial weights are written as they are
        model.load_state_dict(state.best_state)
    model = model.cpu().eval()
    # Measure the weights as they will be stored (float16 rounds them), not as they were trained.
    model.load_state_dict(stored_state(model, config.weights_dtype))
    evaluation = evaluate(model, run.val_loader, torch.device("cpu"))
    metrics = evaluation.metrics("val")
    fields_ = _manifest_fields(
        model.uses_sex, config, config.preprocess, metrics, data.train_set, data.val_set, run.device
    )
    fields_["training"]["epochs"] = state.planned_epochs
    if config.time_budget_s is not None:
        fields_["training"]["time_budget_s"] = config.time_budget_s
    fields_["interval"] = _calibrate_interval(evaluation)
    fields_["training"].update(started_from)  # the one trained start, or an ensemble's members
    fields_["training"]["weights_dtype"] = config.weights_dtype
    fields_["training"].update(
        {
            "best_epoch": state.best_epoch,
            "refused": len(data.cache.refused),
            "duration_s": round(state.elapsed_s + time.time() - finished_epochs, 1),
        }
    )
    # The app-path checks need only the manifest's settings; the file is written once, after them.
    extra = _evaluate_app_path(
        model, Manifest.from_dict({**fields_, "filename": "", "sha256": ""}), config, data.val_set
    )
    if extra:
        metrics.update(extra["metrics"])
        if extra.get("served") is not None:  # the interval must fit what the app serves (its TTA views)
            fields_["interval"] = _calibrate_interval(extra["served"])
    manifest = save_weights(model, out_dir, {**fields_, "metrics": metrics}, dtype=config.weights_dtype)
    write_report(out_dir, manifest, state.history, evaluation, extra, data.cache.refused)
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


def _last_epoch(state: TrainingState, config: TrainConfig) -> int:
    """The epoch this invocation ends after: the schedule's end, or --stop-after."""
    return state.planned_epochs if config.stop_after is None else min(state.planned_epochs, config.stop_after)


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
    return {"input_size": config.preprocess.size} if config.architecture == "seed-cnn" else {}


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
        "name": config.name or f"{config.architecture}-{config.preprocess.size}",
        "version": config.version,
        "architecture": config.architecture,
        "architecture_kwargs": kwargs,
        "input_size": config.preprocess.size,
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
            **({"split_seed": config.split_seed} if config.split_seed is not None else {}),
            **({"split_file": str(config.split_file)} if config.split_file else {}),
            "pretrained": "imagenet" if config.pretrained else None,
            "augmentation": config.augmentation,
            **({"degraded_copies": "one per training film"} if config.degraded_copies else {}),
            "loss": config.loss,
            **({"smooth_l1_beta_months": config.smooth_l1_beta_months} if config.loss == "smooth-l1" else {}),
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


def config_to_dict(config: TrainConfig) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
