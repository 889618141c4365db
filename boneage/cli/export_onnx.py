"""Write the served network of a weights folder as an ONNX graph.

    python -m boneage.cli.export_onnx weights/ model.onnx
    python -m boneage.cli.export_onnx weights/segmenter/ unet.onnx
    python -m boneage.cli.export_onnx - - --weights FILE < manifest.json > model.onnx

The app runs the second form as a child process when it starts (boneage/model/onnx_runtime.py):
the export holds the GIL for seconds, and in the server's own process it would stall the requests
answered meanwhile. The manifest comes on stdin and the graph goes to stdout, so nothing is left
on disk if the app stops midway; the child then ends too (on Linux), and it runs at a lower CPU
priority, so that on a busy machine requests come first. The graph is the network as the app
serves it (batch norms folded); the app checks it against its own PyTorch copy before using it.
The manifest's architecture says which network it is: the bone-age model, or one of the chain's
own (the hand U-Net, the wrist check).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported only once the arguments are read
    from torch import nn

    from boneage.model.onnx_runtime import GraphSignature
    from boneage.weights import ResolvedWeights

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def end_with_parent() -> bool:
    """On Linux, have the kernel end this process when the app that started it ends: an export
    that outlives a stopped or restarted server would only take its CPU. False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import signal

    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM) == 0
    except (OSError, AttributeError):
        return False


def served_network(resolved: ResolvedWeights) -> tuple[nn.Module, GraphSignature]:
    """The module the app serves from these verified weights, and its graph's signature."""
    from boneage.chain.unet import UNetSegmenter
    from boneage.chain.wrist import WristCheck
    from boneage.model.onnx_runtime import chain_signature, regressor_signature
    from boneage.predictor import Predictor

    chain = {network.architecture: network for network in (UNetSegmenter, WristCheck)}.get(
        resolved.manifest.architecture
    )
    if chain is not None:
        network = chain.from_resolved(resolved)
        return network.model, chain_signature(network)
    predictor = Predictor.from_resolved(resolved)
    return predictor.model, regressor_signature(predictor.manifest.input_size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifest", help="a folder with manifest.json, the manifest itself, or - for stdin")
    parser.add_argument("out", help="where the .onnx graph goes, or - for stdout")
    parser.add_argument("--weights", type=Path, help="the weights file (default: beside the manifest)")
    args = parser.parse_args(argv)
    end_with_parent()
    if hasattr(os, "nice"):
        os.nice(10)
    import torch

    from boneage.errors import BoneAgeError
    from boneage.model.onnx_runtime import export_graph
    from boneage.weights import Manifest, ResolvedWeights, resolve_weights, verify

    torch.set_num_threads(1)
    try:
        if args.manifest == "-":
            manifest = Manifest.from_dict(json.load(sys.stdin))
            if args.weights is None:
                raise SystemExit("error: a manifest on stdin needs --weights")
            verify(args.weights, manifest)
            resolved = ResolvedWeights(manifest, args.weights, "explicit")
        else:
            resolved = resolve_weights(args.manifest)
            if args.weights is not None:
                verify(args.weights, resolved.manifest)
                resolved = ResolvedWeights(resolved.manifest, args.weights, "explicit")
        model, signature = served_network(resolved)
    except BoneAgeError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    graph = export_graph(model, signature)
    if args.out == "-":
        sys.stdout.buffer.write(graph)
        sys.stdout.buffer.flush()
    else:
        out = Path(args.out)
        partial = out.with_suffix(".partial")
        partial.write_bytes(graph)
        partial.replace(out)  # a reader never sees half a file
        print(f"wrote {out} ({len(graph) / 1e6:.1f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
