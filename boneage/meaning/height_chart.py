"""The height chart: the CDC 2000 centiles for the child's sex, the child today, the predicted
adult height with its interval at the end of growth, and the parents' target range beside it.

As with the bone-age chart (:mod:`boneage.meaning.chart`), the centile curves are the same for
every child of one sex, so they are drawn once per sex and language with matplotlib and kept as
pixels; a request only draws its own points with OpenCV. :func:`height_chart_data` gives the
same numbers for the API.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from boneage.io.inputs import Sex
from boneage.meaning.adult_height import HeightAssessment
from boneage.meaning.chart import figure_rgb
from boneage.meaning.growth import GrowthReference
from boneage.meaning.typeface import font_family
from boneage.words import t

CENTILE_SDS = {3: -1.8808, 10: -1.2816, 25: -0.6745, 50: 0.0, 75: 0.6745, 90: 1.2816, 97: 1.8808}
AGES_MONTHS = np.arange(0, 241, 3, dtype=float)
X_MAX, Y_RANGE = 21.5, (40.0, 210.0)  # years; cm. Past 20 years: the adult height and the target
ADULT_X, TARGET_X = 20.3, 21.0
CHILD_RGB, PREDICTION_RGB, TARGET_RGB = (0xC0, 0x39, 0x2B), (0x8E, 0x44, 0xAD), (0x27, 0xAE, 0x60)


def height_chart_data(height: HeightAssessment, sex: Sex, age_months: float) -> dict:
    """The child's points on the chart, in years and cm (the curves are the reference's)."""
    prediction, target = height.prediction, height.target
    return {
        "sex": sex,
        "child": (
            {"age_years": round(age_months / 12, 2), "height_cm": round(height.inputs.child.cm, 1)}
            if height.inputs.child
            else None
        ),
        "prediction_cm": (
            [round(prediction.low_cm, 1), round(prediction.cm, 1), round(prediction.high_cm, 1)]
            if prediction
            else None
        ),
        "target_cm": [round(target.low_cm, 1), round(target.cm, 1), round(target.high_cm, 1)]
        if target
        else None,
    }


def _figure(sex: Sex, lang: str) -> Figure:
    """The centiles for ``sex``, labelled in ``lang``, with legend entries for the child's marks."""
    reference = GrowthReference.cdc2000()
    figure = Figure(figsize=(5.2, 4.4), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    family = font_family(lang)
    years = AGES_MONTHS / 12
    for centile, sds in CENTILE_SDS.items():
        heights = [reference.height_at(sds, age, sex) for age in AGES_MONTHS]
        bold = centile in (3, 50, 97)
        axes.plot(
            years, heights, color="#2e86c1" if bold else "#aed6f1", linewidth=1.3 if bold else 0.8,
            label=t("hchart_centiles", lang) if centile == 50 else None,
        )  # fmt: skip
        if bold:
            axes.annotate(
                f"{centile}", (20, heights[-1]), xytext=(2, -3), textcoords="offset points", fontsize=7
            )
    axes.axvline(20, color="#cccccc", linewidth=0.8)
    axes.plot([np.nan], [np.nan], "o", color=np.array(CHILD_RGB) / 255, label=t("hchart_child", lang))
    axes.errorbar([np.nan], [np.nan], yerr=[[1], [1]], fmt="s", color=np.array(PREDICTION_RGB) / 255,
                  capsize=4, label=t("hchart_prediction", lang))  # fmt: skip
    axes.plot([np.nan], [np.nan], "-", linewidth=6, color=np.array(TARGET_RGB) / 255, alpha=0.6,
              label=t("hchart_target", lang))  # fmt: skip
    axes.set_xlim(0, X_MAX)
    axes.set_ylim(*Y_RANGE)
    axes.set_xticks(range(0, 21, 2))
    axes.grid(True, color="#eeeeee", linewidth=0.6)
    axes.set_xlabel(t("hchart_x", lang), fontfamily=family)
    axes.set_ylabel(t("hchart_y", lang), fontfamily=family)
    axes.set_title(t(f"hchart_title_{sex}", lang), fontfamily=family, fontsize=11)
    axes.legend(loc="upper left", fontsize=8, prop={"family": family, "size": 8})
    figure.tight_layout()
    return figure


@dataclass(frozen=True)
class _Background:
    pixels: np.ndarray
    origin: tuple[float, float]  # pixel (x, y) of (0 years, Y_RANGE[0] cm)
    per_unit: tuple[float, float]  # pixels per year, per cm (y grows downwards)


_backgrounds: dict[tuple[str, str], _Background] = {}
_lock = threading.Lock()


def _background(sex: Sex, lang: str) -> _Background:
    with _lock:
        if (sex, lang) not in _backgrounds:
            figure = _figure(sex, lang)
            pixels = figure_rgb(figure)
            pixels.setflags(write=False)
            (x0, y0), (x1, y1) = figure.axes[0].transData.transform([(0.0, Y_RANGE[0]), (X_MAX, Y_RANGE[1])])
            height = pixels.shape[0]
            span = Y_RANGE[1] - Y_RANGE[0]
            _backgrounds[(sex, lang)] = _Background(
                pixels, (x0, height - y0), ((x1 - x0) / X_MAX, -(y1 - y0) / span)
            )
        return _backgrounds[(sex, lang)]


def height_chart_rgb(data: dict, lang: str = "en") -> np.ndarray:
    """The chart as an RGB array: the cached centiles plus this child's marks."""
    background = _background(data["sex"], lang)
    image = background.pixels.copy()
    shift, scale = 3, 8

    def at(x: float, cm: float) -> tuple[int, int]:
        px = background.origin[0] + background.per_unit[0] * np.clip(x, 0.0, X_MAX)
        py = background.origin[1] + background.per_unit[1] * (np.clip(cm, *Y_RANGE) - Y_RANGE[0])
        return int(round(px * scale)), int(round(py * scale))

    if data["target_cm"]:
        low, _, high = data["target_cm"]
        overlay = image.copy()
        cv2.line(overlay, at(TARGET_X, low), at(TARGET_X, high), TARGET_RGB, 9, cv2.LINE_AA, shift=shift)
        image = cv2.addWeighted(overlay, 0.6, image, 0.4, 0)
    if data["prediction_cm"]:
        low, cm, high = data["prediction_cm"]
        bottom, top = at(ADULT_X, low), at(ADULT_X, high)
        cv2.line(image, bottom, top, PREDICTION_RGB, 2, cv2.LINE_AA, shift=shift)
        for end in (bottom, top):
            cv2.line(image, (end[0] - 5 * scale, end[1]), (end[0] + 5 * scale, end[1]), PREDICTION_RGB, 2,
                     cv2.LINE_AA, shift=shift)  # fmt: skip
        x, y = at(ADULT_X, cm)
        cv2.rectangle(image, (x - 5 * scale, y - 5 * scale), (x + 5 * scale, y + 5 * scale), PREDICTION_RGB, -1,
                      cv2.LINE_AA, shift=shift)  # fmt: skip
    if data["child"]:
        centre = at(data["child"]["age_years"], data["child"]["height_cm"])
        cv2.circle(image, centre, 6 * scale, CHILD_RGB, -1, cv2.LINE_AA, shift=shift)
    return image
