"""Serving speed: the network's forward pass in ONNX Runtime.

On 2 CPU cores ONNX Runtime runs the folded EfficientNet-Lite0 at 448 px (two views) in about
30 ms, against about 52 in eager PyTorch (one thread: 60 against 106; benchmarks/README.md).
The bone ages are the same to 1e-4 months.

The graph is exported from the verified weights (``torch.onnx.export``, the torch.export based
exporter) rather than shipped, so the safetensors file stays the one source of the weights.
Export takes about 6 s of mostly Python, holding the GIL: in the server's own process it made a
request that arrived meanwhile 9 times slower (1.7 s instead of 0.19). So a network loaded from
verified weights is exported by a child process (``python -m boneage.cli.export_onnx``, at a
lower CPU priority), while the app keeps answering with PyTorch (see
:class:`boneage.predictor.BackgroundPredictor`). A network built in memory is exported in
process. PyTorch also keeps the heatmap: Grad-CAM needs gradients.

Every graph is checked against the served PyTorch model before it is used; one that disagrees by
more than ``ONNX_TOLERANCE_MONTHS`` is refused.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from boneage.weights import ResolvedWeights

ONNX_TOLERANCE_MONTHS = 1e-3
REQUIRED_PACKAGES = ("onnxruntime", "onnx", "onnxscript")  # run, and export (torch.onnx needs both)
EXPORTER_LOGGERS = ("torch.onnx", "onnxscript", "onnx_ir")  # a hundred INFO lines per export


class OnnxExportError(RuntimeError):
    """The model could not be exported, or its graph disagrees with PyTorch: keep PyTorch."""


def onnx_runtime_available() -> bool:
    """Whether the packages to export and run a graph are installed (they are in requirements.txt)."""
    return all(importlib.util.find_spec(name) is not None for name in REQUIRED_PACKAGES)


def _require_packages() -> None:
    if not onnx_runtime_available():
        raise OnnxExportError(f"needs the packages {', '.join(REQUIRED_PACKAGES)}")


class OnnxRegressor:
    """A bone-age network as an ONNX Runtime session, called like the model: ``(images, male) -> months``.

    ``InferenceSession.run`` is thread-safe, so one instance serves every request thread.
    """

    def __init__(self, session, export_s: float):
        self.session = session
        self.export_s = export_s

    @property
    def name(self) -> str:
        import onnxruntime

        return f"onnxruntime {onnxruntime.__version__}"

    def __call__(self, images: torch.Tensor, male: torch.Tensor) -> torch.Tensor:
        feeds = {
            "images": images.detach().float().contiguous().numpy(),
            "male": male.detach().float().contiguous().numpy(),
        }
        (months,) = self.session.run(None, feeds)
        return torch.from_numpy(np.asarray(months, dtype=np.float32))


def export_graph(model: nn.Module, input_size: int) -> bytes:
    """``model`` (a bone-age regressor) as a serialised ONNX graph whose batch size stays free."""
    _require_packages()
    model = copy.deepcopy(model).eval()  # tracing never touches a copy that serves meanwhile
    images, male = _probe(input_size)
    batch = torch.export.Dim("batch", min=1, max=1024)
    for name in EXPORTER_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on its own internals
            program = torch.onnx.export(
                model,
                (images, male),
                input_names=["images", "male"],
                output_names=["months"],
                dynamic_shapes=({0: batch}, {0: batch}),
                dynamo=True,
                verbose=False,
            )
        return program.model_proto.SerializeToString()
    except Exception as exc:  # an operator without an ONNX form, for one
        raise OnnxExportError(f"export failed: {exc}") from exc


def export_graph_in_child(weights: ResolvedWeights, timeout_s: float = 600.0) -> bytes:
    """The graph of the network in ``weights``, exported by a child process (no GIL shared).

    The manifest goes to the child on stdin and the graph comes back on stdout: weights from the
    Hub lie in the Hub's cache, away from ``weights/manifest.json``, and no file is left behind if
    the app stops midway. The child verifies the weights' sha256 again before loading them.
    """
    command = [
        *(sys.executable, "-m", "boneage.cli.export_onnx", "-", "-"),
        *("--weights", str(weights.path.resolve())),
    ]
    # The child imports this package from where the parent did, whatever its working folder.
    package_root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
    }
    manifest = json.dumps(weights.manifest.to_dict()).encode()
    try:
        done = subprocess.run(command, input=manifest, capture_output=True, timeout=timeout_s, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OnnxExportError(f"the export process failed: {exc}") from exc
    if done.returncode != 0 or not done.stdout:
        reason = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise OnnxExportError(f"the export process failed: {reason}")
    return done.stdout


def export_regressor(
    model: nn.Module, input_size: int, threads: int = 0, weights: ResolvedWeights | None = None
) -> OnnxRegressor:
    """``model`` (a bone-age regressor in eval mode, as served) as an :class:`OnnxRegressor`.

    With ``weights`` (what ``model`` was loaded from) a child process exports the graph; without
    them, this process does. ``threads`` is ONNX Runtime's intra-op thread count
    (0: PyTorch's current count, so a server's ``BONEAGE_TORCH_THREADS`` applies to both).
    Raises :class:`OnnxExportError` when a package is missing, the export fails or the graph
    disagrees with ``model``, on a batch of two and on one image.
    """
    _require_packages()
    import onnxruntime

    started = time.perf_counter()
    graph = export_graph_in_child(weights) if weights is not None else export_graph(model, input_size)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads sleep
    try:
        session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own classes for a graph it cannot run
        raise OnnxExportError(f"ONNX Runtime cannot run the graph: {exc}") from exc
    regressor = OnnxRegressor(session, time.perf_counter() - started)
    images, male = _probe(input_size)
    with torch.inference_mode():
        expected, single = model(images, male), model(images[:1], male[:1])
    difference = max(
        (regressor(images, male) - expected).abs().max().item(),
        (regressor(images[:1], male[:1]) - single).abs().max().item(),
    )
    if difference > ONNX_TOLERANCE_MONTHS:
        raise OnnxExportError(f"the exported graph differs from PyTorch by {difference:.3g} months")
    return regressor


def _probe(input_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed random batch of two, one girl and one boy: the export's example and the check's input."""
    images = torch.rand(2, 1, input_size, input_size, generator=torch.Generator().manual_seed(0))
    return images, torch.tensor([0.0, 1.0])
