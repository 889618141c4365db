"""Bone Age: a Gradio app that estimates skeletal age from a left-hand radiograph.

Thin wiring only: decoding, preprocessing, the model, the wording, the chart and the report live
in ``boneage/``. Run with ``python app.py``; set BONEAGE_WEIGHTS to a folder with manifest.json to
use other weights, and GRADIO_SERVER_NAME / GRADIO_SERVER_PORT to choose where it listens.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import gradio as gr
import torch

from boneage import __version__
from boneage.errors import BoneAgeError, InvalidInputError, ModelNotInstalledError, WeightsIntegrityError
from boneage.io.decode import MAX_FILE_BYTES, load_radiograph
from boneage.io.inputs import age_from_years_months, parse_age_months, parse_sex
from boneage.meaning.chart import chart_data, growth_chart_rgb
from boneage.meaning.i18n import (
    CJK_FONT_FILE,
    LANGUAGE_NAMES,
    format_duration,
    normalise_language,
    t,
    translate_error,
)
from boneage.predictor import BackgroundPredictor, Predictor, analyse
from boneage.report.card import (
    chart_image,
    heatmap_view,
    model_view,
    no_model_markdown,
    overlay_hand,
    preview_image,
    refusal_markdown,
    result_markdown,
    save_heatmap_png,
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
    share_secret,
    share_url,
)
from boneage.web.runtime import limit_malloc_arenas
from boneage.weights import resolve_weights

log = logging.getLogger("boneage.app")
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"  # atlas plates, Apache-2.0: see its README
# Serving settings, chosen from benchmarks/bench_load.py on 2 CPU cores (see benchmarks/README.md);
# the environment overrides them so the benchmark can sweep them.
# Two model workers of one torch thread each: 7.2 answers/s with 8 callers and 8.0 with 16, against
# 6.9 and 6.7 with two threads each; a lone caller gets 0.28 s either way (results/load.json).
CONCURRENCY = int(os.environ.get("BONEAGE_CONCURRENCY", "2"))
# A burst waits in the queue instead of being turned away: at about 7 answers/s the 64th waits ~9 s.
QUEUE_SIZE = int(os.environ.get("BONEAGE_QUEUE_SIZE", "64"))
TORCH_THREADS = int(os.environ.get("BONEAGE_TORCH_THREADS", "1"))  # 0: torch's default (all cores)
# Files made for one response (report, heatmap, images) are deleted from Gradio's cache after
# this many seconds: nothing about a child stays on the server.
KEEP_FILES_S = 600
LANGUAGE_CHOICES = [(name, code) for code, name in LANGUAGE_NAMES.items()]
EXAMPLES = {"F04": ("female", 1, 3), "M13": ("male", 4, 5), "F19": ("female", 9, 0), "M22": ("male", 11, 10)}
# Chinese glyphs for browsers without a CJK font: the same OFL subset the PDF uses, as a webfont.
gr.set_static_paths([str(CJK_FONT_FILE.parent)])
CSS = f"""
@font-face {{ font-family: "Bone Age TC"; src: url("/gradio_api/file={CJK_FONT_FILE}") format("truetype"); }}
.gradio-container, .gradio-container * {{ font-family: var(--font), "Bone Age TC", sans-serif; }}
#result {{ min-height: 4em; }}
#examples .caption-label {{ white-space: normal; }}
@media (max-width: 640px) {{ #result h2 {{ font-size: 1.35em; }} }}
"""
SCROLL_TO_RESULT = (
    "() => document.getElementById('result')?.scrollIntoView({behavior: 'smooth', block: 'start'})"
)
# Web Share API on phones (the system's share sheet), the clipboard elsewhere.
SEND_LINK = (
    "(url) => { if (!url) return; if (navigator.share) { navigator.share({url}).catch(() => {}); }"
    " else if (navigator.clipboard) { navigator.clipboard.writeText(url); } }"
)
SHARE_SECRET = share_secret()
BROWSER_LANGUAGE = "() => (navigator.language || 'en').toLowerCase().startsWith('zh') ? 'zh-TW' : 'en'"


def start_model() -> tuple[BackgroundPredictor | None, str]:
    """Resolve and verify the weights now; build the model in the background.

    On failure the app still runs and says why (the status key of boneage.meaning.i18n). The page is
    served while timm imports.
    """
    if TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)
    try:
        resolved = resolve_weights()
    except ModelNotInstalledError as exc:
        log.warning("No model: %s", exc)
        return None, "model_status_none"
    except WeightsIntegrityError as exc:
        log.error("Model refused: %s", exc)
        return None, "model_status_broken"
    return BackgroundPredictor(resolved), "model_status"


MODEL, MODEL_STATUS = start_model()


def model_status(lang: str) -> str:
    if MODEL is None:
        return f"<small>{t(MODEL_STATUS, lang)}</small>"
    info = MODEL.info
    mae = f"{info.validation_mae_months:.1f}" if info.validation_mae_months else "?"
    text = t("model_status", lang, name=info.name, version=info.version, source=info.source, mae=mae)
    return f"<small>{text}</small>"


def predictor() -> Predictor | None:
    """The loaded model (waiting for it during the first seconds), or None when none is installed."""
    if MODEL is None:
        return None
    try:
        return MODEL.get()
    except Exception:
        log.exception("The model could not be built")
        raise ModelUnavailable() from None


class ModelUnavailable(BoneAgeError):
    title = "No model"


class NoImage(InvalidInputError):
    title = "No image"


def _message(error: Exception, lang: str) -> tuple[str, str]:
    """(title, message) for the person at the form, in their language."""
    if isinstance(error, NoImage):
        return t("title_NoImage", lang), t("error_no_image", lang)
    if isinstance(error, ModelUnavailable):
        return t("title_ModelNotInstalledError", lang), t("error_model_broken", lang)
    if isinstance(error, BoneAgeError):
        return translate_error(error, lang)
    return t("title_BoneAgeError", lang), t("error_unexpected", lang)  # a server fault, not the image


def refuse(error: Exception, lang: str = "en") -> gr.Error:
    """A user-facing API error: shown to the caller, not logged as a server fault."""
    title, message = _message(error, lang)
    log.info("Refused: %s", title)
    return gr.Error(message, title=title, print_exception=False)


def _analyse(file_path, sex, age_months, lang: str, heatmap: bool = False):
    if not file_path:
        raise NoImage()
    model = predictor()
    try:
        return analyse(
            file_path, sex, age_months, predictor=model, lang=lang, heatmap=heatmap and model is not None
        )
    except BoneAgeError:
        raise
    except Exception as exc:
        log.exception("Unexpected failure on an upload")
        raise RuntimeError("unexpected") from exc


def _shown(value) -> dict:
    """A result panel: shown with its value, hidden while there is none (a tidy page on a phone)."""
    return gr.update(value=value, visible=value is not None)


def estimate(file_path, sex, years, months, lang, with_heatmap=False):
    """UI handler: the bone age first; the heatmap only while its switch is on, the PDF on request.

    A refused upload is one clear message in the result card; no error badges. Outputs: the
    card, the outline, the model's view, the heatmap, the chart, the report button, the report
    file (emptied: it belonged to the last result), the share button, the link and its send
    button (emptied likewise), the JSON.
    """
    lang = normalise_language(lang)
    try:
        age = age_from_years_months(years, months)
        result = _analyse(file_path, sex, age, lang, heatmap=bool(with_heatmap))
    except Exception as exc:
        title, message = _message(exc, lang)
        log.info("Refused in the UI: %s", title)
        hidden = _shown(None)
        return (
            refusal_markdown(title, message, lang),
            hidden,
            hidden,
            gr.update(value=None),
            hidden,
            gr.update(visible=False),
            hidden,
            gr.update(visible=False),
            hidden,
            gr.update(visible=False),
            {"error": message},
        )
    has_bone_age = result.bone_age_months is not None
    card = result_markdown(result, lang) if has_bone_age else no_model_markdown(lang)
    return (
        card,
        _shown(overlay_hand(result)),
        _shown(model_view(result)),
        gr.update(value=heatmap_view(result)),  # shown by the heatmap switch
        _shown(chart_image(result, lang) if has_bone_age else None),
        gr.update(visible=has_bone_age),
        _shown(None),
        gr.update(visible=has_bone_age),
        gr.update(value="", visible=False),  # a link belongs to the result it was made for
        gr.update(visible=False),
        result.to_dict(),
    )


def show_heatmap(on, file_path, sex, years, months, lang):
    """The heatmap switch: Grad-CAM is made when it is turned on, not for every answer."""
    if not on:
        return gr.update(visible=True), gr.update(visible=False)
    try:
        result = _analyse(file_path, sex, age_from_years_months(years, months), lang, heatmap=True)
    except Exception:  # no result yet (or a refused one): the card already says why
        return gr.update(visible=False), gr.update(value=None, visible=True)
    return gr.update(visible=False), gr.update(value=heatmap_view(result), visible=True)


def make_report(file_path, sex, years, months, lang):
    """The report button: the one-page PDF, made only when someone asks for it."""
    lang = normalise_language(lang)
    try:
        result = _analyse(file_path, sex, age_from_years_months(years, months), lang, heatmap=True)
    except Exception as exc:
        raise refuse(exc, lang) from None
    if result.bone_age_months is None:
        return _shown(None)
    return _shown(str(save_report_pdf(result, lang)))


def share_result(file_path, sex, years, months, lang, request: gr.Request):
    """The share button: a signed link holding the result's numbers only (boneage.report.share).

    The result is computed again here, on the server: a link is signed only for a bone age the
    model gave, never for numbers sent by the browser.
    """
    lang = normalise_language(lang)
    try:
        result = _analyse(file_path, sex, age_from_years_months(years, months), lang)
    except Exception as exc:
        raise refuse(exc, lang) from None
    if result.bone_age_months is None:
        return gr.update(visible=False), gr.update(visible=False)
    token = encode(SharedResult.from_analysis(result, lang), SHARE_SECRET)
    url = share_url(public_base_url(dict(request.headers) if request else {}), token)
    return gr.update(value=url, visible=True), gr.update(visible=True)


def open_shared(lang, request: gr.Request):
    """On page load: a shared link's card and chart, recomputed from its numbers (no image)."""
    token = request.query_params.get(QUERY_KEY) if request else None
    if not token:
        return gr.update(), gr.update()
    lang = normalise_language(lang)
    try:
        shared = decode(token, SHARE_SECRET)
    except InvalidShareLinkError as exc:
        title, message = _message(exc, lang)
        log.info("Shared link refused: %s", title)
        return refusal_markdown(title, message, lang), _shown(None)
    data = chart_data(
        shared.sex, shared.chronological_age_months, shared.bone_age_months, shared.interval_months
    )
    serving = MODEL.info if MODEL else None
    return shared_markdown(shared, lang, serving), _shown(growth_chart_rgb(data, lang))


def _api_analysis(image, sex, age_months, lang: str, heatmap: bool = False):
    """Every input is checked first, so a caller learns what is wrong with its request even on a
    server without a model; only then does a missing model answer "No model"."""
    try:
        age = parse_age_months(age_months)
        parse_sex(sex)
        result = _analyse(image, sex, age, lang, heatmap=heatmap)
    except Exception as exc:
        raise refuse(exc, lang) from None
    if result.bone_age_months is None:
        raise gr.Error(
            t("error_no_model", lang), title=t("title_ModelNotInstalledError", lang), print_exception=False
        )
    return result


def predict(image, sex, age_months, lang="en"):
    """API /predict: the result (JSON) for an image file, the sex ('female'/'male') and the age in
    months. See the README for its schema; /report and /heatmap make the files on request."""
    lang = normalise_language(lang)
    return _api_analysis(image, sex, age_months, lang).to_dict()


def report_api(image, sex, age_months, lang="en"):
    """API /report: the one-page PDF report for the same inputs as /predict."""
    lang = normalise_language(lang)
    return str(save_report_pdf(_api_analysis(image, sex, age_months, lang, heatmap=True), lang))


def heatmap_api(image, sex, age_months, lang="en"):
    """API /heatmap: where the model looked (PNG) for the same inputs as /predict."""
    lang = normalise_language(lang)
    return str(save_heatmap_png(_api_analysis(image, sex, age_months, lang, heatmap=True)))


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


def example_items(lang: str) -> list[tuple[str, str]]:
    """(thumbnail path, caption) for the atlas examples that ship in examples/."""
    items = []
    for name, (sex, years, months) in EXAMPLES.items():
        path = EXAMPLES_DIR / f"{name}.png"
        if path.is_file():
            age = format_duration(12 * years + months, lang)
            items.append((str(path), t("example_caption", lang, sex=t(sex, lang), age=age)))
    return items


def pick_example(evt: gr.SelectData):
    name = list(EXAMPLES)[evt.index]
    sex, years, months = EXAMPLES[name]
    path = str(EXAMPLES_DIR / f"{name}.png")
    return path, preview(path)[0], sex, years, months


def relabel(lang, card=None):
    """Every visible text in ``lang`` (the language switch and the browser's language).

    The result card is relabelled only while it still shows the placeholder: a result stays.
    """
    lang = normalise_language(lang)
    placeholders = {t("result_placeholder", code) for code in LANGUAGE_NAMES} | {
        t("no_model", code) for code in LANGUAGE_NAMES
    }
    waiting = not card or card in placeholders
    placeholder = t("result_placeholder", lang) if MODEL else no_model_markdown(lang)
    return (
        placeholder if waiting else gr.update(),
        f"# {t('app_title', lang)}\n{t('app_intro', lang)}",
        model_status(lang),
        gr.update(label=t("upload_label", lang)),
        gr.update(
            label=t("sex_label", lang), choices=[(t("female", lang), "female"), (t("male", lang), "male")]
        ),
        gr.update(label=t("age_years", lang)),
        gr.update(label=t("age_months", lang)),
        gr.update(value=t("estimate_button", lang)),
        gr.update(label=t("your_upload", lang)),
        gr.update(label=t("examples_label", lang), value=example_items(lang)),
        gr.update(label=t("outline_label", lang)),
        gr.update(label=t("model_view_label", lang)),
        gr.update(label=t("report_label", lang)),
        gr.update(value=t("report_button", lang)),
        gr.update(value=t("share_button", lang)),
        gr.update(label=t("share_link_label", lang)),
        gr.update(value=t("send_link", lang)),
        gr.update(label=t("heatmap_toggle", lang)),
        gr.update(label=t("chart_label", lang)),
        gr.update(label=t("details_label", lang)),
        t("disclaimer", lang) + f"\n\n<small>Bone Age {__version__}</small>",
        gr.update(label=t("language", lang)),
    )


def build_demo() -> gr.Blocks:
    lang = "en"
    with gr.Blocks(
        title="Bone Age — skeletal age from a hand X-ray", delete_cache=(KEEP_FILES_S // 2, KEEP_FILES_S)
    ) as demo:
        with gr.Row(equal_height=False):
            title = gr.Markdown(f"# {t('app_title', lang)}\n{t('app_intro', lang)}")
            language = gr.Radio(
                LANGUAGE_CHOICES,
                value=lang,
                label=t("language", lang),
                elem_id="language",
                scale=0,
                min_width=200,
            )
        status = gr.Markdown(model_status(lang), elem_id="model-status")
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                # No file_types: content is sniffed, and PACS exports often have no extension.
                upload = gr.File(label=t("upload_label", lang), type="filepath", elem_id="upload")
                sex = gr.Radio(
                    [(t("female", lang), "female"), (t("male", lang), "male")],
                    label=t("sex_label", lang),
                    elem_id="sex",
                )
                with gr.Row():
                    years = gr.Number(
                        label=t("age_years", lang),
                        minimum=0,
                        maximum=20,
                        precision=0,
                        elem_id="age-years",
                        min_width=100,
                    )
                    months = gr.Number(
                        label=t("age_months", lang),
                        value=0,
                        minimum=0,
                        maximum=11,
                        precision=0,
                        elem_id="age-months",
                        min_width=100,
                    )
                button = gr.Button(t("estimate_button", lang), variant="primary", elem_id="estimate")
                uploaded = gr.Image(label=t("your_upload", lang), interactive=False, height=240)
                gallery = gr.Gallery(
                    example_items(lang), label=t("examples_label", lang), columns=2, height="auto",
                    allow_preview=False, object_fit="contain", interactive=False, elem_id="examples",
                )  # fmt: skip
            with gr.Column(scale=2, min_width=300):
                result = gr.Markdown(
                    t("result_placeholder", lang) if MODEL else no_model_markdown(lang), elem_id="result"
                )
                disclaimer = gr.Markdown(
                    t("disclaimer", lang) + f"\n\n<small>Bone Age {__version__}</small>", elem_id="disclaimer"
                )
                chart = gr.Image(
                    label=t("chart_label", lang),
                    interactive=False,
                    elem_id="chart",
                    height=380,
                    visible=False,
                )
                report_button = gr.Button(
                    t("report_button", lang), size="sm", elem_id="make-report", visible=False
                )
                share_button = gr.Button(t("share_button", lang), size="sm", elem_id="share", visible=False)
                share_link = gr.Textbox(
                    label=t("share_link_label", lang), interactive=False, buttons=["copy"],
                    elem_id="share-link", visible=False,
                )  # fmt: skip
                send_link = gr.Button(t("send_link", lang), size="sm", elem_id="send-link", visible=False)
                report = gr.File(
                    label=t("report_label", lang), interactive=False, elem_id="report", visible=False
                )
                with gr.Row():
                    outline = gr.Image(
                        label=t("outline_label", lang),
                        interactive=False,
                        height=340,
                        elem_id="outline",
                        visible=False,
                    )
                    processed = gr.Image(
                        label=t("model_view_label", lang),
                        interactive=False,
                        height=340,
                        elem_id="model-view",
                        visible=False,
                    )
                    heat = gr.Image(
                        label=t("heatmap_toggle", lang),
                        interactive=False,
                        height=340,
                        visible=False,
                        elem_id="heatmap",
                    )
                show_heat = gr.Checkbox(label=t("heatmap_toggle", lang), value=False, elem_id="show-heatmap")
                with gr.Accordion(t("details_label", lang), open=False) as details:
                    summary = gr.JSON(show_label=False)
        # API-only inputs and outputs: free-text sex, age in months, language; the result's files.
        sex_text = gr.Textbox(visible=False)
        age_months = gr.Number(visible=False)
        lang_text = gr.Textbox(value="en", visible=False)
        api_result = gr.JSON(visible=False)
        api_report = gr.File(visible=False)
        api_heatmap = gr.File(visible=False)
        api_buttons = [gr.Button(visible=False) for _ in range(3)]

        texts = [
            result,
            title,
            status,
            upload,
            sex,
            years,
            months,
            button,
            uploaded,
            gallery,
            outline,
            processed,
            report,
            report_button,
            share_button,
            share_link,
            send_link,
            show_heat,
            chart,
            details,
            disclaimer,
            language,
        ]
        # The browser's language first, then a shared link's result in it.
        demo.load(None, None, language, js=BROWSER_LANGUAGE).then(
            open_shared, language, [result, chart], api_visibility="private"
        )
        language.change(relabel, [language, result], texts, api_visibility="private")
        upload.upload(preview, upload, [uploaded, sex, years, months], api_visibility="private")
        gallery.select(pick_example, None, [upload, uploaded, sex, years, months], api_visibility="private")
        form = [upload, sex, years, months, language]
        # The UI and the API share one pool of model workers.
        on_model = {"concurrency_limit": CONCURRENCY, "concurrency_id": "model"}
        show_heat.change(
            show_heatmap, [show_heat, *form], [processed, heat], api_visibility="private", **on_model
        )
        button.click(
            estimate,
            [*form, show_heat],
            [
                result,
                outline,
                processed,
                heat,
                chart,
                report_button,
                report,
                share_button,
                share_link,
                send_link,
                summary,
            ],
            api_visibility="private",
            **on_model,
        ).then(None, js=SCROLL_TO_RESULT)
        report_button.click(make_report, form, report, api_visibility="private", **on_model)
        share_button.click(share_result, form, [share_link, send_link], api_visibility="private", **on_model)
        send_link.click(None, share_link, None, js=SEND_LINK)
        api_inputs = [upload, sex_text, age_months, lang_text]
        for api_button, handler, output, name in zip(
            api_buttons,
            (predict, report_api, heatmap_api),
            (api_result, api_report, api_heatmap),
            ("predict", "report", "heatmap"),
            strict=True,
        ):
            api_button.click(handler, api_inputs, output, api_name=name, **on_model)
    return demo


demo = build_demo()

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    limit_malloc_arenas(2)  # before the server's worker threads exist: memory stays flat under load
    demo.queue(max_size=QUEUE_SIZE).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        max_file_size=MAX_FILE_BYTES,
        show_error=True,
        css=CSS,
    )
