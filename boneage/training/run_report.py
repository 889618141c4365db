"""A training run's report: the evaluation figure, report.json and report.md beside the weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from boneage.training.evaluation import Evaluation, format_table
from boneage.weights import Manifest


def plot_evaluation(val: Evaluation, history: list[dict], path: Path, title: str = "validation") -> None:
    """Predicted vs true, Bland-Altman, and the learning curve when the run had epochs.

    A run with ``--epochs 0`` (weights measured as served, an ensemble assembled) has no curve:
    its panel is left out rather than drawn empty.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3 if history else 2, figsize=(15 if history else 10, 4.5))
    axes[0].scatter(val.target, val.predicted, s=8, alpha=0.6, c=np.where(val.male, "tab:blue", "tab:red"))
    top = max(240.0, float(val.target.max()))
    axes[0].plot([0, top], [0, top], "k--", lw=1)
    axes[0].set(
        xlabel="true bone age (months)",
        ylabel="predicted (months)",
        title=f"{title}: MAE {np.abs(val.errors).mean():.2f} months (blue boys, red girls)",
    )
    mean = (val.target + val.predicted) / 2
    bias, spread = val.errors.mean(), 1.96 * val.errors.std()
    axes[1].scatter(mean, val.errors, s=8, alpha=0.6)
    for y in (bias, bias - spread, bias + spread):
        axes[1].axhline(y, color="k", ls="--", lw=1)
    axes[1].set(
        xlabel="mean of true and predicted (months)", ylabel="predicted - true (months)", title="Bland-Altman"
    )
    if history:
        epochs = [h["epoch"] for h in history]
        axes[2].plot(epochs, [h["train_l1_months"] for h in history], label="train L1")
        axes[2].plot(epochs, [h["val_mae_months"] for h in history], label="val MAE")
        axes[2].set(xlabel="epoch", ylabel="months", title="learning curve")
        axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(
    out_dir: Path,
    manifest: Manifest,
    history: list[dict],
    val: Evaluation,
    extra: dict | None,
    refused: dict[str, str],
) -> None:
    """report.json, report.md and plots (predicted vs true, Bland-Altman, learning curve).

    ``val`` is the validation split read once, as is (what the epochs were chosen by). When the
    manifest has test-time views, ``extra["served"]`` is the same split as the app answers it:
    that comes first and is the one plotted, so a reader sees the model's number first.
    """
    out_dir = Path(out_dir)
    extra = extra or {}
    served: Evaluation | None = extra.get("served")
    if served is None:
        plot_evaluation(val, history, out_dir / "evaluation.png")
    else:
        plot_evaluation(served, history, out_dir / "evaluation.png", title="validation as served")

    report = {
        "manifest": manifest.to_dict(),
        "history": history,
        "validation_table": val.table(),
        "served_validation_table": None if served is None else served.table(),
        "reframed": extra.get("reframed", {}),
        "external": extra.get("external"),
        "refused": refused,
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = _report_head(manifest, len(refused)) + _validation_lines(manifest, val, served)
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


def _report_head(manifest: Manifest, n_refused: int) -> list[str]:
    training = manifest.training
    return [
        f"# Training report: {manifest.name} {manifest.version}",
        "",
        f"- Data: {training['dataset']} ({training['n_train']} train / {training['n_val']} validation, "
        f"{n_refused} refused by the chain and excluded, listed below)",
        f"- Architecture: {manifest.architecture} {manifest.architecture_kwargs}, input {manifest.input_size} px, "
        f"sex input: {manifest.uses_sex}, ImageNet start: {bool(training.get('pretrained'))}",
        f"- Epochs: {training['epochs']} (best {training.get('best_epoch')}), seed {training['seed']}, "
        f"device {training['device']}, {training['duration_s']} s",
        f"- Command: `{training.get('command')}`",
        "",
    ]


def _validation_lines(manifest: Manifest, val: Evaluation, served: Evaluation | None) -> list[str]:
    """As served first (the app's answer), then the image as is; or the one table without views."""
    if served is None:
        return ["## Validation", "", format_table(val.table()), ""]
    return [
        "## Validation, as served",
        "",
        f"The app's answer: each network reads the test-time views {manifest.tta}.",
        "",
        format_table(served.table()),
        "",
        "## Validation, the image as is (one view, as during training)",
        "",
        format_table(val.table()),
        "",
    ]
