"""The RSNA Pediatric Bone Age training set from Kaggle, for users with a Kaggle account.

``kagglehub`` (not a runtime requirement: ``pip install kagglehub``) downloads and caches the
dataset with the user's own credentials (``~/.kaggle/kaggle.json`` or ``KAGGLE_USERNAME`` /
``KAGGLE_KEY``); the RSNA terms of use apply to it, and it is never shipped with this project.
"""

from __future__ import annotations

from pathlib import Path

from boneage.errors import DatasetError
from boneage.training.data import find_dataset

RSNA_KAGGLE_HANDLE = "kmader/rsna-bone-age"


def download_rsna(handle: str = RSNA_KAGGLE_HANDLE) -> Path:
    """Download (or reuse kagglehub's cache of) the dataset; returns the Kaggle-layout folder."""
    try:
        import kagglehub
    except ImportError as exc:
        raise DatasetError(
            "--download needs kagglehub: pip install kagglehub (and a Kaggle account)."
        ) from exc
    try:
        root = Path(kagglehub.dataset_download(handle))
    except Exception as exc:  # kagglehub raises many kinds: no credentials, network, terms not accepted
        raise DatasetError(f"Kaggle download of {handle} failed: {exc}") from exc
    for candidate in (root, *sorted(p for p in root.rglob("*") if p.is_dir())):
        try:
            find_dataset(candidate)
        except DatasetError:
            continue
        return candidate
    raise DatasetError(f"The download of {handle} in {root} is not in the Kaggle layout.")
