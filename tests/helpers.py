"""Generated test data: hand-like radiographs and datasets in the RSNA Kaggle layout.

The synthetic hand is a palm with five fingers of bright "bones" on a dark background, plus an
unconnected "L" marker the segmenter must ignore. Bone length and the number of carpal bones grow
with age, so a model can learn a little from it; nothing here is a real radiograph.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np


def synthetic_hand(
    age_months: float = 120.0, size: tuple[int, int] = (400, 320), seed: int = 0
) -> np.ndarray:
    """A uint8 (H, W) bright-on-dark hand-like image."""
    rng = np.random.default_rng(seed)
    height, width = size
    image = np.full(size, 18, np.float32) + rng.normal(0, 4, size).astype(np.float32)
    palm_center = (width // 2, int(height * 0.68))
    palm_axes = (int(width * 0.26), int(height * 0.2))
    cv2.ellipse(image, palm_center, palm_axes, 0, 0, 360, 105, -1)
    cv2.rectangle(image, (int(width * 0.36), int(height * 0.8)), (int(width * 0.64), height - 1), 105, -1)
    growth = 0.6 + 0.4 * min(age_months, 216) / 216
    for index, angle in enumerate((-35, -12, 0, 12, 25)):
        base = (int(width * (0.3 + 0.1 * index)), int(height * 0.55))
        length = int(height * 0.33 * growth * (0.7 if index == 0 else 1.0))
        tip = (
            int(base[0] + length * np.sin(np.radians(angle))),
            int(base[1] - length * np.cos(np.radians(angle))),
        )
        cv2.line(image, base, tip, 105, int(width * 0.07))
        for step in range(3):
            a = step / 3 + 0.04
            b = (step + 1) / 3 - 0.04
            start = (int(base[0] + (tip[0] - base[0]) * a), int(base[1] + (tip[1] - base[1]) * a))
            end = (int(base[0] + (tip[0] - base[0]) * b), int(base[1] + (tip[1] - base[1]) * b))
            cv2.line(image, start, end, 200, int(width * 0.03))
    carpals = 1 + int(min(age_months, 180) / 25)
    for index in range(carpals):
        center = (int(width * (0.4 + 0.05 * (index % 4))), int(height * (0.74 + 0.04 * (index // 4))))
        cv2.circle(image, center, int(width * 0.02 * growth), 190, -1)
    image = np.clip(image, 0, 255).astype(np.uint8)
    cv2.putText(image, "L", (int(width * 0.05), int(height * 0.12)), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 230, 3)
    return image


def write_kaggle_dataset(
    root: Path, count: int = 24, size: tuple[int, int] = (400, 320), seed: int = 0
) -> Path:
    """``boneage-training-dataset.csv`` + ``boneage-training-dataset/<id>.png``, like Kaggle's."""
    rng = np.random.default_rng(seed)
    image_dir = root / "boneage-training-dataset"
    image_dir.mkdir(parents=True, exist_ok=True)
    with open(root / "boneage-training-dataset.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "boneage", "male"])
        for index in range(count):
            age = float(rng.integers(6, 216))
            male = bool(index % 2)
            sample_id = str(1000 + index)
            cv2.imwrite(str(image_dir / f"{sample_id}.png"), synthetic_hand(age, size, seed=index))
            writer.writerow([sample_id, age, male])
    return root


def write_dicom(path: Path, pixels: np.ndarray, photometric: str = "MONOCHROME2", **tags) -> Path:
    """A 12-bit single-frame DICOM Part 10 file, as a CR export would be."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def assert_friendly(message: str) -> None:
    """A message a parent can read: a sentence, short, with no code, paths or exception names."""
    assert message and message[0].isupper() and message.rstrip().endswith((".", ")")), message
    assert len(message) < 300, message
    for leak in ("Traceback", "Error(", "Exception", "errno", "/tmp", "site-packages", "0x", "None"):
        assert leak not in message, f"{leak!r} in {message!r}"
