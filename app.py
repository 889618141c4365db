"""Bone Age: a Gradio app that estimates skeletal age from a left-hand radiograph.

Wiring only: the page, its handlers and the API live in ``boneage/web/``, everything else in
``boneage/`` (docs/architecture.md). Run with ``python app.py``; set BONEAGE_WEIGHTS to a folder
with manifest.json to use other weights, and GRADIO_SERVER_NAME / GRADIO_SERVER_PORT to choose
where it listens.
"""

from __future__ import annotations

import logging
import os

from boneage.io.decode import MAX_FILE_BYTES
from boneage.report.share import share_secret
from boneage.web.api import Endpoints
from boneage.web.handlers import Handlers
from boneage.web.layout import build_demo
from boneage.web.runtime import limit_malloc_arenas
from boneage.web.served import ServedModel
from boneage.web.settings import CONCURRENCY, CSS, ONNX_RUNTIME, QUEUE_SIZE, TORCH_THREADS

served = ServedModel.start(TORCH_THREADS, ONNX_RUNTIME)
demo = build_demo(Handlers(served, share_secret()), Endpoints(served), CONCURRENCY)

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
