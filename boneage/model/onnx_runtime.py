"""Serving speed: the networks' forward passes in ONNX Runtime.

On the CPU, ONNX Runtime runs the folded networks faster than eager PyTorch, with the same bone
ages to 1e-4 months; the chain's own small networks (the hand U-Net, run twice per upload, and
the wrist check) gain as much. The measured times are in benchmarks/results/predict.json
(``python benchmarks/bench_predict.py``).

The graph is exported from the verified weights (``torch.onnx.export``, the torch.export based
exporter) rather than shipped, so the safetensors file stays the one source of the weights.
Export takes seconds of mostly Python, holding the GIL: in the server's own process it made a
request that arrived meanwhile many times slower. So a network loaded from
verified weights is exported by a child process (``python -m boneage.cli.export_onnx``, at a
lower CPU priority), while the app keeps answering with PyTorch (see
:class:`boneage.predictor.BackgroundPredictor`). A network built in memory is exported in
process. PyTorch also keeps the heatmap: Grad-CAM needs gradients.

Every graph is checked against the served PyTorch model before it is used; one that disagrees by
more than ``ONNX_TOLERANCE`` is refused.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from boneage.chain.network import ChainNetwork
from boneage.weights import ResolvedWeights

# In each network's own output units: months for the bone-age model, logits for the chain's networks.
ONNX_TOLERANCE = 1e-3
REQUIRED_PACKAGES = ("onnxruntime", "onnx", "onnxscript")  # run, and export (torch.onnx needs both)
EXPORTER_LOGGERS = ("torch.onnx", "onnxscript", "onnx_ir")  # a hundred INFO lines per export
PYTORCH_RUNTIME = f"pytorch {torch.__version__}"

log = logging.getLogger(__name__)


class OnnxExportError(RuntimeError):
    """The model could not be exported, or its graph disagrees with PyTorch: keep PyTorch."""


def onnx_runtime_available() -> bool:
    """Whether the packages to export and run a graph are installed (they are in requirements.txt)."""
    return all(importlib.util.find_spec(name) is not None for name in REQUIRED_PACKAGES)


def _require_packages() -> None:
    if not onnx_runtime_available():
        raise OnnxExportError(f"needs the packages {', '.join(REQUIRED_PACKAGES)}")


@dataclass(frozen=True)
class GraphSignature:
    """A network's graph: its inputs and outputs by name, and a probe batch of two to export and
    check it with (every input's first dimension is the batch, left free in the graph)."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    probe: tuple[torch.Tensor, ...]


def regressor_signature(input_size: int) -> GraphSignature:
    """A bone-age regressor: (images, male) -> months; the probe is one girl and one boy."""
    return GraphSignature(
        ("images", "male"), ("months",), (_probe_images(input_size), torch.tensor([0.0, 1.0]))
    )


def chain_signature(network: ChainNetwork) -> GraphSignature:
    """One of the chain's networks (the hand U-Net, the wrist check): a grey image batch at its
    ``size`` in, its ``graph_outputs`` out."""
    return GraphSignature(("images",), network.graph_outputs, (_probe_images(network.size),))


def _probe_images(input_size: int) -> torch.Tensor:
    """A fixed random batch of two: the export's example and the check's input."""
    return torch.rand(2, 1, input_size, input_size, generator=torch.Generator().manual_seed(0))


class OnnxNetwork:
    """A network as an ONNX Runtime session, called like the module: tensors in, its output (a
    tensor, or a tuple of them when the graph has several) out.

    ``InferenceSession.run`` is thread-safe, so one instance serves every request thread.
    """

    def __init__(self, session, signature: GraphSignature, export_s: float):
        self.session = session
        self.signature = signature
        self.export_s = export_s

    @property
    def name(self) -> str:
        import onnxruntime

        return f"onnxruntime {onnxruntime.__version__}"

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        feeds = {
            name: tensor.detach().float().contiguous().numpy()
            for name, tensor in zip(self.signature.inputs, inputs, strict=True)
        }
        outputs = tuple(
            torch.from_numpy(np.asarray(out, dtype=np.float32)) for out in self.session.run(None, feeds)
        )
        return outputs[0] if len(outputs) == 1 else outputs


def export_graph(model: nn.Module, signature: GraphSignature) -> bytes:
    """``model`` as a serialised ONNX graph of ``signature``, its batch size left free."""
    _require_packages()
    model = copy.deepcopy(model).eval()  # tracing never touches a copy that serves meanwhile
    batch = torch.export.Dim("batch", min=1, max=1024)
    for name in EXPORTER_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on its own internals
            program = torch.onnx.export(
                model,
                signature.probe,
                input_names=list(signature.inputs),
                output_names=list(signature.outputs),
                dynamic_shapes=tuple({0: batch} for _ in signature.inputs),
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


def export_network(
    model: nn.Module,
    signature: GraphSignature,
    threads: int = 0,
    weights: ResolvedWeights | None = None,
) -> OnnxNetwork:
    """``model`` (in eval mode, as served) as an :class:`OnnxNetwork` of ``signature``.

    With ``weights`` (what ``model`` was loaded from) a child process exports the graph; without
    them, this process does. ``threads`` is ONNX Runtime's intra-op thread count
    (0: PyTorch's current count, so a server's ``BONEAGE_TORCH_THREADS`` applies to both).
    Raises :class:`OnnxExportError` when a package is missing, the export fails or the graph
    disagrees with ``model`` by more than ``ONNX_TOLERANCE``, on the probe batch of two and on
    its first item alone.
    """
    _require_packages()
    import onnxruntime

    started = time.perf_counter()
    graph = export_graph_in_child(weights) if weights is not None else export_graph(model, signature)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads sleep
    try:
        session = onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own classes for a graph it cannot run
        raise OnnxExportError(f"ONNX Runtime cannot run the graph: {exc}") from exc
    network = OnnxNetwork(session, signature, time.perf_counter() - started)
    difference = max(
        _largest_difference(model, network, signature.probe),
        _largest_difference(model, network, tuple(tensor[:1] for tensor in signature.probe)),
    )
    if difference > ONNX_TOLERANCE:
        raise OnnxExportError(f"the exported graph differs from PyTorch by {difference:.3g}")
    return network


def export_regressor(
    model: nn.Module, input_size: int, threads: int = 0, weights: ResolvedWeights | None = None
) -> OnnxNetwork:
    """A bone-age regressor as an :class:`OnnxNetwork`: (images, male) -> months (see :func:`export_network`)."""
    return export_network(model, regressor_signature(input_size), threads, weights)


def _largest_difference(model: nn.Module, network: OnnxNetwork, inputs: tuple[torch.Tensor, ...]) -> float:
    with torch.inference_mode():
        expected = model(*inputs)
    got = network(*inputs)
    pairs = zip(expected, got, strict=True) if isinstance(expected, tuple) else [(expected, got)]
    return max((a.float() - b).abs().max().item() for a, b in pairs)


class ServedForward:
    """A network's forward pass as served: PyTorch until :meth:`use_onnx_runtime` switches it to an
    exported graph, and PyTorch again, from then on and logged, should ONNX Runtime ever fail.

    The switch is one assignment: calls in flight finish on the runtime they started with.
    """

    def __init__(self, pytorch: Callable, what: str):
        self.pytorch = pytorch
        self.what = what  # "the bone-age model": names it in the log
        self.current: Callable = pytorch
        self.runtime = PYTORCH_RUNTIME

    @property
    def on_onnx_runtime(self) -> bool:
        return self.current is not self.pytorch

    def __call__(self, *inputs: torch.Tensor):
        forward = self.current
        try:
            return forward(*inputs)
        except Exception:
            if forward is self.pytorch:
                raise
            log.exception("ONNX Runtime failed for %s: serving with PyTorch from now on.", self.what)
            self.current, self.runtime = self.pytorch, PYTORCH_RUNTIME
            return self.pytorch(*inputs)

    def use_onnx_runtime(
        self,
        model: nn.Module,
        signature: GraphSignature,
        threads: int = 0,
        weights: ResolvedWeights | None = None,
    ) -> bool:
        """Export ``model`` and answer with its graph from now on; False (PyTorch stays, the reason
        logged) when the packages are missing or the export or the check fails."""
        try:
            network = export_network(model, signature, threads, weights)
        except OnnxExportError as exc:
            log.warning("Serving %s with PyTorch: ONNX Runtime not used (%s).", self.what, exc)
            return False
        self.current, self.runtime = network, network.name
        log.info(
            "Serving %s with %s (exported and checked in %.1f s).", self.what, network.name, network.export_s
        )
        return True
