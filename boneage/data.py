"""Datasets in the RSNA Kaggle layout, a reproducible split, and a preprocessed-image cache.

Layout: a CSV with ``id, boneage, male`` (``boneage-training-dataset.csv``, or ``labels.csv``
for the atlas set) and a folder of ``<id>.png`` images. Preprocessing runs once per image and
configuration and is cached as one uint8 array, because it costs more than a CPU training step.
"""

from __future__ import annotations

import csv
import hashlib
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm.auto import tqdm

from boneage.errors import BoneAgeError, DatasetError
from boneage.io import load_radiograph
from boneage.preprocess import PreprocessConfig, preprocess, to_model_input

CSV_NAMES = ("boneage-training-dataset.csv", "labels.csv")
IMAGE_DIRS = (
    "boneage-training-dataset/boneage-training-dataset",  # as unzipped from Kaggle
    "boneage-training-dataset",
    "images",
)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm")


@dataclass(frozen=True)
class Sample:
    id: str
    path: Path
    boneage: float
    male: bool


def find_dataset(root: Path) -> tuple[Path, Path]:
    """The label CSV and the image folder of a Kaggle-layout dataset under ``root``."""
    root = Path(root)
    csv_path = next((root / n for n in CSV_NAMES if (root / n).is_file()), None)
    image_dir = next((root / d for d in IMAGE_DIRS if (root / d).is_dir()), None)
    if csv_path is None or image_dir is None:
        raise DatasetError(
            f"{root} is not in the Kaggle layout: expected one of {CSV_NAMES} and an image folder "
            f"({', '.join(IMAGE_DIRS)})."
        )
    return csv_path, image_dir


def _parse_bool(value: str) -> bool:
    return str(value).strip().lower() in ("true", "1", "m", "male", "yes")


def read_samples(root: Path) -> list[Sample]:
    """Rows of the label CSV whose image exists; raises DatasetError if none do."""
    csv_path, image_dir = find_dataset(root)
    available = {p.stem: p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    samples = []
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "boneage", "male"} - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{csv_path.name} lacks columns: {', '.join(sorted(missing))}")
        for row in reader:
            key = str(row["id"]).strip()
            if key in available:
                samples.append(Sample(key, available[key], float(row["boneage"]), _parse_bool(row["male"])))
    if not samples:
        raise DatasetError(f"No image of {csv_path.name} was found in {image_dir}.")
    return samples


def split_samples(samples: list[Sample], val_fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Split stratified by sex and age: every k-th sample of the (sex, age) order goes to validation.

    Systematic sampling over the sorted order gives both halves the same age range and sex mix,
    even for a few dozen images, and the same seed always gives the same split.
    """
    if len(samples) < 2 or val_fraction <= 0:
        return list(samples), []
    rng = np.random.default_rng(seed)
    tiebreak = rng.random(len(samples))
    order = sorted(range(len(samples)), key=lambda i: (samples[i].male, samples[i].boneage, tiebreak[i]))
    count = min(len(samples) - 1, max(1, round(len(samples) * val_fraction)))
    step = len(samples) / count
    offset = rng.uniform(0, step)
    val_indices = {order[int(offset + step * k)] for k in range(count)}
    train = [s for i, s in enumerate(samples) if i not in val_indices]
    val = [s for i, s in enumerate(samples) if i in val_indices]
    return train, val


def _preprocess_one(args: tuple[str, dict]) -> np.ndarray | str:
    path, config = args
    try:
        result = preprocess(load_radiograph(path).pixels, PreprocessConfig.from_dict(config))
    except BoneAgeError as exc:
        return f"{Path(path).name}: {exc}"
    return np.round(result.image * 255).astype(np.uint8)


def cache_key(samples: list[Sample], config: PreprocessConfig) -> str:
    payload = json.dumps([config.to_dict(), [str(s.path) for s in samples]], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def build_cache(
    samples: list[Sample], config: PreprocessConfig, cache_dir: Path, workers: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Preprocess every sample once; returns (uint8 images N x S x S, bool ok mask)."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = cache_key(samples, config)
    images_path, ok_path = cache_dir / f"{key}.images.npy", cache_dir / f"{key}.ok.npy"
    if images_path.is_file() and ok_path.is_file():
        return np.load(images_path, mmap_mode="r"), np.load(ok_path)
    images = np.lib.format.open_memmap(
        cache_dir / f"{key}.partial.npy",
        mode="w+",
        dtype=np.uint8,
        shape=(len(samples), config.size, config.size),
    )
    ok = np.zeros(len(samples), dtype=bool)
    failures = []
    jobs = [(str(s.path), config.to_dict()) for s in samples]
    progress = tqdm(total=len(jobs), desc="preprocess", unit="img")
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = pool.map(_preprocess_one, jobs, chunksize=8)
            for index, result in enumerate(results):
                failures += _store(images, ok, index, result)
                progress.update()
    else:
        for index, job in enumerate(jobs):
            failures += _store(images, ok, index, _preprocess_one(job))
            progress.update()
    progress.close()
    images.flush()
    del images
    (cache_dir / f"{key}.partial.npy").rename(images_path)
    np.save(ok_path, ok)
    if failures:
        (cache_dir / f"{key}.failures.txt").write_text("\n".join(failures) + "\n")
        tqdm.write(f"{len(failures)} image(s) failed preprocessing; see {key}.failures.txt")
    return np.load(images_path, mmap_mode="r"), ok


def _store(images: np.ndarray, ok: np.ndarray, index: int, result: np.ndarray | str) -> list[str]:
    if isinstance(result, str):
        return [result]
    images[index] = result
    ok[index] = True
    return []


class CachedImages(torch.utils.data.Dataset):
    """Cached preprocessed images with labels; light geometric/intensity augmentation if asked."""

    def __init__(
        self, images: np.ndarray, samples: list[Sample], indices: list[int], augment: bool, seed: int = 0
    ):
        self.images, self.samples, self.indices, self.augment = images, samples, indices, augment
        self.seed = seed

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int):
        index = self.indices[item]
        image = self.images[index].astype(np.float32) / 255.0
        if self.augment:
            rng = np.random.default_rng((self.seed, index, torch.randint(0, 2**31, ()).item()))
            image = augment(image, rng)
        sample = self.samples[index]
        return (
            to_model_input(image)[0],
            torch.tensor(float(sample.male)),
            torch.tensor(sample.boneage, dtype=torch.float32),
        )


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Small rotation, scale, shift and gamma: the variation between real acquisitions."""
    size = image.shape[0]
    angle = rng.uniform(-12, 12)
    scale = rng.uniform(0.9, 1.1)
    shift = rng.uniform(-0.05, 0.05, size=2) * size
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    matrix[:, 2] += shift
    image = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=0.0)
    gamma = float(np.exp(rng.uniform(-0.2, 0.2)))
    return np.power(np.clip(image, 0.0, 1.0), gamma).astype(np.float32)
