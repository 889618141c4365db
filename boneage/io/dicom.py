"""DICOM decoding with pydicom.

Only pixel data and the two fields the app can prefill (sex and age) leave this module: other
tags, identifying ones above all, are never copied into :class:`Radiograph.metadata`.
"""

from __future__ import annotations

import io
import re
from datetime import date

import numpy as np

from boneage.errors import InvalidImageError
from boneage.io.pixels import Radiograph, check_pixel_count, colour_to_gray, rescale_to_unit

GRAYSCALE = {"MONOCHROME1", "MONOCHROME2"}
# Secondary captures of film are sometimes RGB; they go through the same colour-photo gate.
COLOUR = {"RGB", "YBR_FULL", "YBR_FULL_422"}


def decode_dicom(data: bytes, *, max_pixels: int) -> Radiograph:
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        dataset = pydicom.dcmread(io.BytesIO(data), force=False)
        rows, columns = int(dataset.Rows), int(dataset.Columns)
    except Exception as exc:  # pydicom raises many kinds of errors on bad input
        raise InvalidImageError("dicom_unreadable") from exc
    check_pixel_count(columns, rows, max_pixels=max_pixels)
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric not in GRAYSCALE | COLOUR:
        raise InvalidImageError("dicom_photometric", kind=photometric.title())
    try:
        array = dataset.pixel_array
    except Exception as exc:
        raise InvalidImageError("dicom_no_pixels") from exc
    if photometric in COLOUR:
        return Radiograph(
            pixels=_colour_frame(array, dataset),
            source_format="DICOM",
            bit_depth=8,
            metadata=patient_fields(dataset),
        )
    if array.ndim == 3:
        array = array[0]  # multi-frame: first frame
    if array.ndim != 2:
        raise InvalidImageError("dicom_not_2d")
    array = apply_modality_lut(array, dataset)
    array = apply_voi_lut(array, dataset, index=0)
    pixels = rescale_to_unit(np.asarray(array, dtype=np.float32))
    if photometric == "MONOCHROME1":
        pixels = 1.0 - pixels  # MONOCHROME1: low values are white
    bits = int(dataset.get("BitsStored", dataset.get("BitsAllocated", 16)))
    return Radiograph(pixels=pixels, source_format="DICOM", bit_depth=bits, metadata=patient_fields(dataset))


def _colour_frame(array: np.ndarray, dataset) -> np.ndarray:
    # pydicom's pixel_array already converts YBR to RGB.
    if array.ndim == 4:
        array = array[0]  # multi-frame: first frame
    if array.ndim != 3 or array.shape[-1] != 3:
        raise InvalidImageError("dicom_not_2d")
    return colour_to_gray(array, top=float(2 ** int(dataset.get("BitsStored", 8)) - 1))


def patient_fields(dataset) -> dict:
    """Sex and age in months, when the header says them; nothing else."""
    fields: dict = {}
    sex = str(dataset.get("PatientSex", "")).strip().upper()
    if sex in ("M", "F"):
        fields["sex"] = "male" if sex == "M" else "female"
    age = parse_dicom_age(str(dataset.get("PatientAge", "")))
    if age is None:
        age = _age_from_dates(
            str(dataset.get("PatientBirthDate", "")),
            str(dataset.get("StudyDate", "") or dataset.get("AcquisitionDate", "")),
        )
    if age is not None:
        fields["age_months"] = age
    return fields


def parse_dicom_age(value: str) -> float | None:
    """DICOM AS value ('012Y', '006M', '030W', '100D') to months."""
    match = re.fullmatch(r"\s*(\d{1,3})\s*([DWMY])\s*", value.upper())
    if not match:
        return None
    number, unit = int(match.group(1)), match.group(2)
    per_unit = {"D": 12 / 365.25, "W": 12 * 7 / 365.25, "M": 1.0, "Y": 12.0}[unit]
    return round(number * per_unit, 1)


def _age_from_dates(birth: str, study: str) -> float | None:
    try:
        born = date(int(birth[:4]), int(birth[4:6]), int(birth[6:8]))
        seen = date(int(study[:4]), int(study[4:6]), int(study[6:8]))
    except (ValueError, IndexError):
        return None
    months = (seen.year - born.year) * 12 + (seen.month - born.month) + (seen.day - born.day) / 30.44
    return round(months, 1) if months >= 0 else None
