"""Typed exceptions, each raised with a code and the numbers behind it, never with a sentence.

A person meets these at the upload form: ``NotAHandRadiographError("two_hands", ratio=0.52)``.
The class says what kind of problem it is (and which heading the page shows); the ``code`` says
which one, and ``params`` carry its numbers. :mod:`boneage.words` turns both into a sentence in
each language; ``str(error)`` is the English one, for scripts and logs.

:class:`SetupError` and its kin are for whoever installs weights, trains or runs the tools: they
carry an English sentence and are never shown on the page.
"""

from __future__ import annotations

from typing import ClassVar


class BoneAgeError(Exception):
    """Base class for every error this library raises on purpose."""

    codes: ClassVar[tuple[str, ...]] = ()  # the message codes this class is raised with

    def __init__(self, code: str | None = None, /, **params: object):
        codes = type(self).codes
        if code is None and len(codes) == 1:
            code = codes[0]
        if code not in codes:
            raise ValueError(f"{type(self).__name__} has no message code {code!r}; it has {codes}")
        super().__init__(code)
        self.code: str = code
        self.params: dict[str, object] = params

    def __str__(self) -> str:
        from boneage.words import error_message

        return error_message(self, "en")


class SetupError(BoneAgeError):
    """A problem for the person installing, training or running a tool: an English sentence."""

    def __init__(self, detail: str):
        Exception.__init__(self, detail)
        self.code, self.params = "setup", {"detail": detail}

    def __str__(self) -> str:
        return str(self.params["detail"])


class InvalidInputError(BoneAgeError, ValueError):
    """Something the user supplied cannot be used."""


class InvalidImageError(InvalidInputError):
    """The file is not a readable image (not an image, corrupt, truncated, unsupported)."""

    codes = (
        "file_not_found",  # name
        "file_empty",
        "not_an_image",
        "unsupported_mode",  # mode
        "not_grayscale",
        "dicom_unreadable",
        "dicom_photometric",  # kind
        "dicom_no_pixels",
        "dicom_not_2d",
    )


class ImageTooLargeError(InvalidImageError):
    """The image has more pixels than we are willing to decode (decompression-bomb guard)."""

    codes = (
        "file_too_large",  # megabytes
        "image_too_large_to_open",
        "too_many_pixels",  # width, height, megapixels
    )


class EmptyImageError(InvalidImageError):
    """The image carries no picture: constant, all black, all white, or too small."""

    codes = ("image_too_small", "image_black", "image_blank")  # too small: width, height, side


class NotAHandRadiographError(InvalidImageError):
    """The picture decodes but does not look like a hand X-ray (colour photo, no hand found).

    The gate's codes carry the measurement that failed (see boneage.chain.gate).
    """

    codes = (
        "colour_photo",  # chroma
        "no_hand",  # hand_share
        "outline_unsure",  # confidence
        "no_fingers",  # solidity; or finger_gaps and confidence
        "two_hands",  # ratio
        "over_exposed",  # saturated_share
        "no_contrast",  # contrast, contrast_full_scale
    )


class UnreadableUploadError(InvalidImageError):
    """A hand radiograph too noisy, too compressed or too small for a bone age to be read from it.

    Measured, not guessed: such uploads moved the bone age by more than the model's own error
    (boneage.meaning.quality). The message asks for the original file.
    """

    codes = (
        "too_noisy",  # extra_error_months
        "too_compressed",  # extra_error_months
        "too_small",  # extra_error_months
        "film_too_small",  # side: the film is a small part of the image (a collimated field)
    )


class WristMissingError(NotAHandRadiographError):
    """A hand X-ray cut above the wrist: the wrist bones, which bone age is read from, are not in it."""

    codes = ("wrist_missing",)  # probability


class InvalidAgeError(InvalidInputError):
    """The chronological age is missing, not a number, or outside 0-20 years."""

    codes = (
        "age_missing",
        "age_not_number",
        "age_out_of_range",
        "years_not_number",
        "months_not_number",
        "years_negative",
        "months_negative",
        "months_too_many",
    )


class InvalidSexError(InvalidInputError):
    """The sex is missing or not one of the accepted values."""

    codes = ("sex_missing", "sex_unknown_for_file")


class InvalidHeightError(InvalidInputError):
    """A height that is not a number, cannot belong to the person it is given for, or looks typed
    in the other unit (inches as cm, or cm as inches). Each person has their own codes, so the
    message can name them in every language."""

    codes = (
        "height_not_number",  # value
        "height_unit_unknown",  # value
        *(
            f"{who}_{problem}"
            for who in ("child", "mother", "father")
            for problem in ("implausible", "maybe_inches", "maybe_cm")
        ),  # value, cm, other (the value read in the other unit), age
    )


class ModelNotInstalledError(SetupError):
    """No trained model weights are available to this installation."""


class WeightsIntegrityError(SetupError):
    """A weights file does not match the sha256 in its manifest, or the manifest is malformed."""


class DatasetError(SetupError):
    """A training dataset is missing, malformed or empty."""
