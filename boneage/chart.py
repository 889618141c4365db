"""The growth chart: chronological age against bone age, with the normal band for the child's sex.

The identity line is "bone age = age"; the shaded bands are ±1 and ±2 reference standard
deviations (Greulich & Pyle, Brush Foundation) around it; the child is one point with the
model's interval as an error bar. :func:`chart_data` gives the same numbers for the API.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display on a server; set before pyplot is imported

import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from boneage.i18n import font_family, t  # noqa: E402
from boneage.inputs import Sex  # noqa: E402
from boneage.reference import reference_sd_months  # noqa: E402

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


def growth_chart(data: dict, lang: str = "en") -> Figure:
    """A matplotlib figure of :func:`chart_data`'s numbers, labelled in ``lang``."""
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
    if low_high:
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


def figure_png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def figure_rgb(figure: Figure) -> np.ndarray:
    """The figure as an (H, W, 3) uint8 array, for gr.Image and the PDF."""
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
