"""What a person sees: the result card in words, and the images the UI shows."""

from __future__ import annotations

import cv2
import numpy as np

from boneage.predictor import Analysis
from boneage.reference import format_months

DISCLAIMER = (
    "**Not a diagnosis.** This is an automated estimate for information and research. Bone age "
    "must be assessed by a qualified radiologist or paediatrician, who also knows the child's "
    "history. Do not make medical decisions from this page alone."
)
DISPLAY_SIDE = 768
MIN_VIEW_SIDE = 384
HAND_COLOUR = (46, 204, 113)
CROP_COLOUR = (52, 152, 219)


def _to_uint8_rgb(pixels: np.ndarray) -> np.ndarray:
    gray = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


def display_scale(shape: tuple[int, int]) -> tuple[float, tuple[int, int]]:
    """Scale and (width, height) that fit an image into DISPLAY_SIDE without enlarging it."""
    scale = min(1.0, DISPLAY_SIDE / max(shape))
    return scale, (max(1, round(shape[1] * scale)), max(1, round(shape[0] * scale)))


def preview_image(pixels: np.ndarray) -> np.ndarray:
    """A decoded upload at display resolution (a 20 MP plate would be a heavy page otherwise)."""
    _, size = display_scale(pixels.shape)
    return _to_uint8_rgb(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA))


def overlay_hand(analysis: Analysis) -> np.ndarray:
    """The upload with the hand outline (green) and the crop (blue), at display resolution."""
    pixels = analysis.radiograph.pixels
    if analysis.preprocessed.inverted:
        pixels = 1.0 - pixels
    scale, size = display_scale(pixels.shape)
    image = preview_image(pixels)
    mask = cv2.resize(
        analysis.preprocessed.source_mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST
    )
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    thickness = max(1, round(max(size) / 300))
    cv2.drawContours(image, contours, -1, HAND_COLOUR, thickness)
    x0, y0, x1, y1 = (round(v * scale) for v in analysis.preprocessed.crop_box)
    cv2.rectangle(image, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), CROP_COLOUR, thickness)
    return image


def model_view(analysis: Analysis) -> np.ndarray:
    """The processed square exactly as the model received it (before standardisation).

    Small inputs are enlarged by pixel repetition for display, so no detail is invented.
    """
    image = _to_uint8_rgb(analysis.preprocessed.image)
    repeat = max(1, MIN_VIEW_SIDE // image.shape[0])
    return np.repeat(np.repeat(image, repeat, axis=0), repeat, axis=1) if repeat > 1 else image


def result_markdown(analysis: Analysis) -> str:
    """The result card: bone age, the gap and its meaning, uncertainty, model, disclaimer."""
    age = analysis.chronological_age_months
    if analysis.bone_age_months is None or analysis.model is None or analysis.interpretation is None:
        return no_model_markdown()
    bone = analysis.bone_age_months
    gap = analysis.gap_months or 0.0
    sign = "+" if gap >= 0 else "−"
    error = analysis.model.validation_mae_months
    error_line = (
        f"Typical error of this model: **±{error:.1f} months** (mean absolute error on held-out "
        f"radiographs of {analysis.model.trained_on})."
        if error is not None
        else "The typical error of this model was not recorded."
    )
    label = {"normal": "Within the normal range", "advanced": "Advanced", "delayed": "Delayed"}
    return "\n".join(
        [
            f"## Bone age: {bone:.0f} months ({format_months(bone)})",
            "",
            "| Measure | Value |",
            "|---|---|",
            f"| Chronological age | {age:.0f} months ({format_months(age)}) |",
            f"| Difference (bone − chronological) | {sign}{abs(gap):.0f} months ({sign}{format_months(abs(gap))}) |",
            f"| Assessment | **{label[analysis.interpretation.category]}** "
            f"({analysis.interpretation.z_score:+.1f} SD for {'boys' if analysis.sex == 'male' else 'girls'}) |",
            "",
            analysis.interpretation.sentence,
            "",
            error_line,
            "",
            f"<small>Model {analysis.model.name} v{analysis.model.version} ({analysis.model.architecture}). "
            "Reference variation: Greulich & Pyle atlas, Brush Foundation standard deviations.</small>",
            "",
            DISCLAIMER,
        ]
    )


def no_model_markdown() -> str:
    return (
        "## No bone age estimated\n\n"
        "**No trained model is installed in this copy of the app**, so it cannot estimate a bone "
        "age. It will not guess. The images show how your radiograph was prepared (hand found, "
        "cropped and enhanced) — exactly what a model would look at.\n\n" + DISCLAIMER
    )
