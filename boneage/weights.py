"""Pinned model weights: manifest, resolution (explicit path -> Hub -> shipped copy), integrity.

The manifest (``weights/manifest.json``) is always local and pins everything: the architecture,
the preprocessing settings, the sha256 of the safetensors file, the Hub repo and revision it can
be fetched from, and the metrics measured when ``train.py`` produced it. The file itself may come
from the Hub cache or from ``weights/``; whichever it is, its sha256 must match the manifest.
Weights are read with safetensors only: nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import load_file, save_file

from boneage.errors import ModelNotInstalledError, WeightsIntegrityError

log = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WEIGHTS_DIR = PACKAGE_ROOT / "weights"
MANIFEST_NAME = "manifest.json"
WEIGHTS_ENV = "BONEAGE_WEIGHTS"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class HubLocation:
    repo_id: str
    filename: str
    revision: str  # a full commit sha: the download is pinned, never "main"


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    architecture: str
    architecture_kwargs: dict
    input_size: int
    uses_sex: bool
    filename: str
    sha256: str
    preprocess: dict
    metrics: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    hub: HubLocation | None = None
    # Test-time augmentation: the prediction is the mean over these views (boneage.chain.views.affine
    # keyword arguments); empty means the image as it is.
    tta: list[dict] = field(default_factory=list)
    # Prediction interval (boneage.meaning.interval.IntervalCalibration as a dict); empty: none calibrated.
    interval: dict = field(default_factory=dict)
    # Upload-quality curves (boneage.meaning.quality.QualityCurves as a dict, written by
    # boneage.cli.quality); empty: every readable upload is answered as it is.
    quality: dict = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Manifest:
        try:
            hub = values.get("hub")
            return cls(**{**values, "hub": HubLocation(**hub) if hub else None})
        except TypeError as exc:
            raise WeightsIntegrityError(f"Malformed weights manifest: {exc}") from exc

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            values = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise WeightsIntegrityError(f"Cannot read weights manifest {path}: {exc}") from exc
        return cls.from_dict(values)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @property
    def validation_mae(self) -> float | None:
        """The validation MAE of predictions as served (with the manifest's TTA views, if any)."""
        for key in ("served_val_mae_months", "val_tta_mae_months", "val_mae_months"):
            if self.metrics.get(key) is not None:
                return float(self.metrics[key])
        return None


@dataclass(frozen=True)
class ResolvedWeights:
    manifest: Manifest
    path: Path
    source: Literal["explicit", "hub", "local"]


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, manifest: Manifest) -> None:
    actual = sha256_of(path)
    if actual != manifest.sha256:
        raise WeightsIntegrityError(
            f"Weights file {path} has sha256 {actual[:12]}..., the manifest pins "
            f"{manifest.sha256[:12]}...; refusing to load it."
        )


def _manifest_path(location: Path) -> Path:
    location = Path(location)
    return location / MANIFEST_NAME if location.is_dir() else location


def resolve_weights(
    explicit: str | os.PathLike | None = None,
    weights_dir: str | os.PathLike = DEFAULT_WEIGHTS_DIR,
) -> ResolvedWeights:
    """Find verified weights: explicit path, else the Hub (pinned, cached), else ``weights_dir``.

    ``explicit`` (or the ``BONEAGE_WEIGHTS`` environment variable) names a directory holding
    ``manifest.json`` and its weights file, or the manifest itself.

    Raises:
        ModelNotInstalledError: no manifest, or no weights file anywhere.
        WeightsIntegrityError: a file was found but its sha256 differs from the manifest.
    """
    explicit = explicit or os.environ.get(WEIGHTS_ENV) or None
    if explicit:
        manifest_path = _manifest_path(Path(explicit))
        if not manifest_path.is_file():
            raise ModelNotInstalledError(f"No {MANIFEST_NAME} at {explicit}.")
        manifest = Manifest.load(manifest_path)
        path = manifest_path.parent / manifest.filename
        if not path.is_file():
            raise ModelNotInstalledError(f"Weights file {path} is missing.")
        verify(path, manifest)
        return ResolvedWeights(manifest, path, "explicit")

    manifest_path = _manifest_path(Path(weights_dir))
    if not manifest_path.is_file():
        raise ModelNotInstalledError(
            "No trained bone-age model is installed (weights/manifest.json is missing)."
        )
    manifest = Manifest.load(manifest_path)
    if manifest.hub is not None:
        hub_path = download_from_hub(manifest.hub)
        if hub_path is not None:
            verify(hub_path, manifest)
            return ResolvedWeights(manifest, hub_path, "hub")
    local = manifest_path.parent / manifest.filename
    if not local.is_file():
        raise ModelNotInstalledError(
            f"Weights {manifest.filename} are neither in the Hub cache nor in {local.parent}."
        )
    verify(local, manifest)
    return ResolvedWeights(manifest, local, "local")


def download_from_hub(hub: HubLocation) -> Path | None:
    """The pinned file from the Hub (or its local cache); None when it cannot be had."""
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(hub.repo_id, hub.filename, revision=hub.revision))
    except Exception as exc:  # offline, not cached, repo gone: fall back to the shipped copy
        log.info("Weights not available from the Hub (%s); using the shipped copy.", exc)
        return None


WEIGHT_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def stored_state(model: torch.nn.Module, dtype: str = "float32") -> dict[str, torch.Tensor]:
    """The state dict as written: float tensors in ``dtype``, scalars and integers as they are.

    float16 halves the file; loading casts back into the model's float32 parameters. Scalars
    (each model's label mean and spread) stay exact: they shift every prediction.
    """
    target = WEIGHT_DTYPES[dtype]

    def stored(tensor: torch.Tensor) -> torch.Tensor:
        rounded = tensor.is_floating_point() and tensor.numel() > 1
        return (tensor.to(target) if rounded else tensor).detach().cpu().contiguous()

    return {name: stored(tensor) for name, tensor in model.state_dict().items()}


def load_state(model: torch.nn.Module, path: Path, what: str) -> None:
    """Copy a verified safetensors file into ``model``, strictly (float16 files are cast on copy).

    Raises:
        WeightsIntegrityError: the tensors do not fit ``model`` (``what`` names it in the message).
    """
    try:
        model.load_state_dict(load_file(str(path)), strict=True)
    except RuntimeError as exc:
        raise WeightsIntegrityError(f"{what} do not fit: {exc}") from exc


def save_weights(
    model: torch.nn.Module, out_dir: Path, manifest_fields: dict, dtype: str = "float32"
) -> Manifest:
    """Write ``<name>.safetensors`` and ``manifest.json`` (with its sha256) into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    filename = f"{manifest_fields['name']}.safetensors"
    state = stored_state(model, dtype)
    save_file(state, str(out_dir / filename), metadata={"architecture": manifest_fields["architecture"]})
    manifest = Manifest.from_dict(
        {**manifest_fields, "filename": filename, "sha256": sha256_of(out_dir / filename)}
    )
    manifest.save(out_dir / MANIFEST_NAME)
    return manifest
