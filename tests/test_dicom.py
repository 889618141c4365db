"""DICOM files written with pydicom: pixel depth, MONOCHROME1, and only sex/age read back."""

from __future__ import annotations

import numpy as np
import pytest

from boneage.errors import InvalidImageError
from boneage.io.decode import load_radiograph
from boneage.io.dicom import parse_dicom_age
from helpers import synthetic_hand, write_dicom


@pytest.fixture
def hand12() -> np.ndarray:
    return synthetic_hand(100).astype(np.uint16) * 16  # 12-bit range


def test_dicom_pixels_and_prefill(tmp_path, hand12):
    path = write_dicom(
        tmp_path / "x.dcm",
        hand12,
        PatientSex="F",
        PatientAge="009Y",
        PatientName="Doe^Jane",
        PatientID="12345",
    )
    radiograph = load_radiograph(path)
    assert radiograph.source_format == "DICOM" and radiograph.bit_depth == 12
    assert radiograph.shape == hand12.shape
    assert np.corrcoef(radiograph.pixels.ravel(), hand12.ravel())[0, 1] > 0.999
    assert radiograph.metadata == {"sex": "female", "age_months": 108.0}


def test_monochrome1_is_inverted(tmp_path, hand12):
    path = write_dicom(tmp_path / "x.dcm", hand12.max() - hand12, photometric="MONOCHROME1")
    radiograph = load_radiograph(path)
    assert np.corrcoef(radiograph.pixels.ravel(), hand12.ravel())[0, 1] > 0.999


def test_age_from_birth_and_study_dates(tmp_path, hand12):
    path = write_dicom(
        tmp_path / "x.dcm", hand12, PatientBirthDate="20150301", StudyDate="20250901", PatientSex="M"
    )
    assert load_radiograph(path).metadata == {"sex": "male", "age_months": 126.0}


@pytest.mark.parametrize(
    "value, months", [("012Y", 144.0), ("006M", 6.0), ("052W", 12.0), ("bad", None), ("", None)]
)
def test_dicom_age_strings(value, months):
    result = parse_dicom_age(value)
    assert result == months if months is None else result == pytest.approx(months, abs=0.1)


def test_truncated_dicom_is_invalid(tmp_path, hand12):
    data = write_dicom(tmp_path / "x.dcm", hand12).read_bytes()
    with pytest.raises(InvalidImageError):
        load_radiograph(data[: len(data) // 3])


def test_rgb_secondary_capture_of_a_radiograph_is_gray(tmp_path, hand12):
    """Film digitised as RGB: equal channels pass the colour gate and decode to the same image."""
    from pydicom import dcmread

    path = write_dicom(tmp_path / "x.dcm", hand12)
    ds = dcmread(path)
    gray8 = (hand12 // 16).astype(np.uint8)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = np.repeat(gray8[..., None], 3, axis=2).tobytes()
    ds.save_as(path)
    radiograph = load_radiograph(path)
    np.testing.assert_allclose(radiograph.pixels, gray8 / 255.0, atol=2e-3)
