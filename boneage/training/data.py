"""Datasets in the RSNA Kaggle layout, a reproducible split, and a preprocessed-image cache.

Layout: a CSV with ``id, boneage, male`` (``boneage-training-dataset.csv``, or ``labels.csv``
for the atlas set) and a folder of ``<id>.png`` images. Preprocessing runs once per image and
configuration and is cached as one uint8 array, because it costs more than a CPU training step.
"""

from __future__ import annotations

import csv
import hashlib
import json
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm.auto import tqdm

from boneage.chain.preprocess import Chain, PreprocessConfig, preprocess
from boneage.chain.views import affine
from boneage.errors import BoneAgeError, DatasetError
from boneage.io.decode import load_radiograph
from boneage.model.inputs import to_model_input
from boneage.training import degrade

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
    # A degraded copy's degradation ("noise:6": boneage.training.degrade); None for the film.
    degradation: str | None = None


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


def parse_bool(value: str) -> bool:
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
                samples.append(Sample(key, available[key], float(row["boneage"]), parse_bool(row["male"])))
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


def split_from_record(samples: list[Sample], split: dict) -> tuple[list[Sample], list[Sample]]:
    """The split a run recorded (its ``split.json``), applied to the samples the chain accepts now.

    A drawn split depends on which films the chain refuses (:func:`split_samples` divides the
    accepted ones), so a changed gate redraws it. A recorded one does not: films it placed keep
    their part, films it never placed (refused then, accepted now) are left out of both, and films
    refused now simply drop out. Raises DatasetError when it places none of them in training
    (a record of another data set).
    """
    train_ids, val_ids = {str(i) for i in split["train"]}, {str(i) for i in split["val"]}
    train = [s for s in samples if s.id in train_ids]
    val = [s for s in samples if s.id in val_ids]
    if not train:
        raise DatasetError("The split file places none of these images in training: is it this data set's?")
    return train, val


def _preprocess_one(chain: Chain, item: tuple[str, str | None]) -> np.ndarray | str:
    path, degradation = item
    try:
        pixels = load_radiograph(path).pixels
        if degradation is not None:
            pixels = degrade.apply(
                pixels, degrade.Degradation.parse(degradation), seed=zlib.crc32(path.encode())
            )
        result = preprocess(pixels, chain)
    except BoneAgeError as exc:
        return str(exc)
    return np.round(result.image * 255).astype(np.uint8)


_worker_chain: Chain | None = None  # a pool process's own chain, built by start_chain_worker


def start_chain_worker(config: dict) -> None:
    """A pool's initializer: this process builds its chain once, on one thread."""
    global _worker_chain
    one_thread_per_process()
    _worker_chain = Chain.load(PreprocessConfig.from_dict(config))


def worker_chain() -> Chain:
    """The chain :func:`start_chain_worker` built in this pool process."""
    assert _worker_chain is not None, "the pool's initializer builds the chain"
    return _worker_chain


def _preprocess_in_worker(item: tuple[str, str | None]) -> np.ndarray | str:
    return _preprocess_one(worker_chain(), item)


def cache_key(samples: list[Sample], config: PreprocessConfig) -> str:
    names = [str(s.path) if s.degradation is None else f"{s.path}#{s.degradation}" for s in samples]
    payload = json.dumps([config.to_dict(), names], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Cache:
    """Preprocessed images (uint8 N x S x S), which succeeded, and why the others were refused."""

    images: np.ndarray
    ok: np.ndarray
    refused: dict[str, str]  # sample id -> the chain's message


def build_cache(samples: list[Sample], config: PreprocessConfig, cache_dir: Path, workers: int = 2) -> Cache:
    """Preprocess every sample once (reused across runs with the same images and settings)."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = cache_key(samples, config)
    images_path, ok_path = cache_dir / f"{key}.images.npy", cache_dir / f"{key}.ok.npy"
    refused_path = cache_dir / f"{key}.refused.json"
    if images_path.is_file() and ok_path.is_file() and refused_path.is_file():
        refused = json.loads(refused_path.read_text())
        return Cache(np.load(images_path, mmap_mode="r"), np.load(ok_path), refused)
    images = np.lib.format.open_memmap(
        cache_dir / f"{key}.partial.npy",
        mode="w+",
        dtype=np.uint8,
        shape=(len(samples), config.size, config.size),
    )
    ok = np.zeros(len(samples), dtype=bool)
    refused: dict[str, str] = {}
    paths = [(str(s.path), s.degradation) for s in samples]
    progress = tqdm(total=len(paths), desc="preprocess", unit="img")
    if workers > 1:
        pool = ProcessPoolExecutor(
            max_workers=workers, initializer=start_chain_worker, initargs=(config.to_dict(),)
        )
        with pool:
            for index, result in enumerate(pool.map(_preprocess_in_worker, paths, chunksize=8)):
                _store(images, ok, refused, samples[index].id, index, result)
                progress.update()
    else:
        chain = Chain.load(config)
        for index, path in enumerate(paths):
            _store(images, ok, refused, samples[index].id, index, _preprocess_one(chain, path))
            progress.update()
    progress.close()
    images.flush()
    del images
    (cache_dir / f"{key}.partial.npy").rename(images_path)
    np.save(ok_path, ok)
    refused_path.write_text(json.dumps(refused, indent=1) + "\n")
    if refused:
        tqdm.write(f"{len(refused)} image(s) refused by the chain; listed in {refused_path}")
    return Cache(np.load(images_path, mmap_mode="r"), ok, refused)


def one_thread_per_process() -> None:
    """Each preprocessing process runs the U-Net on one thread: the processes share the cores."""
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def _store(images, ok, refused: dict, sample_id: str, index: int, result: np.ndarray | str) -> None:
    if isinstance(result, str):
        refused[sample_id] = result
        return
    images[index] = result
    ok[index] = True


class CachedImages(torch.utils.data.Dataset):
    """Cached preprocessed images with labels; geometric/intensity augmentation if asked.

    The augmentation of an image depends only on (seed, epoch, index), not on worker processes
    or on how many epochs ran before: a resumed run sees exactly the images a straight one does.
    """

    def __init__(
        self,
        images: np.ndarray,
        samples: list[Sample],
        indices: list[int],
        augment: bool,
        seed: int = 0,
        strength: str = "moderate",
    ):
        self.images, self.samples, self.indices, self.augment = images, samples, indices, augment
        self.seed, self.strength = seed, strength
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int):
        index = self.indices[item]
        image = self.images[index].astype(np.float32) / 255.0
        if self.augment:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            image = augment(image, rng, self.strength)
        sample = self.samples[index]
        return (
            to_model_input(image)[0],
            torch.tensor(float(sample.male)),
            torch.tensor(sample.boneage, dtype=torch.float32),
        )


# Ranges of the random affine per strength: rotation (degrees), zoom, log width/height stretch, shift.
AUGMENTATIONS = {
    "moderate": {"angle": 10.0, "scale": (0.85, 1.05), "stretch": 0.1, "shift": 0.05},
    "strong": {"angle": 15.0, "scale": (0.8, 1.1), "stretch": 0.15, "shift": 0.08},
    # Tried for the wrist check (an upload tilted 45° reaches it tilted): it then kept the 45°
    # plates but refused clean upright ones (docs/segmentation.md); not shipped.
    "tilted": {"angle": 45.0, "scale": (0.85, 1.05), "stretch": 0.1, "shift": 0.05},
}


def augment(image: np.ndarray, rng: np.random.Generator, strength: str = "moderate") -> np.ndarray:
    """Rotation, zoom, stretch, shift and gamma: the variation between real acquisitions.

    The chain crops to the hand, which removes most framing differences; zoom, stretch and
    shift cover what is left (a looser or tighter hand box, a differently squashed upload).
    "moderate" is shipped; why, and how far that choice is measured: docs/model.md.
    """
    ranges = AUGMENTATIONS[strength]
    image = affine(
        image,
        angle=rng.uniform(-ranges["angle"], ranges["angle"]),
        scale=rng.uniform(*ranges["scale"]),
        stretch=float(np.exp(rng.uniform(-ranges["stretch"], ranges["stretch"]))),
        shift=tuple(rng.uniform(-ranges["shift"], ranges["shift"], size=2)),
    )
    gamma = float(np.exp(rng.uniform(-0.2, 0.2)))
    return np.power(np.clip(image, 0.0, 1.0), gamma).astype(np.float32)
