"""Degraded copies of training films: noise, JPEG and shrinking, as small uploads are degraded.

Small uploads (a thumbnail, a forwarded image, a screenshot of a viewer) reach the chain noisy,
compressed or shrunk, and the chain's stretch, CLAHE and sharpening turn that into speckle and
tiles the networks read as bone (docs/model.md, "Small, noisy and compressed uploads"). A network
that learnt from such copies, next to the clean films, can learn to ignore them. Each copy is
made from the decoded film, before the chain, at the film's own size (299 px for
``rsna-train-299``), over the ranges the quality curves measure (``boneage.cli.quality``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

KINDS = ("noise", "jpeg", "shrink")
# The ranges drawn from, as measured by the quality curves: noise sigma in grey levels (of
# 255), JPEG quality, the shrunk film's side in pixels.
RANGES = {"noise": (2.0, 12.0), "jpeg": (20, 90), "shrink": (100, 200)}


@dataclass(frozen=True)
class Degradation:
    """One degradation: its kind and level ("noise:6", "jpeg:40", "shrink:150")."""

    kind: str
    level: float

    def __str__(self) -> str:
        return f"{self.kind}:{self.level:g}"

    @classmethod
    def parse(cls, text: str) -> Degradation:
        kind, _, level = text.partition(":")
        if kind not in KINDS:
            raise ValueError(f"unknown degradation {text!r}: one of {', '.join(KINDS)}")
        return cls(kind, float(level))


def draw(rng: np.random.Generator) -> Degradation:
    """A degradation of a random kind and level within :data:`RANGES`."""
    kind = str(rng.choice(KINDS))
    low, high = RANGES[kind]
    level = round(float(rng.uniform(low, high)), 1) if kind == "noise" else int(rng.integers(low, high + 1))
    return Degradation(kind, level)


def noisy(film: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """An 8-bit film with Gaussian noise of ``sigma`` grey levels, drawn from ``seed``."""
    grain = np.random.default_rng(seed).normal(0, sigma, film.shape)
    return np.clip(film + grain, 0, 255).astype(np.uint8)


def jpeg_file(film: np.ndarray, quality: int) -> bytes:
    """An 8-bit film saved as a JPEG file of ``quality`` (the app reads the quality back)."""
    buffer = io.BytesIO()
    Image.fromarray(film).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def shrunk(film: np.ndarray, side: int) -> np.ndarray:
    """An 8-bit film shrunk to ``side`` x ``side`` pixels (bilinear), as a thumbnail."""
    return np.asarray(Image.fromarray(film).resize((side, side), Image.BILINEAR))


def apply(pixels: np.ndarray, degradation: Degradation, seed: int = 0) -> np.ndarray:
    """``pixels`` (float32 grey in [0, 1]) degraded as ``boneage.cli.quality`` degrades the
    films it measures; the noise is drawn from ``seed``."""
    film = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    if degradation.kind == "noise":
        film = noisy(film, degradation.level, seed)
    elif degradation.kind == "jpeg":
        film = np.asarray(Image.open(io.BytesIO(jpeg_file(film, int(degradation.level)))))
    else:
        film = shrunk(film, int(degradation.level))
    return film.astype(np.float32) / 255


def degraded_copies(samples: list, seed: int) -> list:
    """One degraded copy of each sample (a :class:`boneage.training.data.Sample` with its
    ``degradation`` set and ``~`` and the degradation added to its id), the same for a seed."""
    rng = np.random.default_rng([seed, 11])
    copies = []
    for sample in samples:
        degradation = str(draw(rng))
        copies.append(replace(sample, id=f"{sample.id}~{degradation}", degradation=degradation))
    return copies
