"""What survives between epochs and runs: checkpoints (resume bit for bit) and a trained start (``--init-from``)."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from boneage.errors import SetupError
from boneage.model.architectures import BoneAgeRegressor
from boneage.weights import MANIFEST_NAME, Manifest, sha256_of

CHECKPOINT_NAME = "checkpoint.pt"
SPLIT_NAME = "split.json"


class ValidationLeakError(SetupError):
    """The starting weights learnt from images that this run keeps for validation."""


def write_split(out_dir: Path, train_ids: list[str], val_ids: list[str]) -> None:
    """The run's split, beside its checkpoint and weights, so that a later start can be checked."""
    split = {"train": list(train_ids), "val": list(val_ids)}
    (Path(out_dir) / SPLIT_NAME).write_text(json.dumps(split, indent=1) + "\n")


def read_split(path: Path) -> dict[str, list[str]]:
    """A split written by :func:`write_split` (``{"train": [...], "val": [...]}``)."""
    return json.loads(Path(path).read_text())


def check_validation_unseen(start: Path, val_ids: list[str]) -> int | None:
    """Refuse a start trained on any of ``val_ids``; returns 0, or None when no split is beside it.

    Ids name radiographs across sets: rsna-train-100 and rsna-train-299 share them. 1.0 was trained
    on 1,509 of 2.x's 1,798 validation images. Fine-tuned from it, a model would be measured
    partly on images it had learnt.
    """
    split = Path(start).parent / SPLIT_NAME
    if not split.is_file():
        return None
    seen = len(set(read_split(split)["train"]).intersection(val_ids))
    if seen:
        raise ValidationLeakError(
            f"The weights in {Path(start).parent} were trained on {seen} of this run's {len(val_ids)} "
            f"validation images (their {SPLIT_NAME}), so this run's validation MAE would look better "
            "than it is. Start from weights trained with this run's split (the same data and "
            "--val-fraction, and the same --seed or --split-seed, or --split with their split.json), "
            "or from ImageNet (--pretrained)."
        )
    return seen


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
    beside = path.parent / MANIFEST_NAME
    if path.suffix == ".safetensors" and beside.is_file():
        earlier = Manifest.load(beside)
        if earlier.filename == path.name and earlier.sha256 == source["sha256"]:  # it describes this file
            source["training"] = earlier.training
            source["val_mae_months"] = earlier.metrics.get("val_mae_months")
    return source


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
