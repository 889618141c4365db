"""Training and evaluation: the code behind ``train.py``.

Reproducible (fixed seed, deterministic split), resumable only by re-running, and honest: the
weights written are those of the epoch with the best validation MAE, and the manifest next to
them records that MAE, the data they came from and how they were trained.
"""

from __future__ import annotations

import json
import math
import platform
import random
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from boneage.data import (
    CachedImages,
    Sample,
    build_cache,
    find_dataset,
    read_samples,
    split_samples,
)
from boneage.models import BoneAgeRegressor, create_model
from boneage.preprocess import PreprocessConfig
from boneage.weights import Manifest, save_weights


@dataclass
class TrainConfig:
    data_dir: Path
    out_dir: Path = Path("runs/latest")
    architecture: str = "efficientnet-b0-sex"
    architecture_kwargs: dict = field(default_factory=dict)
    image_size: int = 384
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
    external_eval: Path | None = None
    name: str | None = None
    version: str = "0.1.0"
    dataset_name: str | None = None  # default: the data folder and its label file


@dataclass
class Evaluation:
    predicted: np.ndarray
    target: np.ndarray
    male: np.ndarray

    @property
    def errors(self) -> np.ndarray:
        return self.predicted - self.target

    def metrics(self, prefix: str) -> dict:
        err = self.errors
        result = {
            f"{prefix}_mae_months": float(np.abs(err).mean()),
            f"{prefix}_rmse_months": float(np.sqrt((err**2).mean())),
            f"{prefix}_bias_months": float(err.mean()),
            f"{prefix}_n": len(err),
        }
        for label, mask in (("male", self.male), ("female", ~self.male)):
            if mask.any():
                result[f"{prefix}_mae_{label}_months"] = float(np.abs(err[mask]).mean())
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _loader(images, samples, indices, config: TrainConfig, train: bool) -> DataLoader:
    dataset = CachedImages(images, samples, indices, augment=train, seed=config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=train,
        generator=generator,
        num_workers=config.workers if train else 0,
        drop_last=train and len(indices) > config.batch_size,
        persistent_workers=train and config.workers > 0,
    )


@torch.inference_mode()
def evaluate(model: BoneAgeRegressor, loader: DataLoader, device: torch.device) -> Evaluation:
    model.eval()
    predicted, target, male = [], [], []
    for images, sex, age in loader:
        predicted.append(model(images.to(device), sex.to(device)).float().cpu())
        target.append(age)
        male.append(sex > 0.5)
    return Evaluation(torch.cat(predicted).numpy(), torch.cat(target).numpy(), torch.cat(male).numpy())


def train(config: TrainConfig) -> dict:
    """Train, keep the best epoch, write weights + manifest + report into ``config.out_dir``."""
    seed_everything(config.seed)
    started = time.time()
    device = pick_device(config.device)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    preprocess_config = PreprocessConfig(size=config.image_size)

    samples = read_samples(config.data_dir)
    if config.limit:
        samples = samples[: config.limit]
    cache_dir = Path(config.cache_dir or out_dir / "cache")
    images, ok = build_cache(samples, preprocess_config, cache_dir, workers=config.workers)
    usable = [s for s, good in zip(samples, ok, strict=True) if good]
    index_of = {id(s): i for i, s in enumerate(samples)}
    train_set, val_set = split_samples(usable, config.val_fraction, config.seed)
    train_idx = [index_of[id(s)] for s in train_set]
    val_idx = [index_of[id(s)] for s in val_set]
    tqdm.write(f"{len(train_idx)} training / {len(val_idx)} validation images on {device}")

    ages = np.array([s.boneage for s in train_set])
    model = create_model(
        config.architecture,
        **config.architecture_kwargs,
        **_input_kwargs(config),
        target_mean=float(ages.mean()),
        target_std=float(max(ages.std(), 1.0)),
    ).to(device)
    train_loader = _loader(images, samples, train_idx, config, train=True)
    val_loader = _loader(images, samples, val_idx, config, train=False)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = max(1, config.epochs * len(train_loader))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.lr, total_steps=steps, pct_start=0.1
    )

    history: list[dict] = []
    best_mae, best_state = math.inf, None
    for epoch in tqdm(range(1, config.epochs + 1), desc="epochs", unit="epoch"):
        model.train()
        losses = []
        for batch, sex, age in tqdm(train_loader, desc=f"epoch {epoch}", leave=False, unit="batch"):
            batch, sex, age = batch.to(device), sex.to(device), age.to(device)
            target = (age - model.target_mean) / model.target_std
            loss = torch.nn.functional.l1_loss(model.forward_standardised(batch, sex), target)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            scheduler.step()
            losses.append(loss.item() * float(model.target_std))
        val = evaluate(model, val_loader, device).metrics("val")
        history.append({"epoch": epoch, "train_l1_months": float(np.mean(losses)), **val})
        tqdm.write(
            f"epoch {epoch}: train L1 {np.mean(losses):.2f} months, val MAE {val['val_mae_months']:.2f} months"
        )
        if val["val_mae_months"] < best_mae:
            best_mae = val["val_mae_months"]
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    model.load_state_dict(best_state)
    model = model.cpu().eval()
    evaluation = evaluate(model, val_loader, torch.device("cpu"))
    metrics = evaluation.metrics("val")
    external = None
    if config.external_eval:
        external = evaluate_external(
            model, config.external_eval, preprocess_config, cache_dir, config.workers
        )
        metrics.update(external.metrics("external"))
    manifest = save_weights(
        model,
        out_dir,
        _manifest_fields(
            model.uses_sex,
            config,
            preprocess_config,
            metrics,
            train_set,
            val_set,
            time.time() - started,
            device,
        ),
    )
    split = {"train": [s.id for s in train_set], "val": [s.id for s in val_set]}
    (out_dir / "split.json").write_text(json.dumps(split, indent=1) + "\n")
    write_report(out_dir, manifest, history, evaluation, external)
    return {"manifest": manifest, "metrics": metrics, "history": history}


def _input_kwargs(config: TrainConfig) -> dict:
    return {"input_size": config.image_size} if config.architecture == "seed-cnn" else {}


def evaluate_external(
    model, root: Path, preprocess_config: PreprocessConfig, cache_dir: Path, workers: int
) -> Evaluation:
    """Evaluate on another Kaggle-layout set (e.g. the atlas standards) with the same chain."""
    samples = read_samples(root)
    images, ok = build_cache(samples, preprocess_config, cache_dir, workers=workers)
    indices = [i for i, good in enumerate(ok) if good]
    loader = DataLoader(CachedImages(images, samples, indices, augment=False), batch_size=16)
    return evaluate(model, loader, torch.device("cpu"))


def _describe_dataset(root: Path) -> str:
    csv_path, image_dir = find_dataset(root)
    return f"{Path(root).resolve().name} ({csv_path.name}, {image_dir.name}/)"


def _git_commit() -> str | None:
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
    uses_sex: bool,
    config,
    preprocess_config,
    metrics,
    train_set: list[Sample],
    val_set: list[Sample],
    seconds,
    device,
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
            "device": str(device),
            "duration_s": round(seconds, 1),
            "git_commit": _git_commit(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "hub": None,
    }


def write_report(
    out_dir: Path, manifest: Manifest, history: list[dict], val: Evaluation, external: Evaluation | None
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

    report = {"manifest": manifest.to_dict(), "history": history}
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"# Training report: {manifest.name} {manifest.version}",
        "",
        f"- Data: {manifest.training['dataset']} ({manifest.training['n_train']} train / {manifest.training['n_val']} validation)",
        f"- Architecture: {manifest.architecture} {manifest.architecture_kwargs}, input {manifest.input_size} px, sex input: {manifest.uses_sex}",
        f"- Epochs: {manifest.training['epochs']}, seed {manifest.training['seed']}, device {manifest.training['device']}, {manifest.training['duration_s']} s",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in manifest.metrics.items()],
        "",
        "![evaluation](evaluation.png)",
    ]
    if external is not None:
        lines.insert(
            5,
            f"- External check: {len(external.target)} images, MAE {np.abs(external.errors).mean():.1f} months",
        )
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")


def config_to_dict(config: TrainConfig) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
