"""What the chain's own small networks share: loading from verified weights, and their runtime.

The hand U-Net (:mod:`boneage.chain.unet`) and the wrist check (:mod:`boneage.chain.wrist`) each
ship as safetensors + manifest (sha256) in their own folder under ``weights/``. A
:class:`~boneage.chain.preprocess.Chain` loads and owns them; they answer with PyTorch until their
owner hands them another runtime (:meth:`ChainNetwork.serve_with`: the predictor's ONNX Runtime
graphs, the same numbers, 2-3 times faster).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Self

import torch
from torch import nn

from boneage.errors import WeightsIntegrityError
from boneage.weights import Manifest, ResolvedWeights, load_state, resolve_weights


class ChainNetwork:
    """One of the chain's networks, loaded. Subclasses name it and say where its weights live."""

    architecture: ClassVar[str]  # the manifest's "architecture"
    network: ClassVar[Callable[..., nn.Module]]  # builds it from the manifest's architecture_kwargs
    what: ClassVar[str]  # names it in messages ("wrist check")
    env_var: ClassVar[str]  # a folder that overrides the default
    default_dir: ClassVar[Path]
    graph_outputs: ClassVar[tuple[str, ...]]  # its ONNX graph's outputs (boneage.model.onnx_runtime)
    size: int  # the side of the square image it reads

    def __init__(self, model: nn.Module, manifest: Manifest, weights: ResolvedWeights | None = None):
        self.model = model.eval()
        self.manifest = manifest
        self.weights = weights  # what it was loaded from: a child process exports it for ONNX Runtime
        # The forward pass: PyTorch, until serve_with() hands it another runtime (same numbers).
        self.forward: Callable = self.model

    def serve_with(self, forward: Callable) -> None:
        """Answer through ``forward`` from now on (one assignment: calls in flight finish as they began)."""
        self.forward = forward

    @property
    def runtime(self) -> str:
        """What answers: "pytorch <version>", or the runtime ``serve_with`` was given."""
        return getattr(self.forward, "runtime", f"pytorch {torch.__version__}")

    @classmethod
    def load(cls, location: str | os.PathLike | None = None) -> Self:
        """Verified weights from ``location``, else the ``env_var`` folder, else ``default_dir``.

        Raises:
            ModelNotInstalledError: no weights anywhere.
            WeightsIntegrityError: sha256 mismatch, another network's weights, or weights that do not fit.
        """
        # Always an explicit folder: resolve_weights would otherwise read BONEAGE_WEIGHTS, the model's.
        folder = location or os.environ.get(cls.env_var) or cls.default_dir
        return cls.from_resolved(resolve_weights(folder, cls.default_dir))

    @classmethod
    def from_resolved(cls, resolved: ResolvedWeights) -> Self:
        """The network in weights already resolved and verified.

        Raises:
            WeightsIntegrityError: another network's weights, or weights that do not fit.
        """
        manifest = resolved.manifest
        if manifest.architecture != cls.architecture:
            raise WeightsIntegrityError(f"{resolved.path} is not a {cls.what} ({manifest.architecture}).")
        model = cls.network(**manifest.architecture_kwargs)
        load_state(model, resolved.path, f"{cls.what.capitalize()} weights")
        return cls(model, manifest, resolved)
