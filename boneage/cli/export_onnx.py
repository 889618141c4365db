"""Write the served network of a weights folder as an ONNX graph.

    python -m boneage.cli.export_onnx weights/ model.onnx

The app runs this as a child process when it starts (boneage/model/onnx_runtime.py): the export
holds the GIL for seconds, and in the server's own process it would stall the requests answered
meanwhile. The child lowers its own CPU priority, so that on a busy machine requests come first.
The graph is the network as the app serves it (batch norms folded); the app checks it against its
own PyTorch copy before using it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("weights", type=Path, help="a folder with manifest.json and its weights")
    parser.add_argument("out", type=Path, help="where the .onnx graph goes")
    args = parser.parse_args(argv)
    if hasattr(os, "nice"):
        os.nice(10)
    import torch

    from boneage.model.onnx_runtime import export_graph
    from boneage.predictor import Predictor

    torch.set_num_threads(1)
    predictor = Predictor.load(explicit=args.weights)
    graph = export_graph(predictor.model, predictor.manifest.input_size)
    partial = args.out.with_suffix(".partial")
    partial.write_bytes(graph)
    partial.replace(args.out)  # the parent never reads half a file
    print(f"wrote {args.out} ({len(graph) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
