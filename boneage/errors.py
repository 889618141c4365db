"""Typed exceptions.

Every problem a user can cause maps to one class here, and every class carries a message written
for the person at the upload form, not for a developer. The UI shows ``str(error)`` verbatim
under the class's short ``title``.
"""

from __future__ import annotations


class BoneAgeError(Exception):
    """Base class for every error this library raises on purpose."""

    title = "Something went wrong"


class InvalidInputError(BoneAgeError, ValueError):
    """Something the user supplied cannot be used."""

    title = "Cannot use this input"


class InvalidImageError(InvalidInputError):
    """The file is not a readable image (not an image, corrupt, truncated, unsupported)."""

    title = "Cannot read this file"


class ImageTooLargeError(InvalidImageError):
    """The image has more pixels than we are willing to decode (decompression-bomb guard)."""

    title = "Image too large"


class EmptyImageError(InvalidImageError):
    """The image carries no picture: constant, all black, all white, or too small."""

    title = "Empty image"


class NotAHandRadiographError(InvalidImageError):
    """The picture decodes but does not look like a hand X-ray (colour photo, no hand found)."""

    title = "Not a hand X-ray"


class WristMissingError(NotAHandRadiographError):
    """A hand X-ray cut above the wrist: the wrist bones, which bone age is read from, are not in it."""

    title = "The wrist is missing"


class InvalidAgeError(InvalidInputError):
    """The chronological age is missing, not a number, or outside 0-20 years."""

    title = "Check the age"


class InvalidSexError(InvalidInputError):
    """The sex is missing or not one of the accepted values."""

    title = "Choose the sex"


class ModelNotInstalledError(BoneAgeError):
    """No trained model weights are available to this installation."""

    title = "No model"


class WeightsIntegrityError(BoneAgeError):
    """A weights file does not match the sha256 in its manifest, or the manifest is malformed."""


class DatasetError(BoneAgeError):
    """A training dataset is missing, malformed or empty."""
