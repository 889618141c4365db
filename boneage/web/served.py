"""The model the app serves, and how its answers and refusals reach a person.

Weights are resolved and verified at start; the model is built in the background so the page is
served while timm imports. Without a model the app still runs and says why.
"""

from __future__ import annotations

import logging

import gradio as gr
import torch

from boneage.errors import (
    BoneAgeError,
    InvalidAgeError,
    InvalidHeightError,
    InvalidImageError,
    InvalidInputError,
    InvalidSexError,
    ModelNotInstalledError,
    SetupError,
    WeightsIntegrityError,
)
from boneage.io.inputs import HeightInputs
from boneage.predictor import Analysis, BackgroundPredictor, Predictor, analyse
from boneage.weights import resolve_weights
from boneage.words import error_message, error_title, t

log = logging.getLogger("boneage.app")


class ModelUnavailable(BoneAgeError):
    """The installed model could not be built: the server's fault, not the upload's."""

    codes = ("model_broken",)


class NoImage(InvalidInputError):
    """The form was sent without an upload."""

    codes = ("no_image",)


class ServedModel:
    """The background-built predictor (or None) and the status key of :mod:`boneage.words`."""

    def __init__(self, background: BackgroundPredictor | None, status: str):
        self.background, self.status = background, status

    @classmethod
    def start(cls, torch_threads: int = 0, onnx_runtime: bool = False) -> ServedModel:
        """Resolve and verify the weights now; build the model (and its ONNX Runtime form) in the background."""
        if torch_threads:
            torch.set_num_threads(torch_threads)
        try:
            resolved = resolve_weights()
        except ModelNotInstalledError as exc:
            log.warning("No model: %s", exc)
            return cls(None, "model_status_none")
        except WeightsIntegrityError as exc:
            log.error("Model refused: %s", exc)
            return cls(None, "model_status_broken")
        return cls(BackgroundPredictor(resolved, onnx_runtime), "model_status")

    @property
    def info(self):
        return self.background.info if self.background else None

    def status_html(self, lang: str) -> str:
        if self.background is None:
            return f"<small>{t(self.status, lang)}</small>"
        info = self.background.info
        mae = f"{info.validation_mae_months:.1f}" if info.validation_mae_months else "?"
        text = t("model_status", lang, name=info.name, version=info.version, source=info.source, mae=mae)
        return f"<small>{text}</small>"

    def predictor(self) -> Predictor | None:
        """The loaded model (waiting for it during the first seconds), or None when none is installed."""
        if self.background is None:
            return None
        try:
            return self.background.get()
        except Exception:
            log.exception("The model could not be built")
            raise ModelUnavailable() from None

    def analyse(
        self,
        file_path,
        sex,
        age_months,
        lang: str,
        heatmap: bool = False,
        heights: HeightInputs | None = None,
    ) -> Analysis:
        """The library's ``analyse``; a fault that is not the upload's becomes one plain RuntimeError."""
        if not file_path:
            raise NoImage()
        model = self.predictor()
        try:
            return analyse(
                file_path, sex, age_months, predictor=model, lang=lang, heatmap=heatmap and model is not None,
                heights=heights,
            )  # fmt: skip
        except BoneAgeError:
            raise
        except Exception as exc:
            log.exception("Unexpected failure on an upload")
            raise RuntimeError("unexpected") from exc


def message(error: Exception, lang: str) -> tuple[str, str]:
    """(title, message) for the person at the form, in their language."""
    if isinstance(error, ModelNotInstalledError):
        return error_title(error, lang), t("error_no_model", lang)
    if isinstance(error, BoneAgeError) and not isinstance(error, SetupError):
        return error_title(error, lang), error_message(error, lang)
    return t("title_BoneAgeError", lang), t("error_unexpected", lang)  # a server fault, not the image


def refusal_heading_key(error: Exception) -> str:
    """What a refusal's heading blames: the image, the form, or neither (a link, the server)."""
    if isinstance(error, InvalidImageError):
        return "refused_heading"
    if isinstance(error, (InvalidAgeError, InvalidSexError, InvalidHeightError, NoImage)):
        return "form_heading"
    return "no_result_heading"


def refuse(error: Exception, lang: str = "en") -> gr.Error:
    """A user-facing error: shown to the caller, not logged as a server fault."""
    title, text = message(error, lang)
    log.info("Refused: %s", title)
    return gr.Error(text, title=title, print_exception=False)
