"""DICOM files written with pydicom: pixel depth, MONOCHROME1, and only sex/age read back."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from boneage.dicom import parse_dicom_age
from boneage.errors import InvalidImageError
from boneage.io import load_radiograph
from helpers import synthetic_hand


def _dicom(tmp_path, pixels: np.ndarray, photometric="MONOCHROME2", **tags):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(tmp_path / "x.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    for key, value in tags.items():
        setattr(ds, key, value)
    path = tmp_path / "x.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def hand12() -> np.ndarray:
    return synthetic_hand(100).astype(np.uint16) * 16  # 12-bit range


def test_dicom_pixels_and_prefill(tmp_path, hand12):
    path = _dicom(
        tmp_path, hand12, PatientSex="F", PatientAge="009Y", PatientName="Doe^Jane", PatientID="12345"
    )
    radiograph = load_radiograph(path)
    assert radiograph.source_format == "DICOM" and radiograph.bit_depth == 12
    assert radiograph.shape == hand12.shape
    assert np.corrcoef(radiograph.pixels.ravel(), hand12.ravel())[0, 1] > 0.999
    assert radiograph.metadata == {"sex": "female", "age_months": 108.0}


def test_monochrome1_is_inverted(tmp_path, hand12):
    path = _dicom(tmp_path, hand12.max() - hand12, photometric="MONOCHROME1")
    radiograph = load_radiograph(path)
    assert np.corrcoef(radiograph.pixels.ravel(), hand12.ravel())[0, 1] > 0.999


def test_age_from_birth_and_study_dates(tmp_path, hand12):
    path = _dicom(tmp_path, hand12, PatientBirthDate="20150301", StudyDate="20250901", PatientSex="M")
    assert load_radiograph(path).metadata == {"sex": "male", "age_months": 126.0}


@pytest.mark.parametrize(
    "value, months", [("012Y", 144.0), ("006M", 6.0), ("052W", 12.0), ("bad", None), ("", None)]
)
def test_dicom_age_strings(value, months):
    result = parse_dicom_age(value)
    assert result == months if months is None else result == pytest.approx(months, abs=0.1)


def test_truncated_dicom_is_invalid(tmp_path, hand12):
    data = _dicom(tmp_path, hand12).read_bytes()
    with pytest.raises(InvalidImageError):
        load_radiograph(data[: len(data) // 3])
