"""Shared bits of the benchmark scripts: percentiles, tables, machine facts, JSON output."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
ATLAS = ROOT.parent / "shared" / "data" / "atlas-pedrad"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in [0, 1]."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> dict:
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
    }


def print_table(rows: list[dict], columns: list[str]) -> None:
    print(" | ".join(columns))
    print(" | ".join("---" for _ in columns))
    for row in rows:
        print(" | ".join(_cell(row.get(c)) for c in columns))


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return "" if value is None else str(value)


def write_json(name: str, result: dict) -> Path:
    """Into benchmarks/results/, or wherever ``name`` points when it is an absolute path."""
    out = RESULTS / name  # an absolute name replaces RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return out


def radiograph_at_size(long_side: int, out: Path, atlas_id: str = "F19") -> Path:
    """An atlas plate resized so its long side is ``long_side`` px: RSNA exports are ~2000 px."""
    import cv2

    image = cv2.imread(str(ATLAS / "images" / f"{atlas_id}.png"), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise SystemExit(f"needs the atlas in {ATLAS} (or pass --image)")
    scale = long_side / max(image.shape)
    resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(out), resized)
    return out
