"""Bone Age: skeletal age estimation from left-hand radiographs.

The public surface is small: load a model once (``Predictor.load()``), then ``analyse`` an upload,
or decode one yourself with ``load_radiograph``; every refusal is a :class:`BoneAgeError`. The
subpackages, in the order an upload meets them: ``io``, ``chain``, ``model``, ``meaning``, then
``predictor`` (which joins them) and ``report``; ``training`` and ``cli`` sit beside, ``web`` on
top. docs/architecture.md draws the graph.
"""

from boneage.errors import (
    BoneAgeError,
    EmptyImageError,
    ImageTooLargeError,
    InvalidAgeError,
    InvalidImageError,
    InvalidSexError,
    ModelNotInstalledError,
    NotAHandRadiographError,
    WeightsIntegrityError,
)

__version__ = "0.3.0"

# Imported on first use: ``import boneage`` for its errors must not pay for torch.
_LAZY = {
    "Analysis": "boneage.predictor",
    "Predictor": "boneage.predictor",
    "analyse": "boneage.predictor",
    "Radiograph": "boneage.io",
    "load_radiograph": "boneage.io",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'boneage' has no attribute {name!r}")


__all__ = [
    "Analysis",
    "BoneAgeError",
    "EmptyImageError",
    "ImageTooLargeError",
    "InvalidAgeError",
    "InvalidImageError",
    "InvalidSexError",
    "ModelNotInstalledError",
    "NotAHandRadiographError",
    "Predictor",
    "Radiograph",
    "WeightsIntegrityError",
    "__version__",
    "analyse",
    "load_radiograph",
]
