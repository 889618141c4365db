"""Serving settings and the page's fixed assets (styles, small scripts, the examples).

The numbers come from ``benchmarks/bench_load.py`` on 2 CPU cores (see benchmarks/README.md); the
environment overrides them so the benchmark can sweep them.
"""

from __future__ import annotations

import os
from pathlib import Path

from boneage.meaning.typeface import CJK_FONT_FILE
from boneage.words import LANGUAGE_NAMES

# Two model workers of one torch thread each: on the 2-core Space, more answers per second under
# load than one worker with two threads, and the same for a lone caller
# (benchmarks/results/load.json, ``python benchmarks/bench_load.py``).
CONCURRENCY = int(os.environ.get("BONEAGE_CONCURRENCY", "2"))
# A burst waits in the queue instead of being turned away (a few seconds for the last in line).
QUEUE_SIZE = int(os.environ.get("BONEAGE_QUEUE_SIZE", "64"))
TORCH_THREADS = int(os.environ.get("BONEAGE_TORCH_THREADS", "1"))  # 0: torch's default (all cores)
# The networks' forward passes in ONNX Runtime once exported (0: PyTorch only). Same answers,
# faster on the CPU (boneage/model/onnx_runtime.py).
ONNX_RUNTIME = os.environ.get("BONEAGE_ONNX_RUNTIME", "1") != "0"
# Files made for one response (report, heatmap, images) are deleted from Gradio's cache after
# this many seconds: nothing about a child stays on the server.
KEEP_FILES_S = 600

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"  # atlas plates, Apache-2.0: see its README
EXAMPLES = {"F04": ("female", 1, 3), "M13": ("male", 4, 5), "F19": ("female", 9, 0), "M22": ("male", 11, 10)}
LANGUAGE_CHOICES = [(name, code) for code, name in LANGUAGE_NAMES.items()]

# Chinese glyphs for browsers without a CJK font: the same OFL subset the PDF uses, as a webfont
# (its folder is served as a static path).
FONT_DIR = CJK_FONT_FILE.parent
CSS = f"""
@font-face {{ font-family: "Bone Age TC"; src: url("/gradio_api/file={CJK_FONT_FILE}") format("truetype"); }}
.gradio-container, .gradio-container * {{ font-family: var(--font), "Bone Age TC", sans-serif; }}
#result {{ min-height: 4em; scroll-margin-top: 8px; }}
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
BROWSER_LANGUAGE = "() => (navigator.language || 'en').toLowerCase().startsWith('zh') ? 'zh-TW' : 'en'"
