"""A one-page PDF a parent can keep and a doctor can file.

Drawn with matplotlib (already a dependency) on an A4 page: the numbers with the interval, the
meaning, the growth chart, the upload with its outline, the image the model used and where it
looked, the model with its validation error, the not-a-diagnosis note and the date. Chinese
text uses the shipped Noto Sans TC subset (see :mod:`boneage.meaning.typeface`). The file is written to a
temporary folder for the one response; the app's cache cleaner deletes it shortly after.
"""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_pdf import FigureCanvasPdf
from matplotlib.figure import Figure

from boneage import __version__
from boneage.meaning.chart import figure_rgb, growth_chart
from boneage.meaning.typeface import font_family
from boneage.words import format_difference, format_duration, t

A4_INCHES = (8.27, 11.69)


def _wrap(text: str, lang: str, width: int) -> str:
    text = text.replace("**", "")
    if lang == "zh-TW":  # no spaces between words: wrap by characters
        return "\n".join(text[i : i + width // 2] for i in range(0, len(text), width // 2))
    return "\n".join(textwrap.wrap(text, width))


def report_lines(summary: dict, lang: str) -> list[tuple[str, str]]:
    """(label, value) rows of the report's table, from :meth:`Analysis.to_dict`'s summary."""
    bone, age, gap = summary["bone_age_months"], summary["chronological_age_months"], summary["gap_months"]
    rows = [
        (t("report_sex", lang), t(summary["sex"], lang)),
        (t("chronological_age", lang), f"{age:.0f} {t('months', lang)} ({format_duration(age, lang)})"),
        (t("bone_age", lang), f"{bone:.0f} {t('months', lang)} ({format_duration(bone, lang)})"),
    ]
    interval = summary.get("interval")
    if interval:
        rows.append(
            (
                t("interval", lang, level=round(100 * interval["level"])),
                f"{interval['low_months']:.0f}–{interval['high_months']:.0f} {t('months', lang)}",
            )
        )
    rows.append((t("difference", lang), format_difference(gap, lang)))
    category = summary["interpretation"]["category"]
    rows.append((t("assessment", lang), t(f"category_{category}", lang)))
    model = summary["model"]
    rows.append((t("report_model", lang), f"{model['name']} v{model['version']}"))
    if model.get("validation_mae_months") is not None:
        rows.append(
            (t("report_validation", lang), f"±{model['validation_mae_months']:.1f} {t('months', lang)}")
        )
    return rows


def write_report(
    path: Path,
    summary: dict,
    sentence: str,
    images: dict[str, np.ndarray],
    lang: str = "en",
    created: date | None = None,
    height_rows: list[tuple[str, str]] | None = None,
) -> Path:
    """Write the one-page PDF to ``path``. ``images``: outline, model_view and heatmap (RGB), and
    the height chart where a height was given; ``height_rows`` its numbers, as the card words them."""
    figure = Figure(figsize=A4_INCHES)
    FigureCanvasPdf(figure)
    text = dict(fontfamily=font_family(lang), transform=figure.transFigure)
    bold = "bold" if lang == "en" else "normal"  # the Chinese subset has one weight
    figure.text(0.07, 0.955, t("report_title", lang), fontsize=20, weight=bold, **text)
    created_line = t("report_created", lang, date=(created or date.today()).isoformat(), version=__version__)
    figure.text(0.07, 0.935, created_line, fontsize=9, color="#555555", **text)
    y = 0.9
    for label, value in report_lines(summary, lang):
        figure.text(0.07, y, label, fontsize=10.5, color="#333333", **text)
        figure.text(0.40, y, value, fontsize=10.5, weight=bold, **text)
        y -= 0.022 if not height_rows else 0.018
    for label, value in height_rows or []:  # longer values (feet and inches with cm): smaller, wrapped
        top = y + 0.011  # label and value from the top, so a wrapped value grows downwards
        figure.text(0.07, top, label, fontsize=10.5, color="#333333", va="top", **text)
        lines = _wrap(value, lang, 64).splitlines()
        figure.text(0.40, top, "\n".join(lines), fontsize=9.5, weight=bold, va="top", linespacing=1.3, **text)
        y -= 0.018 + 0.012 * (len(lines) - 1)
    size = 9.5 if not height_rows else 8.5
    figure.text(0.07, y - 0.005, _wrap(sentence, lang, 115), fontsize=size, va="top", linespacing=1.4, **text)
    chart = figure_rgb(growth_chart(summary["chart"], lang))
    if images.get("height_chart") is None:
        _image(figure, chart, [0.22, 0.40, 0.56, 0.25])
    else:  # the two charts side by side, a little smaller
        _image(figure, chart, [0.05, 0.372, 0.44, 0.18])
        _image(figure, images["height_chart"], [0.51, 0.372, 0.44, 0.18])
    _images_row(figure, images, lang, text)
    disclaimer = _wrap(t("disclaimer", lang), lang, 105)
    figure.text(0.07, 0.125, disclaimer, fontsize=9, va="top", linespacing=1.5, **text)
    privacy = _wrap(t("report_privacy", lang), lang, 105)
    figure.text(0.07, 0.045, privacy, fontsize=8, color="#555555", va="top", **text)
    figure.savefig(path, format="pdf")
    return Path(path)


# The row of images under the chart: where each sits on the page, and its caption.
_IMAGE_BOXES = {
    "outline": ([0.05, 0.15, 0.29, 0.2], "report_outline"),
    "model_view": ([0.36, 0.15, 0.29, 0.2], "report_model_view"),
    "heatmap": ([0.67, 0.15, 0.29, 0.2], "report_heatmap"),
}


def _images_row(figure: Figure, images: dict[str, np.ndarray], lang: str, text: dict) -> None:
    for key, (box, caption) in _IMAGE_BOXES.items():
        if images.get(key) is not None:
            _image(figure, images[key], box)
            x, y = box[0] + box[2] / 2, box[1] + box[3] + 0.006
            figure.text(x, y, t(caption, lang), ha="center", fontsize=9, **text)


def _image(figure: Figure, image: np.ndarray, box: list[float]) -> None:
    """Embed ``image`` with its own pixels: resampled (as with "lanczos") the model's view became
    too coarse to print, and the report took longer to write."""
    axes = figure.add_axes(box)
    axes.imshow(image, cmap="gray" if image.ndim == 2 else None, interpolation="none")
    axes.set_axis_off()
