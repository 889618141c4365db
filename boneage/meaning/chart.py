"""The growth chart: chronological age against bone age, with the normal band for the child's sex.

The identity line is "bone age = age"; the shaded bands are ±1 and ±2 reference standard
deviations (Greulich & Pyle, Brush Foundation) around it; the child is one point with the
model's interval as an error bar. :func:`chart_data` gives the same numbers for the API.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no display on a server; set before pyplot is imported

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from boneage.io.inputs import Sex  # noqa: E402
from boneage.meaning.reference import reference_sd_months  # noqa: E402
from boneage.meaning.typeface import font_family  # noqa: E402
from boneage.words import t  # noqa: E402

AGES_MONTHS = np.arange(0, 241, 6, dtype=float)


def chart_data(
    sex: Sex, age_months: float, bone_age_months: float, interval: tuple[float, float] | None
) -> dict:
    """The chart as numbers (years): reference band per age and the child's point."""
    sd = np.array([reference_sd_months(a, sex) for a in AGES_MONTHS])
    return {
        "sex": sex,
        "age_years": (AGES_MONTHS / 12).round(2).tolist(),
        "sd_years": (sd / 12).round(3).tolist(),
        "child": {
            "age_years": round(age_months / 12, 2),
            "bone_age_years": round(bone_age_months / 12, 2),
            "interval_years": [round(v / 12, 2) for v in interval] if interval else None,
        },
    }


CHILD_RGB = (0xC0, 0x39, 0x2B)


def growth_chart(data: dict, lang: str = "en", draw_child: bool = True) -> Figure:
    """A matplotlib figure of :func:`chart_data`'s numbers, labelled in ``lang``.

    ``draw_child=False`` leaves the child out (its legend entry stays): the background that
    :func:`growth_chart_rgb` draws once and reuses.
    """
    ages, sd = np.array(data["age_years"]), np.array(data["sd_years"])
    child = data["child"]
    figure = Figure(figsize=(5.2, 4.4), dpi=120)
    FigureCanvasAgg(figure)  # thread-safe: no pyplot state is shared between requests
    axes = figure.subplots()
    family = font_family(lang)
    axes.fill_between(ages, ages - 2 * sd, ages + 2 * sd, color="#d6eaf8", label=t("chart_band2", lang))
    axes.fill_between(ages, ages - sd, ages + sd, color="#aed6f1", label=t("chart_band1", lang))
    axes.plot(ages, ages, color="#2e86c1", linewidth=1.2, label=t("chart_identity", lang))
    low_high = child["interval_years"]
    if not draw_child:
        axes.errorbar(
            [np.nan], [np.nan], yerr=[[1.0], [1.0]], fmt="o", color="#c0392b", ecolor="#c0392b",
            capsize=5, markersize=7, label=t("chart_child", lang),
        )  # fmt: skip
    elif low_high:
        below, above = child["bone_age_years"] - low_high[0], low_high[1] - child["bone_age_years"]
        axes.errorbar(
            child["age_years"], child["bone_age_years"], yerr=[[below], [above]], fmt="o", color="#c0392b",
            ecolor="#c0392b", capsize=5, markersize=7, label=t("chart_child", lang),
        )  # fmt: skip
    else:
        axes.plot(
            child["age_years"], child["bone_age_years"], "o", color="#c0392b", label=t("chart_child", lang)
        )
    axes.set_xlim(0, 20)
    axes.set_ylim(0, 20)
    axes.set_xticks(range(0, 21, 2))
    axes.set_yticks(range(0, 21, 2))
    axes.grid(True, color="#eeeeee", linewidth=0.6)
    axes.set_xlabel(t("chart_x", lang), fontfamily=family)
    axes.set_ylabel(t("chart_y", lang), fontfamily=family)
    title = t("chart_title_male" if data["sex"] == "male" else "chart_title_female", lang)
    axes.set_title(title, fontfamily=family, fontsize=11)
    axes.legend(loc="upper left", fontsize=8, prop={"family": family, "size": 8})
    figure.tight_layout()
    return figure


def figure_rgb(figure: Figure) -> np.ndarray:
    """The figure as an (H, W, 3) uint8 array, for gr.Image and the PDF."""
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


@dataclass(frozen=True)
class _Background:
    """A chart without the child, as pixels, and how to place a point in years on it."""

    pixels: np.ndarray  # (H, W, 3) uint8, read-only
    origin: tuple[float, float]  # pixel (x, y) of (0 years, 0 years)
    pixels_per_year: tuple[float, float]  # x grows to the right, y grows downwards


_backgrounds: dict[tuple, _Background] = {}
_backgrounds_lock = threading.Lock()


def _background(data: dict, lang: str) -> _Background:
    """The chart for this sex and language without the child: drawn once, then reused."""
    key = (data["sex"], lang, tuple(data["age_years"]), tuple(data["sd_years"]))
    with _backgrounds_lock:
        if key not in _backgrounds:
            figure = growth_chart(data, lang, draw_child=False)
            pixels = figure_rgb(figure)
            pixels.setflags(write=False)
            to_pixels = figure.axes[0].transData
            (x0, y0), (x1, y1) = to_pixels.transform([(0.0, 0.0), (20.0, 20.0)])
            height = pixels.shape[0]  # matplotlib counts y from the bottom, images from the top
            _backgrounds[key] = _Background(pixels, (x0, height - y0), ((x1 - x0) / 20.0, -(y1 - y0) / 20.0))
        return _backgrounds[key]


def growth_chart_rgb(data: dict, lang: str = "en") -> np.ndarray:
    """:func:`growth_chart` as an RGB array, fast: the cached background plus the child's point.

    Drawing the whole figure with matplotlib took 0.17 s a request; the reference bands are the
    same for every child of one sex, so only the point and its interval are drawn here (OpenCV,
    anti-aliased), in about a millisecond. The PDF keeps the full matplotlib figure.
    """
    background = _background(data, lang)
    image = background.pixels.copy()
    child = data["child"]
    scale = 8  # sub-pixel positions: OpenCV's shift argument

    def at(x_years: float, y_years: float) -> tuple[int, int]:
        x = background.origin[0] + background.pixels_per_year[0] * np.clip(x_years, 0.0, 20.0)
        y = background.origin[1] + background.pixels_per_year[1] * np.clip(y_years, 0.0, 20.0)
        return int(round(x * scale)), int(round(y * scale))

    colour = CHILD_RGB
    centre = at(child["age_years"], child["bone_age_years"])
    if child["interval_years"]:
        low, high = child["interval_years"]
        bottom, top = at(child["age_years"], low), at(child["age_years"], high)
        cv2.line(image, bottom, top, colour, 2, cv2.LINE_AA, shift=3)
        cap = 8 * scale
        for end in (bottom, top):
            cv2.line(image, (end[0] - cap, end[1]), (end[0] + cap, end[1]), colour, 2, cv2.LINE_AA, shift=3)
    cv2.circle(image, centre, 6 * scale, colour, -1, cv2.LINE_AA, shift=3)
    return image
