"""Bone Age: a Gradio app that estimates skeletal age from a left-hand radiograph.

Thin wiring only: decoding, preprocessing, the model and the wording live in ``boneage/``.
Run with ``python app.py``; set BONEAGE_WEIGHTS to a folder with manifest.json to use other
weights, and GRADIO_SERVER_NAME / GRADIO_SERVER_PORT to choose where it listens.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import gradio as gr
import torch

from boneage import __version__
from boneage.errors import BoneAgeError, ModelNotInstalledError, WeightsIntegrityError
from boneage.inputs import age_from_years_months, parse_age_months, parse_sex
from boneage.io import MAX_FILE_BYTES, load_radiograph
from boneage.predictor import BackgroundPredictor, Predictor, analyse
from boneage.report import (
    DISCLAIMER,
    model_view,
    no_model_markdown,
    overlay_hand,
    preview_image,
    result_markdown,
)
from boneage.runtime import limit_malloc_arenas
from boneage.weights import resolve_weights

log = logging.getLogger("boneage.app")
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"  # atlas plates, Apache-2.0: see its README
# Serving settings, chosen from benchmarks/bench_load.py on 2 CPU cores (see benchmarks/README.md);
# the environment overrides them so the benchmark can sweep them.
CONCURRENCY = int(os.environ.get("BONEAGE_CONCURRENCY", "2"))
QUEUE_SIZE = int(os.environ.get("BONEAGE_QUEUE_SIZE", "32"))
TORCH_THREADS = int(os.environ.get("BONEAGE_TORCH_THREADS", "0"))  # 0: torch's default (all cores)
UNEXPECTED = "Something went wrong while reading this image. Please try another file or export."


def start_model() -> tuple[BackgroundPredictor | None, str]:
    """Resolve and verify the weights now; build the model in the background.

    On failure the app still runs and says why. The page is served while timm imports.
    """
    if TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)
    try:
        resolved = resolve_weights()
    except ModelNotInstalledError as exc:
        log.warning("No model: %s", exc)
        return None, "No trained model is installed: the app shows the prepared image but no bone age."
    except WeightsIntegrityError as exc:
        log.error("Model refused: %s", exc)
        return None, "The installed model failed its integrity check and was not loaded."
    model = BackgroundPredictor(resolved)
    info = model.info
    mae = f", validation MAE {info.validation_mae_months:.1f} months" if info.validation_mae_months else ""
    return model, f"Model: {info.name} v{info.version} ({info.source} weights{mae})."


MODEL, MODEL_STATUS = start_model()


def predictor() -> Predictor | None:
    """The loaded model (waiting for it during the first seconds), or None when none is installed."""
    if MODEL is None:
        return None
    try:
        return MODEL.get()
    except Exception:
        log.exception("The model could not be built")
        raise refuse("The installed model could not be loaded. Please try again later.", "No model") from None


def refuse(message: str, title: str) -> gr.Error:
    """A user-facing error: shown in the UI and the API, not logged as a server fault."""
    log.info("Refused: %s", title)
    return gr.Error(message, title=title, print_exception=False)


def _run(file_path, sex, age_months):
    if not file_path:
        raise refuse("Please upload an X-ray of the left hand first.", "No image")
    model = predictor()  # outside the try: its own refusal must not become "unexpected"
    try:
        return analyse(file_path, sex, age_months, predictor=model)
    except BoneAgeError as exc:
        raise refuse(str(exc), exc.title) from None
    except Exception:
        log.exception("Unexpected failure on an upload")
        raise refuse(UNEXPECTED, "Cannot use this image") from None


def estimate(file_path, sex, years, months):
    """UI handler: images, the result card and the JSON summary."""
    try:
        age = age_from_years_months(years, months)
    except BoneAgeError as exc:
        raise refuse(str(exc), exc.title) from None
    result = _run(file_path, sex, age)
    markdown = result_markdown(result) if result.bone_age_months is not None else no_model_markdown()
    return overlay_hand(result), model_view(result), markdown, result.to_dict()


def predict(image, sex, age_months):
    """API: bone age for an image file, the sex ('female'/'male') and the age in months.

    Every input is checked first, so a caller learns what is wrong with its request even on a
    server without a model; only then does a missing model answer "No model".
    """
    try:
        age = parse_age_months(age_months)
        parse_sex(sex)
    except BoneAgeError as exc:
        raise refuse(str(exc), exc.title) from None
    result = _run(image, sex, age)
    if result.bone_age_months is None:
        raise refuse(
            "No trained bone-age model is installed on this server, so no estimate can be made.", "No model"
        )
    return result.to_dict()


def preview(file_path):
    """On upload: show the decoded image and prefill sex/age from a DICOM header."""
    if not file_path:
        return None, gr.update(), gr.update(), gr.update()
    try:
        radiograph = load_radiograph(Path(file_path))
    except BoneAgeError as exc:
        gr.Warning(str(exc))
        return None, gr.update(), gr.update(), gr.update()
    except Exception:
        log.exception("Unexpected failure on preview")
        gr.Warning(UNEXPECTED)
        return None, gr.update(), gr.update(), gr.update()
    meta = radiograph.metadata
    sex = {"male": "Male", "female": "Female"}.get(meta.get("sex"), gr.update())
    if "age_months" in meta:
        years, months = divmod(round(meta["age_months"]), 12)
    else:
        years, months = gr.update(), gr.update()
    return preview_image(radiograph.pixels), sex, years, months


def examples() -> list[list]:
    rows = {"F04": ("Female", 1, 3), "M13": ("Male", 4, 5), "F19": ("Female", 9, 0), "M22": ("Male", 11, 10)}
    return [
        [str(EXAMPLES_DIR / f"{k}.png"), *v] for k, v in rows.items() if (EXAMPLES_DIR / f"{k}.png").is_file()
    ]


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="Bone Age — skeletal age from a hand X-ray") as demo:
        gr.Markdown(
            "# Bone Age\nEstimate a child's skeletal (bone) age from an X-ray of the **left hand**. "
            "Upload the radiograph, give the child's sex and age, and see the bone age, the "
            "difference to the real age and what it means."
        )
        gr.Markdown(f"<small>{MODEL_STATUS}</small>", elem_id="model-status")
        with gr.Row():
            with gr.Column(scale=1):
                # No file_types: content is sniffed, and PACS exports often have no extension.
                upload = gr.File(
                    label="Hand X-ray (PNG, JPEG or DICOM)",
                    type="filepath",
                    elem_id="upload",
                )
                sex = gr.Radio(["Female", "Male"], label="Sex", elem_id="sex")
                with gr.Row():
                    years = gr.Number(
                        label="Age: years", minimum=0, maximum=20, precision=0, elem_id="age-years"
                    )
                    months = gr.Number(
                        label="and months", value=0, minimum=0, maximum=11, precision=0, elem_id="age-months"
                    )
                button = gr.Button("Estimate bone age", variant="primary", elem_id="estimate")
                uploaded = gr.Image(label="Your upload", interactive=False, height=320)
            with gr.Column(scale=2):
                result = gr.Markdown(
                    "Results will appear here." if MODEL else no_model_markdown(), elem_id="result"
                )
                with gr.Row():
                    outline = gr.Image(
                        label="Hand found (green) and crop (blue)", interactive=False, height=360
                    )
                    processed = gr.Image(
                        label="What the model looked at", interactive=False, height=360, elem_id="model-view"
                    )
                summary = gr.JSON(label="Details (JSON)", open=False)
        # API-only inputs: free-text sex and age in months, validated by boneage.inputs.
        sex_text = gr.Textbox(visible=False)
        age_months = gr.Number(visible=False)
        api_button = gr.Button(visible=False)

        upload.upload(preview, upload, [uploaded, sex, years, months], api_visibility="private")
        button.click(
            estimate,
            [upload, sex, years, months],
            [outline, processed, result, summary],
            api_visibility="private",
            concurrency_limit=CONCURRENCY,
            concurrency_id="model",  # the UI and the API share one pool of model workers
        )
        api_button.click(
            predict,
            [upload, sex_text, age_months],
            summary,
            api_name="predict",
            concurrency_limit=CONCURRENCY,
            concurrency_id="model",
        )
        if rows := examples():
            gr.Examples(rows, [upload, sex, years, months], label="Atlas standard radiographs to try")
        gr.Markdown(DISCLAIMER + f"\n\n<small>Bone Age {__version__}</small>")
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
    )
