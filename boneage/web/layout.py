"""The page: its components (``Page``), then its events, then the API endpoints, each built apart.

``build_demo`` is the whole app; ``app.py`` only starts the model and launches it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import gradio as gr

from boneage.web.api import Endpoints
from boneage.web.handlers import RELABELLED, Handlers, example_items, footer, pick_example, preview
from boneage.web.settings import (
    BROWSER_LANGUAGE,
    FONT_DIR,
    KEEP_FILES_S,
    LANGUAGE_CHOICES,
    SCROLL_TO_RESULT,
    SEND_LINK,
)
from boneage.words import t

FIRST_LANGUAGE = "en"  # the browser's language replaces it on load


@dataclass
class Page:
    """Every component a handler reads or updates."""

    title: gr.Markdown
    language: gr.Radio
    status: gr.Markdown
    upload: gr.File
    sex: gr.Radio
    years: gr.Number
    months: gr.Number
    height_box: gr.Accordion
    height_unit: gr.Radio
    height: gr.Textbox
    mother_height: gr.Textbox
    father_height: gr.Textbox
    button: gr.Button
    uploaded: gr.Image
    gallery: gr.Gallery
    result: gr.Markdown
    disclaimer: gr.Markdown
    chart: gr.Image
    height_chart: gr.Image
    report_button: gr.Button
    share_button: gr.Button
    share_link: gr.Textbox
    send_link: gr.Button
    report: gr.File
    outline: gr.Image
    processed: gr.Image
    heat: gr.Image
    show_heat: gr.Checkbox
    details: gr.Accordion
    summary: gr.JSON

    @property
    def form(self) -> list:
        return [
            self.upload, self.sex, self.years, self.months, self.language,
            self.height_unit, self.height, self.mother_height, self.father_height,
        ]  # fmt: skip

    @property
    def answer(self) -> list:
        """What ``Handlers.estimate`` returns, in order."""
        names = (
            "result outline processed heat chart height_chart report_button report share_button share_link "
            "send_link summary"
        )
        return [getattr(self, name) for name in names.split()]

    @property
    def texts(self) -> list:
        """Every component ``Handlers.relabel`` gives words to."""
        return [getattr(self, name) for name in RELABELLED]

    def by_component(self, handler):
        """``handler`` answering with {component: update} where it names them (Gradio's dict output)."""

        @functools.wraps(handler)
        def answer(*args):
            return {getattr(self, name): update for name, update in handler(*args).items()}

        return answer


def build_demo(handlers: Handlers, endpoints: Endpoints, concurrency: int) -> gr.Blocks:
    gr.set_static_paths([str(FONT_DIR)])
    with gr.Blocks(
        title="Bone Age — skeletal age from a hand X-ray", delete_cache=(KEEP_FILES_S // 2, KEEP_FILES_S)
    ) as demo:
        header = _header(handlers)
        with gr.Row():
            page = Page(**header, **_form(), **_result_panel(handlers))
        # The UI and the API share one pool of model workers.
        on_model = {"concurrency_limit": concurrency, "concurrency_id": "model"}
        _wire_page(demo, page, handlers, on_model)
        _wire_api(page.upload, endpoints, on_model)
    return demo


def _header(handlers: Handlers) -> dict:
    lang = FIRST_LANGUAGE
    with gr.Row(equal_height=False):
        # On a phone the row wraps: the intro keeps the whole width, the language goes below it.
        with gr.Column(scale=1, min_width=360):
            title = gr.Markdown(f"# {t('app_title', lang)}\n{t('app_intro', lang)}", elem_id="intro")
        language = gr.Radio(
            LANGUAGE_CHOICES,
            value=lang,
            label=t("language", lang),
            elem_id="language",
            scale=0,
            min_width=200,
        )
    status = gr.Markdown(handlers.served.status_html(lang), elem_id="model-status")
    return {"title": title, "language": language, "status": status}


def _form() -> dict:
    lang = FIRST_LANGUAGE
    with gr.Column(scale=1, min_width=300):
        # No file_types: content is sniffed, and PACS exports often have no extension.
        upload = gr.File(label=t("upload_label", lang), type="filepath", elem_id="upload")
        sex = gr.Radio(
            [(t("female", lang), "female"), (t("male", lang), "male")],
            label=t("sex_label", lang),
            elem_id="sex",
        )
        # No minimum, maximum or rounding here: Gradio would refuse 25 years in its own English
        # words, and would refuse 0 years 18 months (an infant's age as parents say it).
        # age_from_years_months checks the age and explains, in the page's language.
        with gr.Row():
            years = gr.Number(label=t("age_years", lang), elem_id="age-years", min_width=100)
            months = gr.Number(label=t("age_months", lang), value=0, elem_id="age-months", min_width=100)
        heights = _height_inputs(lang)
        button = gr.Button(t("estimate_button", lang), variant="primary", elem_id="estimate")
        uploaded = gr.Image(label=t("your_upload", lang), interactive=False, height=240)
        gallery = gr.Gallery(
            example_items(lang), label=t("examples_label", lang), columns=2, height="auto",
            allow_preview=False, object_fit="contain", interactive=False, elem_id="examples",
        )  # fmt: skip
    return {
        "upload": upload, "sex": sex, "years": years, "months": months, **heights, "button": button,
        "uploaded": uploaded, "gallery": gallery,
    }  # fmt: skip


def _height_inputs(lang: str) -> dict:
    """The optional heights, folded away: without them the page and the answer are as before.

    Text, not numbers: '132.5', '4 ft 4 in' and "4' 4\"" are all heights (io.inputs.parse_height),
    and a bad one is explained in the page's language, not refused by the browser in English.
    """
    with gr.Accordion(t("height_section", lang), open=False, elem_id="height-box") as height_box:
        height_unit = gr.Radio(
            [(t("unit_cm", lang), "cm"), (t("unit_ft_in", lang), "ft_in")], value="cm",
            label=t("height_units", lang), elem_id="height-unit",
        )  # fmt: skip
        boxes = {
            name: gr.Textbox(label=t(f"{name}_label", lang), placeholder=t("height_placeholder", lang),
                             elem_id=name.replace("_", "-"), max_lines=1)
            for name in ("child_height", "mother_height", "father_height")
        }  # fmt: skip
    return {
        "height_box": height_box, "height_unit": height_unit, "height": boxes["child_height"],
        "mother_height": boxes["mother_height"], "father_height": boxes["father_height"],
    }  # fmt: skip


def _result_panel(handlers: Handlers) -> dict:
    lang = FIRST_LANGUAGE
    image = {"interactive": False, "visible": False}
    with gr.Column(scale=2, min_width=300):
        result = gr.Markdown(handlers.placeholder(lang), elem_id="result")
        disclaimer = gr.Markdown(footer(lang), elem_id="disclaimer")
        chart = gr.Image(label=t("chart_label", lang), elem_id="chart", height=380, **image)
        height_chart = gr.Image(
            label=t("height_chart_label", lang), elem_id="height-chart", height=380, **image
        )
        report_button = gr.Button(t("report_button", lang), size="sm", elem_id="make-report", visible=False)
        share_button = gr.Button(t("share_button", lang), size="sm", elem_id="share", visible=False)
        share_link = gr.Textbox(
            label=t("share_link_label", lang), interactive=False, buttons=["copy"], elem_id="share-link",
            visible=False,
        )  # fmt: skip
        send_link = gr.Button(t("send_link", lang), size="sm", elem_id="send-link", visible=False)
        report = gr.File(label=t("report_label", lang), interactive=False, elem_id="report", visible=False)
        with gr.Row():
            outline = gr.Image(label=t("outline_label", lang), height=340, elem_id="outline", **image)
            processed = gr.Image(label=t("model_view_label", lang), height=340, elem_id="model-view", **image)
            heat = gr.Image(label=t("heatmap_toggle", lang), height=340, elem_id="heatmap", **image)
        show_heat = gr.Checkbox(label=t("heatmap_toggle", lang), value=False, elem_id="show-heatmap")
        with gr.Accordion(t("details_label", lang), open=False) as details:
            summary = gr.JSON(show_label=False)
    return {
        "result": result, "disclaimer": disclaimer, "chart": chart, "height_chart": height_chart,
        "report_button": report_button,
        "share_button": share_button, "share_link": share_link, "send_link": send_link, "report": report,
        "outline": outline, "processed": processed, "heat": heat, "show_heat": show_heat, "details": details,
        "summary": summary,
    }  # fmt: skip


def _wire_page(demo: gr.Blocks, page: Page, handlers: Handlers, on_model: dict) -> None:
    private = {"api_visibility": "private"}
    # Years start blank, so a forgotten age is refused rather than read as 0. Gradio shows a
    # Number's None as 0 (gradio#6728) but empties it when an event sets None; in the browser,
    # so no API endpoint is added.
    demo.load(None, None, page.years, js="() => null", **private)
    # The browser's language first, then a shared link's result in it.
    demo.load(None, None, page.language, js=BROWSER_LANGUAGE).then(
        handlers.open_shared, page.language, [page.result, page.chart, page.height_chart], **private
    )
    page.language.change(
        page.by_component(handlers.relabel), [page.language, page.result], page.texts, **private
    )
    page.upload.upload(preview, page.upload, [page.uploaded, page.sex, page.years, page.months], **private)
    page.gallery.select(
        pick_example, None, [page.upload, page.uploaded, page.sex, page.years, page.months], **private
    )
    page.show_heat.change(
        handlers.show_heatmap,
        [page.show_heat, *page.form],
        [page.processed, page.heat],
        **private,
        **on_model,
    )
    page.button.click(
        handlers.estimate, [*page.form, page.show_heat], page.answer, **private, **on_model
    ).then(None, js=SCROLL_TO_RESULT)
    page.report_button.click(handlers.make_report, page.form, page.report, **private, **on_model)
    page.share_button.click(
        handlers.share_result, page.form, [page.share_link, page.send_link], **private, **on_model
    )
    page.send_link.click(None, page.share_link, None, js=SEND_LINK)


def _wire_api(upload: gr.File, endpoints: Endpoints, on_model: dict) -> None:
    """/predict, /report and /heatmap: the upload plus hidden free-text sex, age in months, language,
    then the optional heights and their unit (after the others, so older calls keep working)."""
    inputs = [
        upload,
        gr.Textbox(visible=False),
        gr.Number(visible=False),
        gr.Textbox(value="en", visible=False),
        *(gr.Textbox(value="", visible=False) for _ in range(3)),
        gr.Textbox(value="cm", visible=False),
    ]
    for name, handler, output in (
        ("predict", endpoints.predict, gr.JSON(label="result", visible=False)),
        ("report", endpoints.report, gr.File(label="report_pdf", visible=False)),
        ("heatmap", endpoints.heatmap, gr.File(label="heatmap_png", visible=False)),
    ):
        gr.Button(visible=False).click(handler, inputs, output, api_name=name, **on_model)
