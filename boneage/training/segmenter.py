"""Training the hand U-Net: the code behind ``train_segmenter.py``.

Labels: the exact masks of the ``rsna-train-hires`` hands (``pixels > 0``), put on synthetic
plates by :mod:`boneage.training.composite`. A fixed set of hands is held out (never trained on, not even
composited) and the report measures Dice/IoU on them: the clean cut-outs, realistic plates made
from them, and those plates squashed to 100x100 like ``rsna-train-100``. The classical segmenter
is measured on the same images for comparison. Same conventions as :mod:`boneage.training.loop`:
fixed seed (every batch is generated from ``(seed, step)``), progress bars, a checkpoint every
``checkpoint_every`` steps that ``resume`` continues bit for bit, weights + manifest + report.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, IterableDataset
from tqdm.auto import tqdm

from boneage.chain.config import setting
from boneage.chain.orientation import normalise_polarity
from boneage.chain.segmentation import segment_hand
from boneage.chain.unet import ARCHITECTURE, HandUNet, UNetSegmenter, dice, iou
from boneage.training.composite import Hand, load_hands, render_plate, training_pair
from boneage.training.loop import _git_commit, seed_everything
from boneage.weights import Manifest, save_weights

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class SegmentTrainConfig:
    """One U-Net run. Fields with help text are ``train_segmenter.py``'s options."""

    hands_dir: Path = setting(
        help="folder with images/<id>.png, background 0 (rsna-train-hires)", flag="--hands"
    )
    out_dir: Path = setting(Path("runs/segmenter"), help="where it is written", flag="--out")
    image_size: int = setting(128, help="network input side in pixels", flag="--size")
    channels: tuple[int, ...] = (8, 16, 32, 64, 128)
    steps: int = setting(1500, help="training steps")
    batch_size: int = setting(32, help="plates per step")
    lr: float = setting(3e-3, help="peak learning rate")
    holdout: int = setting(8, help="hands kept out of training for the Dice/IoU report")
    eval_plates: int = setting(120, help="plates the report is measured on")
    seed: int = setting(42, help="seed of the split, the plates and the weights")
    workers: int = setting(1, help="processes generating plates")
    checkpoint_every: int = setting(100, help="steps between checkpoints")
    resume: bool = setting(False, help="continue from OUT's checkpoint")
    stop_after: int | None = setting(None, help="stop (checkpointed) after this many steps")
    threshold: float = 0.5
    name: str | None = setting(None, help="the U-Net's name (default: hand-unet-SIZE)")
    version: str = setting("1.0.0", help="its version in the manifest")
    command: str | None = None

    def __post_init__(self) -> None:
        if self.name is None:
            self.name = f"hand-unet-{self.image_size}"


def split_hands(ids: list[str], holdout: int, seed: int) -> tuple[list[str], list[str]]:
    """Deterministic (train, held-out) split of hand ids."""
    order = np.random.default_rng(seed).permutation(sorted(ids))
    return sorted(order[holdout:].tolist()), sorted(order[:holdout].tolist())


class PlateBatches(IterableDataset):
    """Endless batches; batch ``step`` is generated from ``(seed, step)`` alone (resumable)."""

    def __init__(
        self, hands: list[Hand], size: int, batch_size: int, seed: int, first_step: int, last_step: int
    ):
        self.hands, self.size, self.batch_size = hands, size, batch_size
        self.seed, self.first_step, self.last_step = seed, first_step, last_step

    def __iter__(self):
        for step in range(self.first_step, self.last_step):
            rng = np.random.default_rng([self.seed, step])
            pairs = [training_pair(self.hands, rng, self.size) for _ in range(self.batch_size)]
            images = torch.from_numpy(np.stack([p[0] for p in pairs]))[:, None]
            masks = torch.from_numpy(np.stack([p[1] for p in pairs]).astype(np.float32))[:, None]
            yield images, masks, torch.from_numpy(np.stack([p[2] for p in pairs]))


def segmentation_loss(
    logits: torch.Tensor, target: torch.Tensor, pose: torch.Tensor, pose_target: torch.Tensor
) -> torch.Tensor:
    """Binary cross-entropy + soft Dice for the mask, plus the pose where a single hand is shown.

    Soft Dice keeps small hands from being ignored; the pose (mirrored: cross-entropy, rotation:
    squared error on cos/sin) counts only for plates with exactly one hand.
    """
    bce = F.binary_cross_entropy_with_logits(logits, target)
    probability = torch.sigmoid(logits)
    overlap = (probability * target).sum(dim=(1, 2, 3))
    total = probability.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3))
    soft_dice = (2 * overlap + 1.0) / (total + 1.0)
    known = pose_target[:, 0]
    side = F.binary_cross_entropy_with_logits(pose[:, 0], pose_target[:, 1], reduction="none")
    turn = ((pose[:, 1:] - pose_target[:, 2:]) ** 2).sum(dim=1)
    pose_loss = ((side + turn) * known).sum() / known.sum().clamp(min=1.0)
    return bce + (1 - soft_dice).mean() + 0.3 * pose_loss


def train_segmenter(config: SegmentTrainConfig) -> dict:
    """Train, write weights + manifest + report into ``config.out_dir``; resumable."""
    seed_everything(config.seed)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    all_ids = [p.stem for p in sorted((Path(config.hands_dir) / "images").glob("*.png"))]
    train_ids, held_out_ids = split_hands(all_ids, config.holdout, config.seed)
    hands = load_hands(config.hands_dir, train_ids)
    tqdm.write(f"{len(hands)} training hands, {len(held_out_ids)} held out: {', '.join(held_out_ids)}")

    model = HandUNet(config.channels).to(memory_format=torch.channels_last)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.lr, total_steps=config.steps, pct_start=0.1
    )
    step, history, elapsed = 0, [], 0.0
    checkpoint_path = out_dir / CHECKPOINT_NAME
    if config.resume and checkpoint_path.is_file():
        state = torch.load(checkpoint_path, weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        step, history, elapsed = int(state["step"]), json.loads(state["history"]), float(state["elapsed_s"])
        tqdm.write(f"resumed after step {step}")
    last = config.steps if config.stop_after is None else min(config.steps, config.stop_after)
    started = time.time()
    step = _train_steps(
        config, hands, (model, optimiser, scheduler), step, last, history, checkpoint_path, elapsed
    )
    elapsed += time.time() - started
    if step < config.steps:
        return {"stopped_after": step, "history": history}

    model = model.eval().to(memory_format=torch.contiguous_format)
    fields = _manifest_fields(config, train_ids, held_out_ids, elapsed)
    segmenter = UNetSegmenter(model, Manifest.from_dict({**fields, "filename": "", "sha256": ""}))
    evaluation = evaluate_segmenter(
        segmenter, config.hands_dir, held_out_ids, config.eval_plates, config.seed
    )
    manifest = save_weights(model, out_dir, {**fields, "metrics": evaluation["summary"]})
    write_segmenter_report(out_dir, manifest, history, evaluation)
    return {"manifest": manifest, "evaluation": evaluation, "history": history}


def _train_steps(
    config, hands, trained, step: int, last: int, history: list, checkpoint_path: Path, elapsed: float
) -> int:
    """Steps from ``step`` to ``last`` on freshly drawn plates, checkpointed as they go; the last step."""
    model, optimiser, scheduler = trained
    batches = DataLoader(
        PlateBatches(hands, config.image_size, config.batch_size, config.seed, step, last),
        batch_size=None,
        num_workers=config.workers,
    )
    model.train()
    started, losses = time.time(), []
    progress = tqdm(batches, desc="steps", initial=step, total=config.steps, unit="step")
    for images, masks, poses in progress:
        torch.manual_seed(config.seed * 100_000 + step)
        logits, pose = model(images.to(memory_format=torch.channels_last))
        loss = segmentation_loss(logits, masks, pose, poses)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        scheduler.step()
        step += 1
        losses.append(loss.item())
        progress.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
        if step % config.checkpoint_every == 0 or step == last:
            history.append({"step": step, "loss": float(np.mean(losses))})
            losses = []
            elapsed_now = elapsed + time.time() - started
            _save_checkpoint(checkpoint_path, model, optimiser, scheduler, step, history, elapsed_now)
    return step


def _save_checkpoint(path: Path, model, optimiser, scheduler, step, history, elapsed) -> None:
    payload = {
        "model": model.state_dict(),
        "optimiser": optimiser.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
        "history": json.dumps(history),
        "elapsed_s": elapsed,
    }
    partial = path.with_suffix(".partial")
    torch.save(payload, partial)
    partial.replace(path)


def _manifest_fields(config: SegmentTrainConfig, train_ids, held_out_ids, elapsed: float) -> dict:
    return {
        "name": config.name,
        "version": config.version,
        "architecture": ARCHITECTURE,
        "architecture_kwargs": {"channels": list(config.channels)},
        "input_size": config.image_size,
        "uses_sex": False,
        "preprocess": {"threshold": config.threshold, "input": "1-99% grey range, letterboxed"},
        "training": {
            "dataset": "rsna-train-hires hands (pixels > 0) composited on synthetic plates",
            "hands_dir": str(config.hands_dir),
            "train_ids": train_ids,
            "held_out_ids": held_out_ids,
            "steps": config.steps,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "seed": config.seed,
            "duration_s": round(elapsed, 1),
            "command": config.command,
            "git_commit": _git_commit(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "torch": torch.__version__,
        },
        "hub": None,
    }


def evaluation_plates(hands: list[Hand], count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fixed realistic plates of held-out hands (a different stream from any training batch)."""
    rng = np.random.default_rng([seed, 999_999])
    return [render_plate(hands, rng) for _ in range(count)]


def squash_100(pixels: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    squashed = cv2.resize(pixels, (100, 100), interpolation=cv2.INTER_NEAREST_EXACT)
    small = cv2.resize(mask.astype(np.uint8), (100, 100), interpolation=cv2.INTER_NEAREST_EXACT)
    return squashed, small > 0


def evaluate_segmenter(segmenter, hands_dir: Path, held_out_ids: list[str], plates: int, seed: int) -> dict:
    """Dice/IoU of ``segmenter`` and of the classical method on held-out hands, three ways."""
    hands = load_hands(hands_dir, held_out_ids)
    rendered = evaluation_plates(hands, plates, seed)
    sets = {
        "clean": [_full_resolution(hands_dir, i) for i in held_out_ids],
        "plates": [(p, m) for p, m, _ in rendered],
    }
    sets["squashed"] = [squash_100(p, m) for p, m in sets["plates"]]
    methods = {"unet": segmenter, "classical": segment_hand}
    per_set = {}
    for set_name, pairs in sets.items():
        # As in the chain: polarity is normalised before any segmenter runs.
        pairs = [(normalise_polarity(p)[0], m) for p, m in pairs]
        for method_name, method in methods.items():
            predicted = [method(p) for p, _ in pairs]
            scores = [(dice(q, m), iou(q, m)) for q, (_, m) in zip(predicted, pairs, strict=True)]
            dices, ious = np.array([s[0] for s in scores]), np.array([s[1] for s in scores])
            per_set[f"{set_name}_{method_name}"] = {
                "n": len(pairs),
                "dice_mean": round(float(dices.mean()), 4),
                "dice_min": round(float(dices.min()), 4),
                "dice_p10": round(float(np.percentile(dices, 10)), 4),
                "iou_mean": round(float(ious.mean()), 4),
            }
    summary = {f"{k}_{m}": v[m] for k, v in per_set.items() for m in ("dice_mean", "iou_mean", "dice_min")}
    if hasattr(segmenter, "analyse"):
        summary.update(evaluate_pose(segmenter, rendered))
    return {"per_set": per_set, "summary": summary}


def evaluate_pose(segmenter, rendered) -> dict:
    """Mirrored (right hand) accuracy and rotation error on plates with one hand, as uploaded."""
    right, errors = [], []
    for plate, _, pose in rendered:
        if pose is None:
            continue
        view = segmenter.analyse(normalise_polarity(plate)[0])
        right.append((view.mirrored_probability > 0.5) == pose.mirrored)
        errors.append(abs((view.rotation_degrees - pose.rotation_degrees + 180) % 360 - 180))
    return {
        "pose_n": len(right),
        "mirrored_accuracy": round(float(np.mean(right)), 4),
        "rotation_error_median_degrees": round(float(np.median(errors)), 1),
        "rotation_error_p90_degrees": round(float(np.percentile(errors, 90)), 1),
    }


def _full_resolution(hands_dir: Path, sample_id: str) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    grey = np.asarray(Image.open(Path(hands_dir) / "images" / f"{sample_id}.png").convert("L"))
    return grey.astype(np.float32) / 255.0, grey > 0


def write_segmenter_report(out_dir: Path, manifest: Manifest, history: list[dict], evaluation: dict) -> None:
    lines = [
        f"# Hand segmenter {manifest.name} {manifest.version}",
        "",
        f"Held-out hands (never trained on): {', '.join(manifest.training['held_out_ids'])}.",
        "",
        "| images | n | U-Net Dice | U-Net IoU | U-Net worst Dice | classical Dice | classical IoU | classical worst Dice |",
        "|---|---|---|---|---|---|---|---|",
    ]
    described = {
        "clean": "clean cut-outs, full resolution",
        "plates": "synthetic plates (256 px)",
        "squashed": "same plates squashed to 100x100",
    }
    per_set = evaluation["per_set"]
    for key, text in described.items():
        u, c = per_set[f"{key}_unet"], per_set[f"{key}_classical"]
        lines.append(
            f"| {text} | {u['n']} | {u['dice_mean']:.3f} | {u['iou_mean']:.3f} | {u['dice_min']:.3f} "
            f"| {c['dice_mean']:.3f} | {c['iou_mean']:.3f} | {c['dice_min']:.3f} |"
        )
    summary = evaluation["summary"]
    if "pose_n" in summary:
        lines += [
            "",
            f"Pose on {summary['pose_n']} single-hand plates: mirrored (right hand) told apart in "
            f"{100 * summary['mirrored_accuracy']:.1f}%; rotation error median "
            f"{summary['rotation_error_median_degrees']} degrees, 90th percentile "
            f"{summary['rotation_error_p90_degrees']}.",
        ]
    lines += ["", f"Training: {manifest.training['steps']} steps, {manifest.training['duration_s']} s.", ""]
    lines += ["| step | loss |", "|---|---|"] + [f"| {h['step']} | {h['loss']:.4f} |" for h in history]
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
    payload = {"manifest": manifest.to_dict(), "history": history, "evaluation": evaluation}
    (out_dir / "report.json").write_text(json.dumps(payload, indent=1) + "\n")


def config_to_dict(config: SegmentTrainConfig) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
