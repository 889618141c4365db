"""Examples for the wrist check: real films, and the same films cut above or below the wrist.

A film cut above the wrist still shows a hand, so the gate's outline checks pass, yet the model
reads it about two years too old (docs/segmentation.md). Nothing in a film says where its wrist
is, so the cut is placed by the hand's own proportions: from the fingertips to the webs between
the fingers (``finger_length``) the distance is about the same as from the webs to the carpal
bones, and the distal radius lies about 1.25 finger lengths below the webs (measured by eye on
RSNA films of every age). Cuts at ``web + u * finger_length`` are labelled

- wrist missing for ``u`` in :data:`MISSING_RANGE` (only fingers, up to a cut through the carpals);
- wrist present for ``u`` in :data:`PRESENT_RANGE` (the radius's end kept, forearm cut short,
  as on atlas plates), and for the whole film.

Cuts in between are not used: they are neither clearly one nor the other. Every example goes
through the served chain, so the check learns on exactly what it will see.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from boneage.chain.config import setting
from boneage.chain.preprocess import Chain, PreprocessConfig, preprocess
from boneage.chain.wrist import CHECK_SIZE, check_input, to_check_pixels
from boneage.errors import BoneAgeError
from boneage.io.decode import load_radiograph
from boneage.training.data import AUGMENTATIONS, Sample, augment, start_chain_worker, worker_chain

MISSING_RANGE = (-0.3, 1.0)
PRESENT_RANGE = (1.55, 2.3)
CHECKPOINT_NAME = "checkpoint.pt"
WEIGHTS_DTYPE = "float16"
MIN_FINGER_ROWS = 4  # rows in a row showing three or more fingers: the webs are below them
MAX_TILT_DEGREES = 20.0  # a tilted hand is not cut: rows would cross it at a slant


@dataclass(frozen=True)
class HandExtent:
    """Rows of an upright hand's outline: fingertips, the webs between the fingers, the bottom."""

    top: int
    web: int
    bottom: int

    @property
    def finger_length(self) -> int:
        return self.web - self.top

    def row(self, u: float) -> int:
        return int(round(self.web + u * self.finger_length))


def hand_extent(mask: np.ndarray) -> HandExtent | None:
    """Where the fingers end, in an upright hand's outline; None when no fingers stand apart.

    The webs are the lowest rows, in the outline's upper 70%, of a run of
    :data:`MIN_FINGER_ROWS` rows that each cross three or more separate parts (fingers).
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    top, bottom = int(rows[0]), int(rows[-1])
    binary = mask.astype(np.int8)
    parts = (np.diff(binary, axis=1) == 1).sum(axis=1) + binary[:, 0]
    fingers = np.convolve((parts >= 3).astype(int), np.ones(MIN_FINGER_ROWS, int), "same") >= MIN_FINGER_ROWS
    candidates = np.flatnonzero(fingers[: top + int(0.7 * (bottom - top))])
    if candidates.size == 0 or candidates.max() <= top:
        return None
    return HandExtent(top, int(candidates.max()), bottom)


def tilt_degrees(mask: np.ndarray) -> float:
    """The outline's long axis against the vertical (second moments), in degrees."""
    moments = cv2.moments(mask.astype(np.uint8), binaryImage=True)
    angle = 0.5 * np.degrees(np.arctan2(2 * moments["mu11"], moments["mu20"] - moments["mu02"]))
    return float(abs(abs(angle) - 90.0))


@dataclass(frozen=True)
class Example:
    image: np.ndarray | None  # uint8 (CHECK_SIZE, CHECK_SIZE); None: the chain refused it
    wrist: bool
    cut: float | None  # u of the cut; None: the whole film


def film_examples(path: str, chain: Chain, seed: int) -> list[Example]:
    """The whole film, one cut that removes the wrist and, where the forearm allows, one that keeps it.

    ``chain`` runs without a wrist check (:func:`example_chain`): these examples train it.
    """
    try:
        pixels = load_radiograph(path).pixels
        whole = preprocess(pixels, chain)
    except BoneAgeError:
        return []
    examples = [Example(to_check_pixels(whole.image), True, None)]
    film = whole.upright if whole.upright is not None else pixels
    extent = hand_extent(whole.source_mask)
    if extent is None or extent.finger_length < 8 or tilt_degrees(whole.source_mask) > MAX_TILT_DEGREES:
        return examples
    rng = np.random.default_rng(seed)
    cuts = [(float(rng.uniform(*MISSING_RANGE)), False)]
    keep = float(rng.uniform(*PRESENT_RANGE))
    if extent.row(keep) < extent.bottom - 4:
        cuts.append((keep, True))
    for u, wrist in cuts:
        cut = np.ascontiguousarray(film[: max(extent.row(u), 1)])
        try:
            image = to_check_pixels(preprocess(cut, chain).image)
        except BoneAgeError:
            image = None
        examples.append(Example(image, wrist, u))
    return examples


def example_chain(config: PreprocessConfig) -> PreprocessConfig:
    """The chain's settings for making the check's examples: everything but the check itself."""
    return replace(config, check_wrist=False)


def _job(args: tuple[str, int]) -> list[Example]:
    return film_examples(args[0], worker_chain(), args[1])


def build_examples(samples: list[Sample], config: PreprocessConfig, out: Path, workers: int = 2) -> Path:
    """Every sample's examples through the chain, saved as one ``.npz`` (reused when present)."""
    out = Path(out)
    if out.is_file():
        return out
    settings = example_chain(config)
    jobs = [(str(s.path), int(s.id) if s.id.isdigit() else i) for i, s in enumerate(samples)]
    images, wrist, cut, film_ids, refused = [], [], [], [], []

    def collect(results) -> None:
        for sample, examples in tqdm(
            zip(samples, results, strict=True), total=len(jobs), desc="wrist examples"
        ):
            for example in examples:
                if example.image is None:
                    refused.append((sample.id, example.cut))
                    continue
                images.append(example.image)
                wrist.append(example.wrist)
                cut.append(np.nan if example.cut is None else example.cut)
                film_ids.append(sample.id)

    if workers > 1:
        pool = ProcessPoolExecutor(
            max_workers=workers, initializer=start_chain_worker, initargs=(settings.to_dict(),)
        )
        with pool:
            collect(pool.map(_job, jobs, chunksize=8))
    else:
        chain = Chain.load(settings)
        collect(film_examples(path, chain, seed) for path, seed in jobs)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.npz")
    np.savez(
        partial,
        images=np.stack(images) if images else np.zeros((0, CHECK_SIZE, CHECK_SIZE), np.uint8),
        wrist=np.array(wrist, bool),
        cut=np.array(cut, np.float32),
        film=np.array(film_ids),
        refused_film=np.array([r[0] for r in refused]),
        refused_cut=np.array([np.nan if r[1] is None else r[1] for r in refused], np.float32),
    )
    partial.rename(out)
    return out


@dataclass(frozen=True)
class WristTrainConfig:
    """One wrist-check run. Fields with help text are ``train_wrist_check.py``'s options."""

    train_examples: Path
    val_examples: Path
    out_dir: Path = setting(Path("runs/wrist-check"), help="where it is written", flag="--out")
    epochs: int = setting(4, help="epochs")
    batch_size: int = setting(64, help="examples per step")
    lr: float = setting(1e-3, help="peak learning rate")
    seed: int = setting(42, help="seed of the weights, augmentation and order")
    pretrained: bool = setting(True, help="start from random weights", negate="--no-pretrained")
    # "tilted" (±45°) was tried for 45° uploads and refused clean upright plates instead
    # (docs/segmentation.md): the shipped check is "moderate".
    augmentation: str = setting(
        "moderate",
        help="augmentation (boneage.training.data)",
        flag="--augment",
        choices=sorted(AUGMENTATIONS),
    )
    # Whole validation films the chosen threshold may refuse, within the gate's budget of real
    # films refused (docs/segmentation.md).
    max_false_refusals: int = 1
    limit: int | None = setting(None, help="films per part and examples per epoch (smoke runs)")
    resume: bool = setting(False, help="go on from OUT's checkpoint (written every epoch)")
    stop_after: int | None = setting(None, help="stop (checkpointed, no weights) after this many epochs")
    name: str = "wrist-check-lite0-128"
    version: str = setting("1.0.0", help="the check's version in its manifest")
    command: str = ""


def load_examples(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def epoch_indices(wrist: np.ndarray, cut: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every cut example, and as many whole films as there are cuts that remove the wrist.

    Whole films outnumber the cuts; drawing a fresh share of them each epoch keeps the two
    classes near balance while every film is seen over the run.
    """
    whole = np.flatnonzero(np.isnan(cut))
    cuts = np.flatnonzero(~np.isnan(cut))
    missing = int((~wrist).sum())
    chosen = rng.choice(whole, size=min(len(whole), missing), replace=False)
    return rng.permutation(np.concatenate([cuts, chosen]))


def _augmented_batch(
    images: np.ndarray, indices: np.ndarray, rng: np.random.Generator, strength: str
) -> torch.Tensor:
    pixels = [augment(image.astype(np.float32) / 255.0, rng, strength) for image in images[indices]]
    return check_input(np.stack([np.round(p * 255).astype(np.uint8) for p in pixels]))


@torch.inference_mode()
def missing_probabilities(model: nn.Module, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    model.eval()
    chunks = [
        torch.sigmoid(model(check_input(images[start : start + batch_size])))
        for start in range(0, len(images), batch_size)
    ]
    return torch.cat(chunks).numpy() if chunks else np.zeros(0, np.float32)


def choose_threshold(whole_probabilities: np.ndarray, max_false_refusals: int) -> float:
    """The lowest threshold that refuses at most ``max_false_refusals`` of these whole films."""
    ordered = np.sort(whole_probabilities)[::-1]
    if max_false_refusals >= len(ordered):
        return 0.0
    return float(ordered[max_false_refusals])


def summarise(probabilities: np.ndarray, wrist: np.ndarray, cut: np.ndarray, threshold: float) -> dict:
    """Refusal rates by kind of example, at ``threshold``."""
    refused = probabilities > threshold
    whole = np.isnan(cut)
    groups = {
        "whole_films": whole,
        "cut_below_wrist": ~whole & wrist,
        "cut_above_wrist": ~wrist,
        "only_fingers": ~wrist & (cut < 0.2),
        "cut_through_palm_or_carpals": ~wrist & (cut >= 0.2),
    }
    return {
        name: {"n": int(members.sum()), "refused": int(refused[members].sum())}
        for name, members in groups.items()
    }


def validate(model: nn.Module, val: dict[str, np.ndarray], max_false_refusals: int) -> tuple[float, dict]:
    """The threshold chosen on the whole validation films, and the refusals at it by kind."""
    probabilities = missing_probabilities(model, val["images"])
    threshold = choose_threshold(probabilities[np.isnan(val["cut"])], max_false_refusals)
    return threshold, summarise(probabilities, val["wrist"], val["cut"], threshold)


@dataclass
class _WristRun:
    """A wrist-check run in progress: what the checkpoint saves and a resumed run restores."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    rng: np.random.Generator
    history: list[dict]
    started: float

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "history": self.history,
            "elapsed_s": time.time() - self.started,
        }
        torch.save(state, path)

    def restore(self, path: Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.history, self.started = state["history"], time.time() - state["elapsed_s"]


def train_wrist_check(config: WristTrainConfig) -> dict:
    """Train the check, choose its threshold on validation, save weights + manifest + report."""
    torch.manual_seed(config.seed)
    train, val = load_examples(config.train_examples), load_examples(config.val_examples)
    run, plan = _start(config, train)
    checkpoint = Path(config.out_dir) / CHECKPOINT_NAME
    if config.resume and checkpoint.is_file():
        run.restore(checkpoint)
    for epoch in range(len(run.history), len(plan)):
        losses = _train_epoch(run, train, plan[epoch], config, epoch)
        threshold, summary = validate(run.model, val, config.max_false_refusals)
        run.history.append(
            {"epoch": epoch + 1, "loss": float(np.mean(losses)), "threshold": threshold, **summary}
        )
        tqdm.write(json.dumps(run.history[-1]))
        run.save(checkpoint)
        if config.stop_after is not None and epoch + 1 >= config.stop_after < len(plan):
            return {"stopped_after": epoch + 1, "history": run.history}
    return _write_check(run, config, train, val)


def _start(config: WristTrainConfig, train: dict[str, np.ndarray]) -> tuple[_WristRun, list[np.ndarray]]:
    """The network, its optimiser and one-cycle schedule, and every epoch's examples, drawn now."""
    from boneage.chain.wrist import WristCheckNet
    from boneage.training.pretrained import load_imagenet_weights

    rng = np.random.default_rng(config.seed)
    model = WristCheckNet()
    if config.pretrained:
        load_imagenet_weights(model.backbone, "efficientnet_lite0")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    plan = [epoch_indices(train["wrist"], train["cut"], rng)[: config.limit] for _ in range(config.epochs)]
    steps = sum(-(-len(indices) // config.batch_size) for indices in plan)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=max(steps, 1))
    return _WristRun(model, optimizer, schedule, rng, [], time.time()), plan


def _train_epoch(
    run: _WristRun, train: dict[str, np.ndarray], indices: np.ndarray, config: WristTrainConfig, epoch: int
) -> list[float]:
    run.model.train()
    loss_fn = nn.BCEWithLogitsLoss()
    losses = []
    for start in tqdm(range(0, len(indices), config.batch_size), desc=f"epoch {epoch + 1}", leave=False):
        chosen = indices[start : start + config.batch_size]
        target = torch.from_numpy((~train["wrist"][chosen]).astype(np.float32))
        batch = _augmented_batch(train["images"], chosen, run.rng, config.augmentation)
        loss = loss_fn(run.model(batch), target)
        run.optimizer.zero_grad()
        loss.backward()
        run.optimizer.step()
        run.schedule.step()
        losses.append(loss.item())
    return losses


def _write_check(run: _WristRun, config: WristTrainConfig, train: dict, val: dict) -> dict:
    """The weights as stored (float16), the threshold chosen on them, the manifest and report."""
    from boneage.chain.wrist import ARCHITECTURE
    from boneage.training.loop import _git_commit
    from boneage.weights import save_weights, stored_state

    # The threshold is chosen on the stored weights, so the shipped check refuses what its
    # manifest says it does.
    stored = stored_state(run.model, WEIGHTS_DTYPE)
    run.model.load_state_dict({name: tensor.float() for name, tensor in stored.items()})
    threshold, summary = validate(run.model, val, config.max_false_refusals)
    fields = {
        "name": config.name,
        "version": config.version,
        "architecture": ARCHITECTURE,
        "architecture_kwargs": {"backbone": "efficientnet_lite0"},
        "input_size": CHECK_SIZE,
        "uses_sex": False,
        "preprocess": {"threshold": threshold, "input": f"the chain's image, shrunk to {CHECK_SIZE} px"},
        "metrics": {"validation": summary},
        "training": {
            "command": config.command,
            "git_commit": _git_commit(),
            "epochs": config.epochs,
            "augmentation": config.augmentation,
            "n_train_examples": int(len(train["wrist"])),
            "n_val_examples": int(len(val["wrist"])),
            "duration_s": round(time.time() - run.started, 1),
            "max_false_refusals": config.max_false_refusals,
        },
    }
    manifest = save_weights(run.model, config.out_dir, fields, dtype=WEIGHTS_DTYPE)
    report = {"manifest": manifest.to_dict(), "history": run.history}
    (Path(config.out_dir) / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    return report
