"""Bone Age: skeletal age estimation from left-hand radiographs."""

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

__version__ = "0.2.0"

__all__ = [
    "BoneAgeError",
    "EmptyImageError",
    "ImageTooLargeError",
    "InvalidAgeError",
    "InvalidImageError",
    "InvalidSexError",
    "ModelNotInstalledError",
    "NotAHandRadiographError",
    "WeightsIntegrityError",
    "__version__",
]
