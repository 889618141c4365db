"""What a person sees: the result card in words, and the images the UI shows."""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import cv2
import numpy as np

from boneage.chain.preprocess import PreprocessResult
from boneage.predictor import Analysis, ModelInfo
from boneage.words import (
    explain_gap,
    explain_height,
    explain_quality,
    format_difference,
    format_duration,
    height_rows,
    join,
    t,
)

DISCLAIMER = t("disclaimer", "en")
DISPLAY_SIDE = 768
MIN_VIEW_SIDE = 384
RESPONSE_FILES_S = 600  # our copies of a response's files are swept after this long
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
    return outline_image(analysis.radiograph.pixels, analysis.preprocessed)


def outline_image(
    pixels: np.ndarray, processed: PreprocessResult, thickness: int | None = None
) -> np.ndarray:
    """``pixels`` (the decoded upload) with the chain's hand outline and crop drawn on it.

    When the chain turned or mirrored the upload first, the outline is drawn on that upright
    image, which is what the outline refers to.
    """
    if processed.upright is not None:
        pixels = processed.upright
    if processed.inverted:
        pixels = 1.0 - pixels
    scale, size = display_scale(pixels.shape)
    image = preview_image(pixels)
    mask = cv2.resize(processed.source_mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    thickness = thickness or max(1, round(max(size) / 300))
    cv2.drawContours(image, contours, -1, HAND_COLOUR, thickness)
    x0, y0, x1, y1 = (round(v * scale) for v in processed.crop_box)
    cv2.rectangle(image, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), CROP_COLOUR, thickness)
    return image


def model_view(analysis: Analysis) -> np.ndarray:
    """The processed square exactly as the model received it (before standardisation).

    Small inputs are enlarged by pixel repetition for display, so no detail is invented.
    """
    return _enlarge(_to_uint8_rgb(analysis.model_input))


def _enlarge(image: np.ndarray) -> np.ndarray:
    """Small views repeated pixel for pixel up to MIN_VIEW_SIDE: bigger, nothing invented."""
    repeat = max(1, MIN_VIEW_SIDE // image.shape[0])
    return np.repeat(np.repeat(image, repeat, axis=0), repeat, axis=1) if repeat > 1 else image


def _orientation_lines(analysis: Analysis, lang: str = "en") -> list[str]:
    orientation = analysis.preprocessed.orientation
    notes = []
    if orientation.mirrored:
        notes.append(t("mirrored_note", lang))
    if orientation.rotated_degrees:
        notes.append(t("rotated_note", lang, degrees=f"{abs(orientation.rotated_degrees):.0f}"))
    return [f"ℹ️ {' '.join(notes)}", ""] if notes else []


def quality_caution(analysis: Analysis, lang: str = "en") -> str | None:
    """What is doubtful about the upload, when it was answered with a caution."""
    measured = analysis.preprocessed.quality
    return explain_quality(analysis.quality, measured.hand_px if measured else None, lang)


def typical_error_line(model: ModelInfo, lang: str = "en") -> str:
    """The model's held-out error in plain words: how many radiographs, of what kind, never learnt from."""
    error = model.validation_mae_months
    if error is None or model.validation_n is None:
        return t("typical_error_missing", lang)
    kind = t("radiographs_rsna" if model.learnt_from_rsna else "radiographs_other", lang)
    n_train = f"{model.training_n:,}" if model.training_n is not None else "?"
    return t(
        "typical_error",
        lang,
        error=f"{error:.1f}",
        n_val=f"{model.validation_n:,}",
        radiographs=kind,
        n_train=n_train,
    )


def interval_line(low: float, high: float, level: float, lang: str = "en") -> str:
    """The bold "90% interval: low–high months" line of a card."""
    text = t(
        "interval_line", lang, level=round(100 * level), low=f"{low:.0f}", high=f"{high:.0f}",
        low_words=format_duration(low, lang), high_words=format_duration(high, lang),
    )  # fmt: skip
    return f"**{text}**"


def result_markdown(analysis: Analysis, lang: str = "en") -> str:
    """The result card: bone age with its interval, the gap and its meaning, uncertainty, model.

    The not-a-diagnosis note is not repeated here: the page shows it once, beside the card.
    """
    age = analysis.chronological_age_months
    if analysis.bone_age_months is None or analysis.model is None or analysis.interpretation is None:
        return no_model_markdown(lang)
    bone = analysis.bone_age_months
    gap = analysis.gap_months or 0.0
    error_line = typical_error_line(analysis.model, lang)
    months = t("months", lang)
    lines = [f"## {t('bone_age_heading', lang, months=f'{bone:.0f}', words=format_duration(bone, lang))}"]
    interval = analysis.interval_dict()
    if interval:
        lines.append(interval_line(interval["low_months"], interval["high_months"], interval["level"], lang))
    if caution := quality_caution(analysis, lang):
        lines += ["", f"> ⚠️ **{t('caution_heading', lang)}.** {caution}"]
    sd_key = "sd_for_boys" if analysis.sex == "male" else "sd_for_girls"
    interpretation = analysis.interpretation
    lines += [
        "",
        f"| {t('measure', lang)} | {t('value', lang)} |",
        "|---|---|",
        f"| {t('chronological_age', lang)} | {age:.0f} {months} ({format_duration(age, lang)}) |",
        f"| {t('difference', lang)} | {format_difference(gap, lang)} |",
        f"| {t('assessment', lang)} | **{t('category_' + interpretation.category, lang)}** "
        f"({t(sd_key, lang, z=f'{interpretation.z_score:+.1f}')}) |",
        "",
        explain_gap(interpretation, lang),
        "",
        *height_lines(analysis.height, lang),
        *_orientation_lines(analysis, lang),
        error_line,
    ]
    if interval and interval.get("measured_coverage") is not None:
        lines.append(
            " "
            + t(
                "interval_explained",
                lang,
                coverage=f"{100 * interval['measured_coverage']:.0f}",
                n=interval["measured_on_n"],
            )
        )
    model = analysis.model
    lines += [
        "",
        f"<small>{t('model_line', lang, name=model.name, version=model.version, architecture=model.architecture)}</small>",
    ]
    return "\n".join(lines)


def shared_markdown(shared, lang: str = "en", serving: ModelInfo | None = None, height=None) -> str:
    """The card of a shared link (``boneage.report.share.SharedResult``), recomputed from its numbers.

    Marked as shared, with no image; says which model made it, and when the app now serves
    another one.
    """
    from boneage.meaning.reference import interpret_gap

    bone, age = shared.bone_age_months, shared.chronological_age_months
    gap = bone - age
    months = t("months", lang)
    meaning = interpret_gap(
        gap,
        age,
        shared.sex,
        shared.model_error_months,
        shared.interval_months,
        shared.interval_level or 0.9,
    )
    lines = [
        t("shared_banner", lang, date=shared.created),
        "",
        f"## {t('bone_age_heading', lang, months=f'{bone:.0f}', words=format_duration(bone, lang))}",
    ]
    if shared.interval_months:
        low, high = shared.interval_months
        lines.append(interval_line(low, high, shared.interval_level or 0.9, lang))
    sd_key = "sd_for_boys" if shared.sex == "male" else "sd_for_girls"
    error = f"{shared.model_error_months:.1f}" if shared.model_error_months is not None else "?"
    lines += [
        "",
        f"| {t('measure', lang)} | {t('value', lang)} |",
        "|---|---|",
        f"| {t('sex_label', lang)} | {t(shared.sex, lang)} |",
        f"| {t('chronological_age', lang)} | {age:.0f} {months} ({format_duration(age, lang)}) |",
        f"| {t('difference', lang)} | {format_difference(gap, lang)} |",
        f"| {t('assessment', lang)} | **{t('category_' + meaning.category, lang)}** "
        f"({t(sd_key, lang, z=f'{meaning.z_score:+.1f}')}) |",
        "",
        explain_gap(meaning, lang),
        "",
        *height_lines(height, lang),
        t("shared_model", lang, name=shared.model_name, version=shared.model_version, error=error),
    ]
    if serving is not None and (serving.name, serving.version) != (shared.model_name, shared.model_version):
        lines.append(" " + t("shared_model_now", lang, name=serving.name, version=serving.version))
    return "\n".join(lines)


def height_lines(height, lang: str = "en") -> list[str]:
    """The card's height part (``boneage.meaning.adult_height.HeightAssessment``), or nothing."""
    if height is None:
        return []
    return [
        f"### {t('height_heading', lang)}",
        "",
        f"| {t('measure', lang)} | {t('value', lang)} |",
        "|---|---|",
        *(f"| {label} | {value} |" for label, value in height_rows(height, lang)),
        "",
        explain_height(height, lang),
        "",
    ]


def height_chart_image(height, sex: str, age_months: float, lang: str = "en") -> np.ndarray | None:
    """The height chart (RGB) for a result with a height part."""
    if height is None:
        return None
    from boneage.meaning.height_chart import height_chart_data, height_chart_rgb

    return height_chart_rgb(height_chart_data(height, sex, age_months), lang)


def no_model_markdown(lang: str = "en") -> str:
    return t("no_model", lang)


def refusal_markdown(title: str, message: str, lang: str = "en", heading_key: str = "refused_heading") -> str:
    """One clear message in place of the result when an upload or an input is refused.

    ``heading_key`` says what was refused: the image (the default), the form, or anything else.
    """
    return f"### ⚠️ {t(heading_key, lang)}\n\n**{title}.** {message}"


def heatmap_view(analysis: Analysis) -> np.ndarray | None:
    """Grad-CAM over the model's view, enlarged like :func:`model_view` (None without a heatmap)."""
    if analysis.heatmap is None:
        return None
    from boneage.model.heatmap import overlay_heatmap

    return _enlarge(overlay_heatmap(analysis.model_input, analysis.heatmap))


def chart_image(analysis: Analysis, lang: str = "en") -> np.ndarray | None:
    """The growth chart (RGB) for a result with a bone age."""
    summary = analysis.to_dict()
    if summary["chart"] is None:
        return None
    from boneage.meaning.chart import growth_chart_rgb

    return growth_chart_rgb(summary["chart"], lang)


def response_folder() -> Path:
    """A fresh private folder for one response's files; folders older than RESPONSE_FILES_S go.

    Gradio copies returned files into its own cache (cleaned by the app's ``delete_cache``); this
    sweep removes our originals, so nothing about a child outlives the response by long.
    """
    root = Path(tempfile.gettempdir()) / "boneage-responses"
    root.mkdir(exist_ok=True)
    cutoff = time.time() - RESPONSE_FILES_S
    for old in root.iterdir():
        try:
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:
            pass
    return Path(tempfile.mkdtemp(dir=root))


def save_report_pdf(analysis: Analysis, lang: str = "en", folder: Path | None = None) -> Path:
    """The one-page PDF report of a result, in ``lang``."""
    from boneage.report.pdf import write_report

    folder = folder or response_folder()
    images = {
        "outline": overlay_hand(analysis),
        "model_view": model_view(analysis),
        "heatmap": heatmap_view(analysis),
    }
    path = folder / f"bone-age-report-{date.today().isoformat()}.pdf"
    height = analysis.height
    words = (
        explain_gap(analysis.interpretation, lang),
        quality_caution(analysis, lang),
        explain_height(height, lang) if height else None,
    )
    sentence = join([text for text in words if text], lang)
    if height is not None:
        images["height_chart"] = height_chart_image(
            height, analysis.sex, analysis.chronological_age_months, lang
        )
    rows = height_rows(height, lang) if height else []
    return write_report(path, analysis.to_dict(), sentence, images, lang, height_rows=rows)


def save_heatmap_png(analysis: Analysis, folder: Path | None = None) -> Path | None:
    image = heatmap_view(analysis)
    if image is None:
        return None
    path = (folder or response_folder()) / "heatmap.png"
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return path
