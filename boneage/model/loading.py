"""Build the model a verified weights file was trained as (:mod:`boneage.weights` finds and checks the file)."""

from __future__ import annotations

from boneage.model.architectures import BoneAgeRegressor, create_model
from boneage.weights import ResolvedWeights, load_state


def load_model(resolved: ResolvedWeights) -> BoneAgeRegressor:
    manifest = resolved.manifest
    model = create_model(manifest.architecture, **manifest.architecture_kwargs)
    load_state(model, resolved.path, f"Weights of architecture {manifest.architecture!r}")
    return model.eval()
