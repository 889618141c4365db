"""An ensemble assembled from trained members (``train.py --ensemble-of``).

Each member is a ``.safetensors`` file written by ``train.py``, with the ``manifest.json`` that
describes it beside it: the manifest says what architecture to build and which chain the member
learnt from. The members must share one chain, because the app runs the chain once per upload;
only its output size may differ, and a member that learnt at another size reads the chain's
image resized to its own (``BoneAgeEnsemble``). None may have learnt from this run's validation
images.

A member may itself be an ensemble, such as the shipped weights: its networks join one by one,
so every network of the new ensemble counts the same. A new network can then be added to the
shipped ones without the runs they came from.
"""

from __future__ import annotations

from pathlib import Path

from boneage.chain.config import PreprocessConfig
from boneage.errors import SetupError
from boneage.model.architectures import BoneAgeEnsemble, create_model
from boneage.training.checkpoint import check_validation_unseen, load_initial_weights
from boneage.weights import MANIFEST_NAME, Manifest, sha256_of


class EnsembleMemberError(SetupError):
    """A member cannot join the ensemble: no manifest describes it, or it learnt from another chain."""


def member_manifest(path: Path) -> Manifest:
    """The manifest beside a member's weights, which must describe exactly that file."""
    path = Path(path)
    beside = path.parent / MANIFEST_NAME
    if path.suffix != ".safetensors" or not path.is_file():
        raise EnsembleMemberError(
            f"An ensemble member must be a .safetensors file written by train.py: {path}"
        )
    if not beside.is_file():
        raise EnsembleMemberError(f"No {MANIFEST_NAME} beside {path}: cannot tell what it is.")
    manifest = Manifest.load(beside)
    if manifest.filename != path.name or manifest.sha256 != sha256_of(path):
        raise EnsembleMemberError(f"The {MANIFEST_NAME} beside {path} describes another file.")
    return manifest


def member_specs(paths: list[Path], preprocess: dict) -> list[dict]:
    """``BoneAgeEnsemble``'s ``members`` argument; every member must have learnt from ``preprocess``,
    up to the output size, which only sets the side a member reads (``resize_to``)."""
    specs = []
    for path in paths:
        manifest = member_manifest(path)
        # Through the settings class: a field added since the member learnt takes its default.
        learnt = PreprocessConfig.from_dict(manifest.preprocess).to_dict()
        wanted = PreprocessConfig.from_dict(preprocess).to_dict()
        differing = sorted(key for key in learnt if key != "size" and learnt[key] != wanted[key])
        if differing:
            raise EnsembleMemberError(
                f"{path} learnt from another chain than this run's (differs in {', '.join(differing)}); "
                "an ensemble's members share one chain."
            )
        specs.extend(_networks(manifest, preprocess.get("size")))
    return specs


def _networks(manifest: Manifest, size: int | None) -> list[dict]:
    """The specs of the networks a member brings: itself, or each network of an ensemble, with
    ``resize_to`` only where a network reads another side than ``size``."""
    if manifest.architecture == "ensemble":
        inner = manifest.architecture_kwargs["members"]
    else:
        inner = [{"architecture": manifest.architecture, **manifest.architecture_kwargs}]
    specs = []
    for network in inner:
        spec = {key: value for key, value in network.items() if key != "resize_to"}
        side = network.get("resize_to", manifest.preprocess.get("size"))
        if side != size:
            spec["resize_to"] = side
        specs.append(spec)
    return specs


def load_members(model: BoneAgeEnsemble, paths: list[Path], val_ids: list[str]) -> list[dict]:
    """Load each member's weights; returns where each came from, for the manifest."""
    networks = iter(model.members)
    sources = []
    for path in paths:
        seen = check_validation_unseen(path, val_ids)
        if seen is None:  # an ensemble's validation MAE must be one nobody could have learnt
            raise EnsembleMemberError(f"No split.json beside {path}: cannot check what it learnt from.")
        manifest = member_manifest(path)
        if manifest.architecture == "ensemble":
            source = _load_ensemble_networks(networks, path, manifest)
        else:
            source = load_initial_weights(next(networks), path)
        sources.append({**source, "val_images_seen": seen})
    return sources


def _load_ensemble_networks(networks, path: Path, manifest: Manifest) -> dict:
    """Load an ensemble file as the ensemble it is, then hand its networks' weights to the next ones."""
    stored = create_model("ensemble", **manifest.architecture_kwargs)
    source = load_initial_weights(stored, path)
    for network in stored.members:
        next(networks).load_state_dict(network.state_dict())
    return {**source, "networks": len(stored.members)}
