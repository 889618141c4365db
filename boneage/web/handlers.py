"""What the page's buttons and switches do; each handler returns Gradio updates for its outputs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from boneage import __version__
from boneage.io.decode import load_radiograph
from boneage.io.inputs import age_from_years_months, parse_heights
from boneage.meaning.chart import chart_data, growth_chart_rgb
from boneage.report.card import (
    chart_image,
    heatmap_view,
    height_chart_image,
    model_view,
    no_model_markdown,
    overlay_hand,
    preview_image,
    refusal_markdown,
    result_markdown,
    save_report_pdf,
    shared_markdown,
)
from boneage.report.share import (
    QUERY_KEY,
    InvalidShareLinkError,
    SharedResult,
    decode,
    encode,
    public_base_url,
    share_url,
)
from boneage.web.served import ServedModel, message, refusal_heading_key, refuse
from boneage.web.settings import EXAMPLES, EXAMPLES_DIR
from boneage.words import LANGUAGE_NAMES, format_duration, normalise_language, t

log = logging.getLogger("boneage.app")


def shown(value) -> dict:
    """A result panel: shown with its value, hidden while there is none (a tidy page on a phone)."""
    return gr.update(value=value, visible=value is not None)


def example_items(lang: str) -> list[tuple[str, str]]:
    """(thumbnail path, caption) for the atlas examples that ship in examples/."""
    items = []
    for name, (sex, years, months) in EXAMPLES.items():
        path = EXAMPLES_DIR / f"{name}.png"
        if path.is_file():
            age = format_duration(12 * years + months, lang)
            items.append((str(path), t("example_caption", lang, sex=t(sex, lang), age=age)))
    return items


def footer(lang: str) -> str:
    return t("disclaimer", lang) + f"\n\n<small>Bone Age {__version__}</small>"


def preview(file_path):
    """On upload: show the decoded image and prefill sex/age from a DICOM header."""
    if not file_path:
        return None, gr.update(), gr.update(), gr.update()
    try:
        radiograph = load_radiograph(Path(file_path))
    except Exception:  # the estimate button explains; a preview failure needs no second message
        return None, gr.update(), gr.update(), gr.update()
    meta = radiograph.metadata
    sex = meta.get("sex") if meta.get("sex") in ("male", "female") else gr.update()
    if "age_months" in meta:
        years, months = divmod(round(meta["age_months"]), 12)
    else:
        years, months = gr.update(), gr.update()
    return preview_image(radiograph.pixels), sex, years, months


def pick_example(evt: gr.SelectData):
    name = list(EXAMPLES)[evt.index]
    sex, years, months = EXAMPLES[name]
    path = str(EXAMPLES_DIR / f"{name}.png")
    return path, preview(path)[0], sex, years, months


@dataclass
class Handlers:
    """The page's handlers, bound to the served model and the secret that signs share links."""

    served: ServedModel
    share_secret: bytes

    def placeholder(self, lang: str) -> str:
        return t("result_placeholder", lang) if self.served.background else no_model_markdown(lang)

    def _analyse(self, file_path, sex, years, months, lang, heights, heatmap=False):
        """The form's values, checked, to an ``Analysis``; ``heights`` is (unit, child, mother, father)."""
        age = age_from_years_months(years, months)
        unit, child, mother, father = heights
        measured = parse_heights(child, mother, father, unit)
        return self.served.analyse(file_path, sex, age, lang, heatmap=heatmap, heights=measured)

    def estimate(
        self,
        file_path,
        sex,
        years,
        months,
        lang,
        unit="cm",
        height="",
        mother="",
        father="",
        with_heatmap=False,
    ):
        """The bone age first; the heatmap only while its switch is on, the PDF on request.

        A refused upload is one clear message in the result card; no error badges. Outputs: the
        card, the outline, the model's view, the heatmap, the chart, the height chart (only with a
        height), the report button, the report file (emptied: it belonged to the last result), the
        share button, the link and its send button (emptied likewise), the JSON.
        """
        lang = normalise_language(lang)
        try:
            heights = (unit, height, mother, father)
            result = self._analyse(file_path, sex, years, months, lang, heights, heatmap=bool(with_heatmap))
        except Exception as exc:
            title, text = message(exc, lang)
            log.info("Refused in the UI: %s", title)
            hidden, button_hidden = shown(None), gr.update(visible=False)
            return (
                refusal_markdown(title, text, lang, refusal_heading_key(exc)),
                *(hidden, hidden, gr.update(value=None), hidden, hidden),  # outline, view, heatmap, charts
                *(button_hidden, hidden, button_hidden, hidden, button_hidden),  # report, share
                {"error": text},
            )
        has_bone_age = result.bone_age_months is not None
        return (
            result_markdown(result, lang) if has_bone_age else no_model_markdown(lang),
            shown(overlay_hand(result)),
            shown(model_view(result)),
            gr.update(value=heatmap_view(result)),  # shown by the heatmap switch
            shown(chart_image(result, lang) if has_bone_age else None),
            shown(height_chart_image(result.height, result.sex, result.chronological_age_months, lang)),
            gr.update(visible=has_bone_age),
            shown(None),
            gr.update(visible=has_bone_age),
            gr.update(value="", visible=False),  # a link belongs to the result it was made for
            gr.update(visible=False),
            result.to_dict(),
        )

    def show_heatmap(self, on, file_path, sex, years, months, lang, *heights):
        """The heatmap switch: Grad-CAM is made when it is turned on, not for every answer."""
        if not on:
            return gr.update(visible=True), gr.update(visible=False)
        try:
            result = self._analyse(file_path, sex, years, months, lang, heights, heatmap=True)
        except Exception:  # no result yet (or a refused one): the card already says why
            return gr.update(visible=False), gr.update(value=None, visible=True)
        return gr.update(visible=False), gr.update(value=heatmap_view(result), visible=True)

    def make_report(self, file_path, sex, years, months, lang, *heights):
        """The report button: the one-page PDF, made only when someone asks for it."""
        lang = normalise_language(lang)
        try:
            result = self._analyse(file_path, sex, years, months, lang, heights, heatmap=True)
        except Exception as exc:
            raise refuse(exc, lang) from None
        if result.bone_age_months is None:
            return shown(None)
        return shown(str(save_report_pdf(result, lang)))

    def share_result(
        self, file_path, sex, years, months, lang, unit, height, mother, father, request: gr.Request
    ):
        """The share button: a signed link holding the result's numbers only (boneage.report.share).

        The result is computed again here, on the server: a link is signed only for a bone age the
        model gave, never for numbers sent by the browser.
        """
        lang = normalise_language(lang)
        try:
            result = self._analyse(file_path, sex, years, months, lang, (unit, height, mother, father))
        except Exception as exc:
            raise refuse(exc, lang) from None
        if result.bone_age_months is None:
            return gr.update(visible=False), gr.update(visible=False)
        token = encode(SharedResult.from_analysis(result, lang), self.share_secret)
        url = share_url(public_base_url(dict(request.headers) if request else {}), token)
        return gr.update(value=url, visible=True), gr.update(visible=True)

    def open_shared(self, lang, request: gr.Request):
        """On page load: a shared link's card and chart, recomputed from its numbers (no image)."""
        token = request.query_params.get(QUERY_KEY) if request else None
        if not token:
            return gr.update(), gr.update(), gr.update()
        lang = normalise_language(lang)
        try:
            shared = decode(token, self.share_secret)
        except InvalidShareLinkError as exc:
            title, text = message(exc, lang)
            log.info("Shared link refused: %s", title)
            return refusal_markdown(title, text, lang, refusal_heading_key(exc)), shown(None), shown(None)
        data = chart_data(
            shared.sex, shared.chronological_age_months, shared.bone_age_months, shared.interval_months
        )
        height = shared.height_assessment()
        return (
            shared_markdown(shared, lang, self.served.info, height),
            shown(growth_chart_rgb(data, lang)),
            shown(height_chart_image(height, shared.sex, shared.chronological_age_months, lang)),
        )

    def relabel(self, lang, card=None) -> dict[str, dict]:
        """Every visible text in ``lang`` (the language switch and the browser's language), by the
        name of the component it belongs to (``Page``). The result card is relabelled only while
        it shows a placeholder."""
        lang = normalise_language(lang)
        placeholders = {t("result_placeholder", code) for code in LANGUAGE_NAMES} | {
            t("no_model", code) for code in LANGUAGE_NAMES
        }
        waiting = not card or card in placeholders
        sexes = [(t("female", lang), "female"), (t("male", lang), "male")]
        units = [(t("unit_cm", lang), "cm"), (t("unit_ft_in", lang), "ft_in")]
        return {
            "result": self.placeholder(lang) if waiting else gr.update(),
            "title": f"# {t('app_title', lang)}\n{t('app_intro', lang)}",
            "status": self.served.status_html(lang),
            "sex": gr.update(label=t("sex_label", lang), choices=sexes),
            "height_unit": gr.update(label=t("height_units", lang), choices=units),
            **{
                name: gr.update(label=t(f"{key}_label", lang), placeholder=t("height_placeholder", lang))
                for name, key in HEIGHT_BOXES.items()
            },
            "gallery": gr.update(label=t("examples_label", lang), value=example_items(lang)),
            "disclaimer": footer(lang),
            **{name: gr.update(label=t(key, lang)) for name, key in LABELS.items()},
            **{name: gr.update(value=t(key, lang)) for name, key in BUTTONS.items()},
        }


# Components whose text is a label, and buttons whose text is their value: the Page's name for
# each, and its catalogue key (see ``relabel``).
LABELS = {
    "upload": "upload_label", "years": "age_years", "months": "age_months", "uploaded": "your_upload",
    "outline": "outline_label", "processed": "model_view_label", "report": "report_label",
    "share_link": "share_link_label", "show_heat": "heatmap_toggle", "chart": "chart_label",
    "details": "details_label", "language": "language", "height_chart": "height_chart_label",
    "height_box": "height_section",
}  # fmt: skip
HEIGHT_BOXES = {"height": "child_height", "mother_height": "mother_height", "father_height": "father_height"}
BUTTONS = {
    "button": "estimate_button", "report_button": "report_button", "share_button": "share_button",
    "send_link": "send_link",
}  # fmt: skip
RELABELLED = (
    "result",
    "title",
    "status",
    "sex",
    "height_unit",
    *HEIGHT_BOXES,
    "gallery",
    "disclaimer",
    *LABELS,
    *BUTTONS,
)
