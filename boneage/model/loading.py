"""Build the model a verified weights file was trained as (:mod:`boneage.weights` finds and checks the file)."""

from __future__ import annotations

from safetensors.torch import load_file

from boneage.errors import WeightsIntegrityError
from boneage.model.architectures import BoneAgeRegressor, create_model
from boneage.weights import ResolvedWeights


def load_model(resolved: ResolvedWeights) -> BoneAgeRegressor:
    manifest = resolved.manifest
    model = create_model(manifest.architecture, **manifest.architecture_kwargs)
    state = load_file(str(resolved.path))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsIntegrityError(
            f"Weights do not fit architecture {manifest.architecture!r}: {exc}"
        ) from exc
    return model.eval()
